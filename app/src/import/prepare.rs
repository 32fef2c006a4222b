//! Everything that can be said about a file before any row is written (SPEC §3.2): size
//! and row limits, encoding, delimiter, header. A file that fails here creates no job.

use super::FileError;
use super::decode::{self, TextEncoding};
use super::header::{HeaderMap, map_header};
use super::parse::Parser;
use super::sniff::sniff_delimiter;
use super::validate::{AccountRow, CellError, ClientRow, IbRow, account_row, client_row, ib_row};
use crate::model::{Delimiter, ImportAction};
use chrono::NaiveDate;
use std::borrow::Cow;

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

/// A file that passed every file-level check, ready to be read row by row.
#[derive(Debug)]
pub struct PreparedFile<'a> {
    pub action: ImportAction,
    pub encoding: TextEncoding,
    pub delimiter: u8,
    pub header: HeaderMap,
    /// Data rows, blank lines not counted (rows with errors are counted).
    pub rows: u64,
    text: Cow<'a, str>,
}

/// Checks a file and works out how to read it.
pub fn prepare(
    bytes: &[u8],
    action: ImportAction,
    delimiter: Delimiter,
    limits: Limits,
) -> Result<PreparedFile<'_>, FileError> {
    let size = bytes.len() as u64;
    if size > limits.max_bytes {
        return Err(FileError::TooLarge {
            size,
            limit: limits.max_bytes,
        });
    }
    let mut file = open(bytes, action, delimiter, 0)?;
    let mut parser = Parser::new(&file.text, file.delimiter);
    parser.header()?;
    let mut rows = 0u64;
    for _ in parser {
        rows += 1;
        if rows > limits.max_rows {
            return Err(FileError::TooManyRows {
                limit: limits.max_rows,
            });
        }
    }
    if rows == 0 {
        return Err(FileError::NoDataRows);
    }
    file.rows = rows;
    Ok(file)
}

/// Opens a file that was accepted before, with its known number of `rows`: the header is
/// read again, the rows are not counted again.
pub fn open(
    bytes: &[u8],
    action: ImportAction,
    delimiter: Delimiter,
    rows: u64,
) -> Result<PreparedFile<'_>, FileError> {
    let encoding = decode::inspect(bytes)?;
    let text = decode::decode(bytes, encoding)?;
    let delimiter = delimiter
        .byte()
        .unwrap_or_else(|| sniff_delimiter(text.trim_start_matches(['\r', '\n'])));
    let mut parser = Parser::new(&text, delimiter);
    let names = parser.header()?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let header = map_header(action, &names)?;
    Ok(PreparedFile {
        action,
        encoding,
        delimiter,
        header,
        rows,
        text,
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

impl PreparedFile<'_> {
    /// Every data row, validated; `today` bounds dates of birth.
    pub fn rows(&self, today: NaiveDate) -> impl Iterator<Item = RowOutcome> + '_ {
        let mut parser = Parser::new(&self.text, self.delimiter);
        let header_read = parser.header().is_ok();
        parser
            .filter(move |_| header_read)
            .map(move |parsed| match parsed {
                Err(e) => RowOutcome::Invalid {
                    line: e.line,
                    errors: vec![CellError {
                        column: e.column,
                        value: e.value,
                        message: e.message,
                    }],
                },
                Ok(row) => {
                    let line = row.line;
                    let checked = match self.action {
                        ImportAction::Users => client_row(&self.header, &row, today)
                            .map(|r| RowOutcome::Client(Box::new(r))),
                        ImportAction::Accounts => {
                            account_row(&self.header, &row).map(RowOutcome::Account)
                        }
                        ImportAction::Ibs => ib_row(&self.header, &row).map(RowOutcome::Ib),
                    };
                    checked.unwrap_or_else(|errors| RowOutcome::Invalid { line, errors })
                }
            })
    }
}
