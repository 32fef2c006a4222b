//! Everything that can be said about a file before any row is written (SPEC §3.2): size
//! and row limits, encoding, delimiter, header. A file that fails here creates no job.
//!
//! Files are read as streams ([`super::stream`]): checking one reads it twice (its encoding,
//! then its rows) and holds no more than a piece of it at a time.

use super::FileError;
use super::corrections::{Corrections, Resolved};
use super::decode::TextEncoding;
use super::header::{HeaderMap, map_header};
use super::mapping::Mapping;
use super::parse::{Row, RowError};
use super::sniff::sniff_delimiter;
use super::stream::{Inspector, Next, RecordReader, StreamError, TextReader};
use super::validate::{AccountRow, CellError, ClientRow, IbRow, account_row, client_row, ib_row};
use crate::model::{Delimiter, ImportAction};
use chrono::NaiveDate;
use std::io::Read;

/// How large a file may be (`IMPORT_MAX_BYTES`, `IMPORT_MAX_ROWS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_rows: u64,
}

impl Limits {
    /// No limit: for a file that was already accepted when its job was created.
    pub const NONE: Limits = Limits {
        max_bytes: u64::MAX,
        max_rows: u64::MAX,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 5 * 1024 * 1024,
            max_rows: 5_000,
        }
    }
}

/// What checking a file found out.
#[derive(Clone, Debug)]
pub struct FileFacts {
    pub encoding: TextEncoding,
    pub delimiter: u8,
    pub header: HeaderMap,
    /// Data rows, blank lines not counted (rows with errors are counted).
    pub rows: u64,
}

/// A file held in memory that passed every file-level check, ready to be read row by row.
#[derive(Debug)]
pub struct PreparedFile<'a> {
    pub action: ImportAction,
    pub encoding: TextEncoding,
    pub delimiter: u8,
    pub header: HeaderMap,
    /// Data rows, blank lines not counted (rows with errors are counted).
    pub rows: u64,
    bytes: &'a [u8],
    mapping: Option<&'a Mapping>,
}

/// A reading error of a source that is a file's own fault, or a failure to read it.
fn file_error(e: StreamError) -> FileError {
    match e {
        StreamError::File(e) => e,
        StreamError::Source(e) => FileError::Header(format!("The file could not be read: {e}")),
    }
}

/// The first bytes of a file that are looked at to choose its delimiter.
pub const SNIFF_BYTES: usize = 256 * 1024;

/// The delimiter of a file whose first bytes are `prefix`: the one asked for, or the one
/// its header line suggests.
pub fn choose_delimiter(prefix: &[u8], encoding: TextEncoding, asked: Delimiter) -> u8 {
    if let Some(d) = asked.byte() {
        return d;
    }
    let coding = match encoding {
        TextEncoding::Utf8 | TextEncoding::Utf8Bom => encoding_rs::UTF_8,
        TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
        TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
        TextEncoding::Windows1252 => encoding_rs::WINDOWS_1252,
    };
    // A character cut at the end of the prefix decodes as a replacement character, which
    // is never a delimiter.
    let (text, _) = coding.decode_with_bom_removal(prefix);
    sniff_delimiter(text.trim_start_matches(['\r', '\n']))
}

/// Checks a file whose bytes `open` gives from the start each time it is called: its size
/// (`size` bytes), encoding, delimiter, header and number of rows against `limits`.
pub fn check<R: Read>(
    mut open: impl FnMut() -> std::io::Result<R>,
    size: u64,
    action: ImportAction,
    delimiter: Delimiter,
    mapping: Option<&Mapping>,
    limits: Limits,
) -> Result<FileFacts, FileError> {
    if size > limits.max_bytes {
        return Err(FileError::TooLarge {
            size,
            limit: limits.max_bytes,
        });
    }
    let source = |open: &mut dyn FnMut() -> std::io::Result<R>| {
        open().map_err(|e| file_error(StreamError::Source(e)))
    };
    let encoding = Inspector::read_all(source(&mut open)?).map_err(file_error)?;
    let mut prefix = Vec::with_capacity(SNIFF_BYTES.min(size as usize));
    source(&mut open)?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(|e| file_error(e.into()))?;
    let delimiter = choose_delimiter(&prefix, encoding, delimiter);
    drop(prefix);
    let mut reader = RecordReader::new(TextReader::new(source(&mut open)?, encoding), delimiter);
    let header = read_header(&mut reader, action, mapping)?;
    let mut rows = 0u64;
    let mut row = Row::default();
    loop {
        match reader.read_into(&mut row).map_err(file_error)? {
            Next::End => break,
            Next::Row | Next::Invalid(_) => rows += 1,
        }
        if rows > limits.max_rows {
            return Err(FileError::TooManyRows {
                limit: limits.max_rows,
            });
        }
    }
    if rows == 0 {
        return Err(FileError::NoDataRows);
    }
    Ok(FileFacts {
        encoding,
        delimiter,
        header,
        rows,
    })
}

