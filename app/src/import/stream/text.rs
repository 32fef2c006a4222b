//! Recognising a file's encoding and turning its bytes into UTF-8 text, piece by piece, with
//! the same outcomes as `decode::inspect` and `decode::decode` have for the whole file.

use super::StreamError;
use crate::import::FileError;
use crate::import::decode::TextEncoding;
use std::io::{self, Read};

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const UTF16LE_BOM: &[u8] = &[0xFF, 0xFE];
const UTF16BE_BOM: &[u8] = &[0xFE, 0xFF];

/// How many bytes are read from the source, and decoded, at a time.
const PIECE: usize = 64 * 1024;

/// Where a Windows executable keeps the offset of its `PE\0\0` signature, and how many bytes
/// of the start of a file [`Inspector`] keeps to recognise binary formats.
const PE_POINTER: usize = 0x3C;
const HEAD: usize = 0x40;

/// Whether a sequence of pieces is valid UTF-8 as a whole: a character may be split between
/// two pieces.
#[derive(Clone, Debug)]
struct Utf8Check {
    /// The start of a character whose end is in the next piece.
    carry: [u8; 4],
    carry_len: usize,
    valid: bool,
}

impl Utf8Check {
    fn new() -> Self {
        Utf8Check {
            carry: [0; 4],
            carry_len: 0,
            valid: true,
        }
    }

    fn feed(&mut self, mut piece: &[u8]) {
        if !self.valid {
            return;
        }
        if self.carry_len > 0 {
            let take = (4 - self.carry_len).min(piece.len());
            let mut joined = self.carry;
            joined[self.carry_len..self.carry_len + take].copy_from_slice(&piece[..take]);
            let joined = &joined[..self.carry_len + take];
            match std::str::from_utf8(joined) {
                Ok(_) => piece = &piece[take..],
                // The carried character is complete; whatever follows it is checked below.
                Err(e) if e.valid_up_to() > 0 => piece = &piece[e.valid_up_to() - self.carry_len..],
                Err(e) if e.error_len().is_none() => {
                    // Still incomplete: this piece was shorter than the character's rest.
                    self.carry[..joined.len()].copy_from_slice(joined);
                    self.carry_len = joined.len();
                    return;
                }
                Err(_) => {
                    self.valid = false;
                    return;
                }
            }
            self.carry_len = 0;
        }
        match std::str::from_utf8(piece) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                let rest = &piece[e.valid_up_to()..];
                self.carry[..rest.len()].copy_from_slice(rest);
                self.carry_len = rest.len();
            }
            Err(_) => self.valid = false,
        }
    }

    /// Whether everything fed was valid UTF-8, ending on a whole character.
    fn is_valid(&self) -> bool {
        self.valid && self.carry_len == 0
    }
}

/// Recognises the encoding of a file fed to it piece by piece, refusing empty and binary
/// files: the verdict is the one `decode::inspect` gives for the whole file, for any way of
/// cutting it into pieces, and only a few bytes are kept whatever the file's size.
///
/// ```
/// use app::import::FileError;
/// use app::import::decode::TextEncoding;
/// use app::import::stream::Inspector;
/// let mut inspector = Inspector::new();
/// for piece in [&b"Name\nM"[..], b"\xfcller\n"] {
///     inspector.feed(piece);
/// }
/// assert_eq!(inspector.verdict(), Ok(TextEncoding::Windows1252));
/// assert_eq!(Inspector::new().verdict(), Err(FileError::Empty));
/// ```
#[derive(Clone, Debug)]
pub struct Inspector {
    /// Bytes fed so far.
    len: u64,
    /// The first [`HEAD`] bytes: byte-order marks and binary signatures.
    head: [u8; HEAD],
    /// Where a file starting with `MZ` says its `PE\0\0` signature is, once known, and the
    /// bytes found there so far (a bit per byte in `pe_seen`).
    pe_offset: Option<u64>,
    pe: [u8; 4],
    pe_seen: u8,
    nul: bool,
    /// Whether every byte from the fourth on is ASCII whitespace (the first three are in
    /// `head`, so that a UTF-8 BOM can be left out of the check).
    blank_after_bom: bool,
    utf8: Utf8Check,
}

impl Default for Inspector {
    fn default() -> Self {
        Self::new()
    }
}

impl Inspector {
    /// An inspector that has seen nothing yet.
    pub fn new() -> Self {
        Inspector {
            len: 0,
            head: [0; HEAD],
            pe_offset: None,
            pe: [0; 4],
            pe_seen: 0,
            nul: false,
            blank_after_bom: true,
            utf8: Utf8Check::new(),
        }
    }

