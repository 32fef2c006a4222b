//! The whole-text parser the streaming reader replaced, kept only as the reference the
//! reader's tests compare their outcomes with (below the span cap they must be identical).
//!
//! Reading records from decoded text (SPEC §3.2): RFC 4180 quoting (delimiters, quotes and
//! line breaks inside quoted fields), CR, LF or CRLF line endings, blank lines skipped.
//! Problems of one row (too many or too few fields, a field over the length limit, a quote
//! never closed) are reported with the row's line number, and reading goes on after it.

use super::FileError;

/// The longest value a cell may hold, in characters.
pub const MAX_FIELD_CHARS: usize = 1_000;

/// A data row: the line it starts on (quoted line breaks count) and its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub fields: Vec<String>,
}

/// A row that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub message: String,
}

/// How much of an offending value to quote back in an error.
fn excerpt(value: &str) -> String {
    const SHOWN: usize = 80;
    if value.chars().count() <= SHOWN {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(SHOWN).collect::<String>())
    }
}

/// Whether a raw record ends inside a quoted field, read as the csv parser reads it: a
/// field is quoted only when it starts with `"`, and `""` inside it is an escaped quote.
fn ends_inside_quotes(raw: &str, delimiter: u8) -> bool {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    for b in raw.bytes() {
        state = match state {
            State::FieldStart if b == b'"' => State::Quoted,
            State::FieldStart | State::Unquoted | State::QuoteInQuoted if b == delimiter => {
                State::FieldStart
            }
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted if b == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if b == b'"' => State::Quoted,
            State::QuoteInQuoted => State::Unquoted,
        };
    }
    state == State::Quoted
}

/// Line breaks in `text`: CRLF counts once.
fn count_lines(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut n = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

/// Reads the header line and then the data rows of a file's text.
pub struct Parser<'a> {
    text: &'a str,
    delimiter: u8,
    /// Where the current csv reader started in `text`.
    base: usize,
    reader: csv::Reader<&'a [u8]>,
    record: csv::StringRecord,
    /// A byte offset in `text` and the line it is on, to count lines incrementally.
    counted: (usize, u64),
    header: Vec<String>,
}

impl<'a> Parser<'a> {
    /// A parser over `text` with fields separated by `delimiter`.
    pub fn new(text: &'a str, delimiter: u8) -> Self {
        Parser {
            text,
            delimiter,
            base: 0,
            reader: Self::reader(text, delimiter),
            record: csv::StringRecord::new(),
            counted: (0, 1),
            header: Vec::new(),
        }
    }

    fn reader(text: &'a str, delimiter: u8) -> csv::Reader<&'a [u8]> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text.as_bytes())
    }

    /// The line that byte `offset` of the text is on (offsets only move forward).
    fn line_at(&mut self, offset: usize) -> u64 {
        let (from, line) = self.counted;
        let line = line + count_lines(&self.text[from..offset]);
        self.counted = (offset, line);
        line
    }

    /// The header line: the first line that is not blank.
    pub fn header(&mut self) -> Result<Vec<String>, FileError> {
        match self.read() {
            Some(Ok(row)) => {
                self.header = row.fields.clone();
                Ok(row.fields)
            }
            Some(Err(e)) => Err(FileError::Header(format!(
                "The header line (line {}) cannot be read: {}",
                e.line, e.message
            ))),
            None => Err(FileError::Empty),
        }
    }

    /// The next record, whatever its width; `None` at the end of the text.
    fn read(&mut self) -> Option<Result<Row, RowError>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => {
                    // Text was decoded already, so only a malformed record gets here.
                    let line = self.line_at(self.base + self.reader.position().byte() as usize);
                    return Some(Err(RowError {
                        line,
                        column: None,
                        value: None,
                        message: e.to_string(),
                    }));
                }
                Ok(true) => {}
            }
            let end = self.base + self.reader.position().byte() as usize;
            let after_previous =
                self.base + self.record.position().map_or(0, |p| p.byte() as usize);
            // The record starts after the blank lines the reader skipped.
            let start = after_previous + self.text[after_previous..end].len()
                - self.text[after_previous..end]
                    .trim_start_matches(['\r', '\n'])
                    .len();
            let line = self.line_at(start);
            if ends_inside_quotes(&self.text[start..end], self.delimiter) {
                // The quote swallowed the rest of the file: report it and read on from
                // the next line, as if the quote were not there.
                let next_line = self.text[start..end]
                    .find(['\r', '\n'])
                    .map(|i| start + i)
                    .unwrap_or(end);
                self.base = next_line;
                self.reader = Self::reader(&self.text[next_line..], self.delimiter);
                return Some(Err(RowError {
                    line,
                    column: None,
                    value: None,
                    message: "A quote (\") opens a field on this line and is never closed. Close the quote, or double it (\"\") inside a quoted value.".into(),
                }));
            }
            if self.record.iter().all(|f| f.trim().is_empty()) {
                continue; // a blank line, or one of only delimiters
            }
            return Some(Ok(Row {
                line,
                fields: self.record.iter().map(str::to_owned).collect(),
            }));
        }
    }

    fn column_name(&self, index: usize) -> Option<String> {
        self.header.get(index).map(|h| h.trim().to_owned())
    }
}

impl Iterator for Parser<'_> {
    type Item = Result<Row, RowError>;

    /// The next data row, checked against the header's width and the field length limit.
    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.read()? {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        let width = self.header.len();
        if row.fields.len() != width {
            return Some(Err(RowError {
                line: row.line,
                column: None,
                value: None,
                message: format!(
                    "This row has {} fields but the header has {width}. A value that contains the delimiter must be quoted.",
                    row.fields.len()
                ),
            }));
        }
        if let Some((index, long)) = row
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.chars().count() > MAX_FIELD_CHARS)
        {
            return Some(Err(RowError {
                line: row.line,
                column: self.column_name(index),
                value: Some(excerpt(long)),
                message: format!(
                    "The value is {} characters long; the limit is {MAX_FIELD_CHARS}.",
                    long.chars().count()
                ),
            }));
        }
        Some(Ok(row))
    }
}