/// What checking a file for the mapping step found: everything [`check`] checks but
/// whether its columns fit the action, which the mapping is about to decide.
#[derive(Clone, Debug)]
pub struct LooseFacts {
    pub encoding: TextEncoding,
    pub delimiter: u8,
    /// The header line's names, as read.
    pub header: Vec<String>,
    /// The first `samples` data rows that could be read.
    pub samples: Vec<Vec<String>>,
    /// Data rows, blank lines not counted (rows with errors are counted).
    pub rows: u64,
}

/// Like [`check`], without matching the header to the action's columns: the file's size,
/// encoding, delimiter and number of rows, its header names and its first `samples` rows.
pub fn check_loose<R: Read>(
    mut open: impl FnMut() -> std::io::Result<R>,
    size: u64,
    delimiter: Delimiter,
    limits: Limits,
    samples: usize,
) -> Result<LooseFacts, FileError> {
    if size > limits.max_bytes {
        return Err(FileError::TooLarge {
            size,
            limit: limits.max_bytes,
        });
    }
    let mut source = || open().map_err(|e| file_error(StreamError::Source(e)));
    let encoding = Inspector::read_all(source()?).map_err(file_error)?;
    let mut prefix = Vec::with_capacity(SNIFF_BYTES.min(size as usize));
    source()?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(|e| file_error(e.into()))?;
    let delimiter = choose_delimiter(&prefix, encoding, delimiter);
    drop(prefix);
    let mut reader = RecordReader::new(TextReader::new(source()?, encoding), delimiter);
    let header = reader.header().map_err(file_error)?;
    let mut kept = Vec::new();
    let mut rows = 0u64;
    let mut row = Row::default();
    loop {
        match reader.read_into(&mut row).map_err(file_error)? {
            Next::End => break,
            Next::Row => {
                rows += 1;
                if kept.len() < samples {
                    kept.push(row.fields.clone());
                }
            }
            Next::Invalid(_) => rows += 1,
        }
        if rows > limits.max_rows {
            return Err(FileError::TooManyRows {
                limit: limits.max_rows,
            });
        }
    }
    if rows == 0 {
        return Err(FileError::NoDataRows);
    }
    Ok(LooseFacts {
        encoding,
        delimiter,
        header,
        samples: kept,
        rows,
    })
}

fn read_header<R: Read>(
    reader: &mut RecordReader<R>,
    action: ImportAction,
    mapping: Option<&Mapping>,
) -> Result<HeaderMap, FileError> {
    read_names_and_header(reader, action, mapping).map(|(_, header)| header)
}

/// The header line's names, and how they match the action's columns.
fn read_names_and_header<R: Read>(
    reader: &mut RecordReader<R>,
    action: ImportAction,
    mapping: Option<&Mapping>,
) -> Result<(Vec<String>, HeaderMap), FileError> {
    let names = reader.header().map_err(file_error)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let header = match mapping {
        Some(mapping) => mapping.apply(action, &refs),
        None => map_header(action, &refs),
    }?;
    Ok((names, header))
}

/// Checks a file held in memory.
pub fn prepare(
    bytes: &[u8],
    action: ImportAction,
    delimiter: Delimiter,
    limits: Limits,
) -> Result<PreparedFile<'_>, FileError> {
    prepare_mapped(bytes, action, delimiter, None, limits)
}

/// [`prepare`], reading the header through a column `mapping` (SPEC §3.5).
pub fn prepare_mapped<'a>(
    bytes: &'a [u8],
    action: ImportAction,
    delimiter: Delimiter,
    mapping: Option<&'a Mapping>,
    limits: Limits,
) -> Result<PreparedFile<'a>, FileError> {
    let facts = check(
        || Ok(bytes),
        bytes.len() as u64,
        action,
        delimiter,
        mapping,
        limits,
    )?;
    Ok(PreparedFile {
        action,
        encoding: facts.encoding,
        delimiter: facts.delimiter,
        header: facts.header,
        rows: facts.rows,
        bytes,
        mapping,
    })
}

/// A row of any action, or why it cannot be used.
#[derive(Clone, Debug, PartialEq)]
pub enum RowOutcome {
    Client(Box<ClientRow>),
    Account(AccountRow),
    Ib(IbRow),
    Invalid { line: u64, errors: Vec<CellError> },
}