    /// Takes the next piece of the file.
    pub fn feed(&mut self, piece: &[u8]) {
        let start = self.len;
        self.len += piece.len() as u64;
        if start < HEAD as u64 {
            let at = start as usize;
            let n = piece.len().min(HEAD - at);
            self.head[at..at + n].copy_from_slice(&piece[..n]);
            if self.len >= HEAD as u64 && self.head.starts_with(b"MZ") {
                let pointer = &self.head[PE_POINTER..PE_POINTER + 4];
                let offset = u32::from_le_bytes([pointer[0], pointer[1], pointer[2], pointer[3]]);
                self.pe_offset = Some(u64::from(offset));
                let head = self.head;
                self.note_pe(0, &head);
            }
        }
        if self.pe_offset.is_some() {
            self.note_pe(start, piece);
        }
        self.nul = self.nul || piece.contains(&0);
        if self.blank_after_bom {
            let skip = 3u64.saturating_sub(start).min(piece.len() as u64) as usize;
            self.blank_after_bom = piece[skip..].iter().all(u8::is_ascii_whitespace);
        }
        self.utf8.feed(piece);
    }

    /// Keeps the bytes of `piece` (which starts at byte `start` of the file) that fall where
    /// the `PE\0\0` signature should be.
    fn note_pe(&mut self, start: u64, piece: &[u8]) {
        let Some(offset) = self.pe_offset else {
            return;
        };
        for i in 0..4u64 {
            let at = offset + i;
            if at >= start && at - start < piece.len() as u64 {
                self.pe[i as usize] = piece[(at - start) as usize];
                self.pe_seen |= 1 << i;
            }
        }
    }

    fn head(&self) -> &[u8] {
        &self.head[..self.len.min(HEAD as u64) as usize]
    }

