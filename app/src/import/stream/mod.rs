//! Reading a stored or uploaded file as a stream of pieces (SPEC §3.2), so that memory stays
//! bounded whatever the file's size: [`Inspector`] recognises the encoding piece by piece
//! exactly as [`super::decode::inspect`] does for a whole file, [`TextReader`] turns the raw
//! bytes into UTF-8 text as they arrive, and [`RecordReader`] reads the header line and the
//! data rows from that text.
//!
//! Reading is linear whatever the input: a record that runs on for more than
//! [`MAX_SPAN_BYTES`] past its first line (a quote that is never closed) is reported on its
//! first line and reading resumes at the line after it.
//!
//! ```
//! use app::import::stream::{Inspector, RecordReader, TextReader};
//!
//! let file: &[u8] = b"Email;Name\nann@example.com;M\xfcller\n";
//! let encoding = Inspector::read_all(file)?;
//! let mut reader = RecordReader::new(TextReader::new(file, encoding), b';');
//! assert_eq!(reader.header()?, ["Email", "Name"]);
//! let row = reader.next().unwrap().unwrap();
//! assert_eq!(row.fields, ["ann@example.com", "Müller"]);
//! assert!(reader.next().is_none());
//! reader.finish()?;
//! # Ok::<(), app::import::stream::StreamError>(())
//! ```

mod records;
mod text;

pub use records::{MAX_COLUMNS, MAX_SPAN_BYTES, Next, RecordReader};
pub use text::{Inspector, TextReader};

use super::FileError;
use std::fmt;

/// What the reader's tests feed it.
#[cfg(test)]
mod test_source {
    use std::io::{self, Read};

    /// A source that hands out its bytes `size` at a time, as stored pieces come.
    pub struct Pieces<'a> {
        pub bytes: &'a [u8],
        pub size: usize,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.size.min(out.len()).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// A source whose every read is first interrupted (`ErrorKind::Interrupted`: to be
    /// tried again), that hands out its bytes `size` at a time, and then, if `fails`,
    /// fails as a database read that has lost its connection would.
    pub struct Unsteady<'a> {
        pieces: Pieces<'a>,
        fails: bool,
        interrupted: bool,
    }

    impl<'a> Unsteady<'a> {
        pub fn new(bytes: &'a [u8], size: usize, fails: bool) -> Self {
            Unsteady {
                pieces: Pieces { bytes, size },
                fails,
                interrupted: false,
            }
        }
    }

    impl Read for Unsteady<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.interrupted = !self.interrupted;
            if self.interrupted {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.fails && self.pieces.bytes.is_empty() {
                return Err(io::Error::other("database gone"));
            }
            self.pieces.read(out)
        }
    }
}

/// Why a stream could not be read to its end: the file itself is refused (its text is not
/// valid in the encoding it declares, or its header line cannot be read), or the source of
/// its bytes failed (a database read, say), which is no fault of the file.
#[derive(Debug)]
pub enum StreamError {
    File(FileError),
    Source(std::io::Error),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::File(e) => e.fmt(f),
            StreamError::Source(e) => write!(f, "The file could not be read: {e}"),
        }
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::File(e) => Some(e),
            StreamError::Source(e) => Some(e),
        }
    }
}

impl From<FileError> for StreamError {
    fn from(e: FileError) -> Self {
        StreamError::File(e)
    }
}

impl From<std::io::Error> for StreamError {
    /// A [`FileError`] that [`TextReader`] had to pass through `std::io::Read` comes back out
    /// as itself; anything else is a failure of the source.
    fn from(e: std::io::Error) -> Self {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<FileError>())
        {
            Some(file) => StreamError::File(file.clone()),
            None => StreamError::Source(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn a_stream_error_gives_its_cause() {
        let source = StreamError::Source(std::io::Error::other("database gone"));
        assert_eq!(source.source().unwrap().to_string(), "database gone");
        let file = StreamError::File(FileError::Empty);
        assert_eq!(
            file.source().unwrap().to_string(),
            FileError::Empty.to_string()
        );
    }
}