impl RowOutcome {
    /// The client row, if this is one.
    pub fn into_client(self) -> Option<ClientRow> {
        if let RowOutcome::Client(row) = self {
            Some(*row)
        } else {
            None
        }
    }

    /// The account row, if this is one.
    pub fn into_account(self) -> Option<AccountRow> {
        if let RowOutcome::Account(row) = self {
            Some(row)
        } else {
            None
        }
    }

    /// The IB row, if this is one.
    pub fn into_ib(self) -> Option<IbRow> {
        if let RowOutcome::Ib(row) = self {
            Some(row)
        } else {
            None
        }
    }

    pub fn line(&self) -> u64 {
        match self {
            RowOutcome::Client(r) => r.line,
            RowOutcome::Account(r) => r.line,
            RowOutcome::Ib(r) => r.line,
            RowOutcome::Invalid { line, .. } => *line,
        }
    }
}

/// The validated rows of a file that was checked before, read from a source of its bytes.
pub struct FileRows<R: Read> {
    reader: RecordReader<TextReader<R>>,
    pub header: HeaderMap,
    /// The header line's names, as read.
    pub names: Vec<String>,
    /// The operator's corrections, applied to each line as it is read.
    corrections: Resolved,
    action: ImportAction,
    today: NaiveDate,
    row: Row,
}

impl<R: Read> FileRows<R> {
    /// Reads the header of `source`, a file in `encoding` with fields separated by
    /// `delimiter`, whose columns are used as `mapping` says (or by the header rules);
    /// `today` bounds dates of birth.
    pub fn open(
        source: R,
        encoding: TextEncoding,
        delimiter: u8,
        action: ImportAction,
        mapping: Option<&Mapping>,
        today: NaiveDate,
    ) -> Result<Self, FileError> {
        let mut reader = RecordReader::new(TextReader::new(source, encoding), delimiter);
        let (names, header) = read_names_and_header(&mut reader, action, mapping)?;
        Ok(FileRows {
            reader,
            header,
            names,
            corrections: Resolved::default(),
            action,
            today,
            row: Row::default(),
        })
    }

    /// Reads the file through `corrections`: dropped lines are skipped, corrected cells
    /// replaced. A correction of a column the file lacks refuses the file.
    pub fn with_corrections(mut self, corrections: &Corrections) -> Result<Self, FileError> {
        self.corrections = corrections
            .resolve(&self.names)
            .map_err(FileError::Header)?;
        Ok(self)
    }

    /// The last row read, as the file has it (after corrections).
    pub fn raw(&self) -> &Row {
        &self.row
    }

    /// The next data row, validated; `None` at the end of the file. Dropped lines are
    /// skipped.
    pub fn next_row(&mut self) -> Result<Option<RowOutcome>, StreamError> {
        loop {
            // A row that could not be read, or `None` for one read into `self.row`.
            let unread = match self.reader.read_into(&mut self.row)? {
                Next::End => return Ok(None),
                Next::Invalid(e) => Some(e),
                Next::Row => None,
            };
            let line = unread.as_ref().map_or(self.row.line, |e| e.line);
            match self.corrections.get(line) {
                Some(fix) if fix.dropped => continue,
                Some(fix) if unread.is_none() => {
                    for (index, value) in &fix.cells {
                        if let Some(field) = self.row.fields.get_mut(*index) {
                            field.clone_from(value);
                        }
                    }
                }
                _ => {}
            }
            return Ok(Some(self.outcome(unread)));
        }
    }

    /// The outcome of a row that could not be read (`unread`), or of the one in `self.row`.
    fn outcome(&self, unread: Option<RowError>) -> RowOutcome {
        match unread {
            Some(e) => RowOutcome::Invalid {
                line: e.line,
                errors: vec![CellError {
                    column: e.column,
                    value: e.value,
                    message: e.message,
                }],
            },
            None => {
                let row = &self.row;
                let checked = match self.action {
                    ImportAction::Users => client_row(&self.header, row, self.today)
                        .map(|r| RowOutcome::Client(Box::new(r))),
                    ImportAction::Accounts => {
                        account_row(&self.header, row).map(RowOutcome::Account)
                    }
                    ImportAction::Ibs => ib_row(&self.header, row).map(RowOutcome::Ib),
                };
                checked.unwrap_or_else(|errors| RowOutcome::Invalid {
                    line: row.line,
                    errors,
                })
            }
        }
    }
}