    /// What a file that is not text looks like, as `decode::binary_kind` says.
    fn binary_kind(&self) -> Option<&'static str> {
        if let Some(kind) = crate::import::decode::signature_kind(self.head()) {
            return Some(kind);
        }
        // `MZ` followed, where the DOS header points, by the `PE\0\0` signature; a text
        // file that merely starts with "MZ" is not mistaken for a program.
        if self.pe_offset.is_some() && self.pe_seen == 0b1111 && &self.pe == b"PE\0\0" {
            return Some("a Windows executable");
        }
        self.nul.then_some("binary data (it contains NUL bytes)")
    }

    /// The encoding of everything fed so far, taken as the whole file, or why it is refused:
    /// the outcome `decode::inspect` gives for the same bytes.
    pub fn verdict(&self) -> Result<TextEncoding, FileError> {
        let head = self.head();
        if self.len == 0 {
            return Err(FileError::Empty);
        }
        if head.starts_with(UTF16LE_BOM) {
            return if self.len == 2 {
                Err(FileError::Empty)
            } else {
                Ok(TextEncoding::Utf16Le)
            };
        }
        if head.starts_with(UTF16BE_BOM) {
            return if self.len == 2 {
                Err(FileError::Empty)
            } else {
                Ok(TextEncoding::Utf16Be)
            };
        }
        if let Some(kind) = self.binary_kind() {
            return Err(FileError::Binary(kind));
        }
        if head.starts_with(UTF8_BOM) {
            if self.blank_after_bom {
                return Err(FileError::Empty);
            }
            // The BOM is itself a whole UTF-8 character, so checking the whole stream
            // checks the rest.
            return if self.utf8.is_valid() {
                Ok(TextEncoding::Utf8Bom)
            } else {
                Err(FileError::Malformed { encoding: "UTF-8" })
            };
        }
        if self.blank_after_bom && head.iter().take(3).all(u8::is_ascii_whitespace) {
            return Err(FileError::Empty);
        }
        Ok(if self.utf8.is_valid() {
            TextEncoding::Utf8
        } else {
            TextEncoding::Windows1252
        })
    }

    /// Reads `source` to its end and gives the verdict, holding one piece at a time.
    ///
    /// ```
    /// use app::import::decode::TextEncoding;
    /// use app::import::stream::Inspector;
    /// let file: &[u8] = b"\xEF\xBB\xBFEmail\na@b.c\n";
    /// assert_eq!(Inspector::read_all(file).unwrap(), TextEncoding::Utf8Bom);
    /// ```
    pub fn read_all<R: Read>(mut source: R) -> Result<TextEncoding, StreamError> {
        let mut inspector = Inspector::new();
        let mut piece = vec![0u8; PIECE];
        loop {
            match source.read(&mut piece) {
                Ok(0) => break,
                Ok(n) => inspector.feed(&piece[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(inspector.verdict()?)
    }
}

/// The UTF-8 text of a file read from `source` in the encoding [`Inspector`] (or
/// `decode::inspect`) found, without its byte-order mark, produced as the bytes arrive.
///
/// Like `decode::decode`, the first 3 bytes (UTF-8 with BOM) or 2 bytes (UTF-16) are taken
/// to be the byte-order mark and left out without being looked at. Text that is not valid
/// in a BOM-declared encoding (or in UTF-8) is the same [`FileError::Malformed`] as
/// `decode::decode` gives, but it can only be known where it is met: the text before it is
/// produced first, and the read that meets it fails with an `io::Error` of kind
/// `InvalidData` wrapping the `FileError` (which `StreamError::from` takes out again). A
/// character split between two reads of the source is put together. Windows-1252 text is
/// never malformed.
///
/// ```
/// use std::io::Read;
/// use app::import::decode::TextEncoding;
/// use app::import::stream::TextReader;
/// let mut text = String::new();
/// TextReader::new(&b"Name\nM\xfcller\n"[..], TextEncoding::Windows1252)
///     .read_to_string(&mut text)
///     .unwrap();
/// assert_eq!(text, "Name\nMüller\n");
/// ```
pub struct TextReader<R> {
    source: R,
    /// The name `FileError::Malformed` gives.
    label: &'static str,
    decoder: encoding_rs::Decoder,
    raw: Box<[u8]>,
    raw_start: usize,
    raw_end: usize,
    raw_done: bool,
    /// Bytes of the byte-order mark still to leave out.
    skip: usize,
    /// Bytes taken from `source`.
    raw_total: u64,
    text: Box<[u8]>,
    text_start: usize,
    text_end: usize,
    /// The decoder has flushed its last character.
    finished: bool,
    /// An error met after some text that has not been handed out yet.
    pending: Option<FileError>,
}

impl<R: Read> TextReader<R> {
    /// Text read from `source`, which holds a file's raw bytes in `encoding`.
    pub fn new(source: R, encoding: TextEncoding) -> Self {
        let (charset, label, skip) = match encoding {
            TextEncoding::Utf8 => (encoding_rs::UTF_8, "UTF-8", 0),
            TextEncoding::Utf8Bom => (encoding_rs::UTF_8, "UTF-8", UTF8_BOM.len()),
            TextEncoding::Utf16Le => (encoding_rs::UTF_16LE, "UTF-16 LE", UTF16LE_BOM.len()),
            TextEncoding::Utf16Be => (encoding_rs::UTF_16BE, "UTF-16 BE", UTF16BE_BOM.len()),
            TextEncoding::Windows1252 => (encoding_rs::WINDOWS_1252, "Windows-1252", 0),
        };
        TextReader {
            source,
            label,
            decoder: charset.new_decoder_without_bom_handling(),
            raw: vec![0; PIECE].into_boxed_slice(),
            raw_start: 0,
            raw_end: 0,
            raw_done: false,
            skip,
            raw_total: 0,
            text: vec![0; PIECE].into_boxed_slice(),
            text_start: 0,
            text_end: 0,
            finished: false,
            pending: None,
        }
    }

    /// How many bytes of the file have been taken from the source so far (read ahead of the
    /// text handed out by at most two pieces of 64 KiB): for a progress figure against the
    /// file's size.
    pub fn raw_position(&self) -> u64 {
        self.raw_total
    }

    /// The source of the raw bytes.
    pub fn get_ref(&self) -> &R {
        &self.source
    }

    fn malformed(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            FileError::Malformed {
                encoding: self.label,
            },
        )
    }

    /// Reads the next raw bytes, leaving out what remains of the byte-order mark.
    fn fill_raw(&mut self) -> io::Result<()> {
        self.raw_start = 0;
        self.raw_end = 0;
        loop {
            let n = match self.source.read(&mut self.raw) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.raw_total += n as u64;
            if n == 0 {
                self.raw_done = true;
                return Ok(());
            }
            let skipped = self.skip.min(n);
            self.skip -= skipped;
            if skipped < n {
                self.raw_start = skipped;
                self.raw_end = n;
                return Ok(());
            }
        }
    }
}

impl<R: Read> Read for TextReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.text_start < self.text_end {
                let n = out.len().min(self.text_end - self.text_start);
                out[..n].copy_from_slice(&self.text[self.text_start..self.text_start + n]);
                self.text_start += n;
                return Ok(n);
            }
            if self.pending.is_some() {
                return Err(self.malformed());
            }
            if self.finished {
                return Ok(0);
            }
            if self.raw_start == self.raw_end && !self.raw_done {
                self.fill_raw()?;
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.raw[self.raw_start..self.raw_end],
                &mut self.text,
                self.raw_done,
            );
            self.raw_start += read;
            self.text_start = 0;
            self.text_end = written;
            match result {
                encoding_rs::DecoderResult::InputEmpty => self.finished = self.raw_done,
                encoding_rs::DecoderResult::OutputFull => {}
                encoding_rs::DecoderResult::Malformed(_, _) => {
                    // Hand out the text before the bad sequence first; the next read fails.
                    self.pending = Some(FileError::Malformed {
                        encoding: self.label,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