impl PreparedFile<'_> {
    /// Every data row, validated; `today` bounds dates of birth.
    pub fn rows(&self, today: NaiveDate) -> impl Iterator<Item = RowOutcome> + '_ {
        let mut rows = FileRows::open(
            self.bytes,
            self.encoding,
            self.delimiter,
            self.action,
            self.mapping,
            today,
        )
        .ok();
        std::iter::from_fn(move || rows.as_mut()?.next_row().ok().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = b"Email\nann@example.com\nbob@example.com\n";

    fn limits(max_bytes: u64, max_rows: u64) -> Limits {
        Limits {
            max_bytes,
            max_rows,
        }
    }

    #[test]
    fn a_file_at_each_limit_is_accepted_and_one_past_it_is_refused() {
        let size = FILE.len() as u64;
        let strict =
            |limits| prepare(FILE, ImportAction::Users, Delimiter::Auto, limits).map(|f| f.rows);
        let loose =
            |limits| check_loose(|| Ok(FILE), size, Delimiter::Auto, limits, 0).map(|f| f.rows);
        for check in [&strict as &dyn Fn(Limits) -> Result<u64, FileError>, &loose] {
            assert_eq!(check(limits(size, 2)), Ok(2));
            assert_eq!(
                check(limits(size - 1, 2)),
                Err(FileError::TooLarge {
                    size,
                    limit: size - 1
                })
            );
            assert_eq!(
                check(limits(size, 1)),
                Err(FileError::TooManyRows { limit: 1 })
            );
        }
    }

    #[test]
    fn the_mapping_step_s_check_keeps_the_first_rows_and_counts_every_row() {
        let loose = |file: &str, samples| {
            check_loose(
                || Ok(file.as_bytes()),
                file.len() as u64,
                Delimiter::Auto,
                Limits::NONE,
                samples,
            )
        };
        let file =
            "Email,Name\nann@example.com,Ann\nbad\nbob@example.com,Bob\ncid@example.com,Cid\n";
        let facts = loose(file, 2).unwrap();
        assert_eq!(
            (facts.header, facts.rows),
            (vec!["Email".into(), "Name".into()], 4)
        );
        // Samples are rows that could be read: the short row is counted, not kept.
        assert_eq!(
            facts.samples,
            [["ann@example.com", "Ann"], ["bob@example.com", "Bob"]]
        );
        assert_eq!(
            loose("Email,Name\n\n", 2).unwrap_err(),
            FileError::NoDataRows
        );
    }

    #[test]
    fn file_rows_read_each_line_through_the_operator_s_corrections() {
        use crate::import::corrections::{Corrections, tests::fix};
        // Line 3's email is corrected, line 4 dropped; line 5 cannot be read, and its
        // correction is not applied to it.
        let corrections = Corrections(vec![
            fix(3, Some("Email"), Some("bob@example.com")),
            fix(4, None, None),
            fix(5, Some("Email"), Some("dan@example.com")),
        ]);
        let file =
            "Email,First Name\nann@example.com,Ann\nnot-an-email,Bob\ncid@example.com,Cid\nshort\n";
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let mut rows = FileRows::open(
            file.as_bytes(),
            TextEncoding::Utf8,
            b',',
            ImportAction::Users,
            None,
            today,
        )
        .unwrap()
        .with_corrections(&corrections)
        .unwrap();
        let email = |outcome: RowOutcome| {
            let row = outcome.into_client().unwrap();
            row.email.unwrap().as_str().to_owned()
        };
        let ann = rows.next_row().unwrap().unwrap();
        assert_eq!((ann.line(), email(ann)), (2, "ann@example.com".into()));
        let bob = rows.next_row().unwrap().unwrap();
        assert_eq!(rows.raw().fields, ["bob@example.com", "Bob"]);
        assert_eq!((bob.line(), email(bob)), (3, "bob@example.com".into()));
        let short = rows.next_row().unwrap().unwrap();
        assert_eq!(short.line(), 5);
        assert!(matches!(short, RowOutcome::Invalid { line: 5, .. }));
        assert!(rows.next_row().unwrap().is_none());
    }

    #[test]
    fn the_delimiter_is_chosen_from_more_than_the_first_kilobytes() {
        // The header's first name is quoted and takes 1,800 bytes: its semicolons come after.
        let first = "\u{e9}".repeat(900);
        let file = format!("\"{first}\";Email;Phone\nx;ann@example.com;1\n");
        let facts = check_loose(
            || Ok(file.as_bytes()),
            file.len() as u64,
            Delimiter::Auto,
            Limits::NONE,
            1,
        )
        .unwrap();
        assert_eq!(facts.delimiter, b';');
        assert_eq!(facts.header, [first.as_str(), "Email", "Phone"]);
    }
}
