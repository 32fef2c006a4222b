//! Reading records from a stream of UTF-8 text (SPEC §3.2) with the outcomes of the
//! whole-text parser it replaced (`Parser`, kept beside its tests as their reference):
//! RFC 4180 quoting (delimiters, quotes and line breaks inside quoted fields), CR, LF or
//! CRLF line endings, blank lines and lines of only delimiters skipped,
//! too many or too few fields, over-long values and quotes never closed reported with the
//! row's line number, and reading going on after them.
//!
//! The fields are split by a state machine of our own rather than by `csv_core::Reader`:
//! the reader must know whether it is inside quotes at each line break and at the end of
//! the text (to find unclosed quotes and bound them), where each record starts after the
//! blank lines it skips (for line numbers), and it must drop the middle of an over-long
//! value while going on counting its characters, and start again from any line. csv_core
//! keeps all of that to itself. The machine below makes the same choices csv_core does with
//! the settings `Parser` uses (quotes on, `""` as an escaped quote, any of CR, LF, CRLF ends
//! a record, a UTF-8 BOM at the very start left out).
//!
//! # Quotes that are never closed, in bounded memory and linear time
//!
//! `Parser` reports a record whose quote is still open at the end of the text at the line
//! it starts on, and reads on from the line after that one as if the quote were not there.
//! Holding the text for that is what a stream cannot do, so a record may run on for at
//! most [`MAX_SPAN_BYTES`] past the line break that ends its first line (always one inside
//! quotes: any other ends the record). A record that has not ended by then is reported as
//! the same unclosed-quote error, and reading goes on from the line after the one it
//! started on, from the bytes kept since that line break. Below the cap, the rows and
//! errors are exactly those of `Parser`.
//!
//! Reading again from the next line could make a file of lines like `a","` (each one
//! closing the previous line's quote and opening another) cost the cap once per line. It
//! does not, because of what reading again can find: a record read again either ends at
//! every line break (quotes closed) until it meets the end of the kept bytes, or crosses a
//! line break inside quotes, where the cut record was inside quotes too. From that break on
//! both are in the same state over the same bytes, so they read the same: the new record
//! takes the cut one's place where that one had got to, without reading the bytes between
//! again, and its fields are read from the kept bytes once its end is known. Each byte is
//! thus read a bounded number of times, and memory holds at most about three times the cap.

use super::StreamError;
use crate::import::FileError;
use crate::import::parse::{MAX_FIELD_CHARS, Row, RowError};
use std::io::{self, Read};

/// How far a record may run on past the end of its first line, in bytes of text, before it
/// is taken for one whose quote is never closed. A record of 250 values of the longest
/// length allowed, each over several lines, still fits.
pub const MAX_SPAN_BYTES: usize = 1024 * 1024;

/// The most fields a header line may have: the reader keeps every header name.
pub const MAX_COLUMNS: usize = 1_000;

/// How much of a value is kept: any value of at most [`MAX_FIELD_CHARS`] characters fits,
/// so a longer one is an error and only its start and its length are needed.
const FIELD_KEPT_BYTES: usize = 4 * MAX_FIELD_CHARS;

/// How much text is read from the source at a time.
const PIECE: usize = 64 * 1024;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

const UNCLOSED: &str = "A quote (\") opens a field on this line and is never closed. Close the quote, or double it (\"\") inside a quoted value.";

/// How much of an offending value to quote back in an error.
fn excerpt(value: &str) -> String {
    const SHOWN: usize = 80;
    if value.chars().count() <= SHOWN {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(SHOWN).collect::<String>())
    }
}

fn too_long(chars: u64) -> String {
    format!("The value is {chars} characters long; the limit is {MAX_FIELD_CHARS}.")
}

fn header_error(line: u64, message: &str) -> StreamError {
    StreamError::File(FileError::Header(format!(
        "The header line (line {line}) cannot be read: {message}"
    )))
}

fn not_utf8() -> StreamError {
    StreamError::Source(io::Error::new(
        io::ErrorKind::InvalidData,
        "the text to read records from is not valid UTF-8",
    ))
}

/// `char::is_whitespace` for an ASCII byte.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

fn count_chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64
}

/// Whether kept bytes of a value are whitespace only, as `str::trim` sees it. An incomplete
/// character at the end of a value `cut` where it stops being kept is left to [`Rest`]; at
/// the end of a whole value it is text that is not UTF-8, which is not blank (the record
/// is then read, and reported).
fn is_blank(bytes: &[u8], cut: bool) -> bool {
    match bytes.first() {
        None => return true,
        Some(&b) if b < 0x80 && !is_space(b) => return false,
        _ => {}
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) if cut && e.error_len().is_none() => {
            match std::str::from_utf8(&bytes[..e.valid_up_to()]) {
                Ok(text) => text,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    text.trim().is_empty()
}

/// Where the state machine is, as csv_core would be with `Parser`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between records: line breaks are skipped.
    RecordStart,
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: closing it, or the first of `""`.
    QuoteInQuoted,
}

/// The position of the state machine in the text.
#[derive(Clone, Copy, Debug)]
struct Scan {
    state: State,
    /// The line of the next byte; CRLF counts once.
    line: u64,
    after_cr: bool,
    /// The offset of the next byte in the text.
    pos: u64,
    /// Where the record being read starts.
    record_line: u64,
    record_pos: u64,
}

impl Scan {
    /// Between records, at the start of `line`, byte `pos` of the text.
    fn new(line: u64, pos: u64) -> Self {
        Scan {
            state: State::RecordStart,
            line,
            after_cr: false,
            pos,
            record_line: line,
            record_pos: pos,
        }
    }

    fn line_break(&mut self, b: u8) {
        if b == b'\r' {
            self.line += 1;
            self.after_cr = true;
        } else {
            if !self.after_cr {
                self.line += 1;
            }
            self.after_cr = false;
        }
    }
}

/// The part of a value past what is kept: counted, and checked for whitespace while the
/// record may still be blank.
#[derive(Clone, Copy, Debug)]
struct Rest {
    any: bool,
    chars: u64,
    blank: bool,
    /// A character split between two pieces of text.
    pending: [u8; 4],
    pending_len: usize,
}

impl Rest {
    const NONE: Rest = Rest {
        any: false,
        chars: 0,
        blank: true,
        pending: [0; 4],
        pending_len: 0,
    };

    fn push(&mut self, bytes: &[u8], check_blank: bool) {
        self.chars += count_chars(bytes);
        if !check_blank || !self.blank {
            return;
        }
        for &b in bytes {
            if self.pending_len == 0 && b < 0x80 {
                if !is_space(b) {
                    self.blank = false;
                    return;
                }
                continue;
            }
            self.pending[self.pending_len] = b;
            self.pending_len += 1;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(c) => {
                    if !c.chars().all(char::is_whitespace) {
                        self.blank = false;
                        return;
                    }
                    self.pending_len = 0;
                }
                Err(e) if e.error_len().is_none() && self.pending_len < 4 => {}
                Err(_) => {
                    self.blank = false;
                    return;
                }
            }
        }
    }

    fn is_blank(&self) -> bool {
        !self.any || (self.blank && self.pending_len == 0)
    }
}

/// The first value of a record that is longer than allowed.
#[derive(Clone, Copy, Debug)]
struct Long {
    index: usize,
    chars: u64,
}

/// The fields of the record being read: the first `keep` of them (up to
/// [`FIELD_KEPT_BYTES`] each) one after the other in one buffer, reused from record to
/// record; of the others, only their number and whether they are blank.
#[derive(Debug)]
struct Fields {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    count: usize,
    keep: usize,
    /// Every field so far is whitespace only.
    blank: bool,
    long: Option<Long>,
    /// Where the current field starts in `bytes`.
    start: usize,
    rest: Rest,
}

impl Fields {
    fn new() -> Self {
        Fields {
            bytes: Vec::new(),
            ends: Vec::new(),
            count: 0,
            keep: 0,
            blank: true,
            long: None,
            start: 0,
            rest: Rest::NONE,
        }
    }

    fn begin(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.count = 0;
        self.blank = true;
        self.long = None;
        self.start = 0;
        self.rest = Rest::NONE;
    }

    fn push(&mut self, run: &[u8]) {
        let room = if self.count < self.keep && !self.rest.any {
            (self.start + FIELD_KEPT_BYTES).saturating_sub(self.bytes.len())
        } else {
            0
        };
        if run.len() <= room {
            self.bytes.extend_from_slice(run);
            return;
        }
        self.bytes.extend_from_slice(&run[..room]);
        if !self.rest.any {
            self.rest.any = true;
            // A character cut where the kept part ends is finished in the rest.
            if let Err(e) = std::str::from_utf8(&self.bytes[self.start..])
                && e.error_len().is_none()
            {
                let tail = &self.bytes[self.start + e.valid_up_to()..];
                self.rest.pending[..tail.len()].copy_from_slice(tail);
                self.rest.pending_len = tail.len();
            }
        }
        self.rest.push(&run[room..], self.blank);
    }

    fn end_field(&mut self) {
        let field = &self.bytes[self.start..];
        if self.blank {
            self.blank = is_blank(field, self.rest.any) && self.rest.is_blank();
        }
        if self.count < self.keep {
            if self.long.is_none() && (self.rest.any || field.len() > MAX_FIELD_CHARS) {
                let chars = count_chars(field) + self.rest.chars;
                if chars > MAX_FIELD_CHARS as u64 {
                    self.long = Some(Long {
                        index: self.count,
                        chars,
                    });
                }
            }
            self.ends.push(self.bytes.len());
        }
        self.count += 1;
        self.start = self.bytes.len();
        self.rest = Rest::NONE;
    }

    /// The kept bytes of field `index`.
    fn field(&self, index: usize) -> &[u8] {
        let from = match index.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        let to = self.ends.get(index).copied().unwrap_or(from);
        self.bytes.get(from..to).unwrap_or_default()
    }

    /// Puts the kept fields in `out`, reusing its strings.
    fn fill(&self, out: &mut Vec<String>) -> Result<(), StreamError> {
        out.truncate(self.ends.len());
        let mut from = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            let text = std::str::from_utf8(&self.bytes[from..end]).map_err(|_| not_utf8())?;
            match out.get_mut(i) {
                Some(field) => {
                    field.clear();
                    field.push_str(text);
                }
                None => out.push(text.to_owned()),
            }
            from = end;
        }
        Ok(())
    }
}

/// The bytes of a record that runs past its first line, kept from its first line break so
/// that reading can start again from there (and, for a record found while reading again,
/// from its start, to read its fields once its end is known). Bytes before `from` are
/// stale; they are dropped once they are the larger part.
#[derive(Debug, Default)]
struct Spill {
    bytes: Vec<u8>,
    active: bool,
    from: usize,
    first_break: usize,
    /// The offset in the text of `bytes[0]`.
    origin: u64,
}

impl Spill {
    fn start(&mut self, at: u64) {
        self.bytes.clear();
        self.active = true;
        self.from = 0;
        self.first_break = 0;
        self.origin = at;
    }

    fn room(&self, cap: usize) -> usize {
        cap.saturating_sub(self.bytes.len() - self.first_break)
    }

    fn end(&mut self) {
        self.bytes.clear();
        self.active = false;
    }

    fn compact(&mut self) {
        if self.from > self.bytes.len() / 2 {
            self.bytes.drain(..self.from);
            self.origin += self.from as u64;
            self.first_break -= self.from;
            self.from = 0;
        }
    }
}

/// How the state machine is run over a piece of text.
enum Mode<'a> {
    /// New text from the source; `collect` is off for a record whose fields are read later.
    Live { spill: &'a mut Spill, collect: bool },
    /// Kept text read again after a record was cut.
    Replay,
    /// The kept text of a record found while replaying, now that its end is known.
    Rescan,
}

/// Why the state machine stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    NeedMore,
    /// A record ended at a line break.
    Record,
    /// The record ran on [`MAX_SPAN_BYTES`] past its first line.
    Cut,
    /// While replaying, the record crossed a line break inside quotes at byte `at` of the
    /// piece.
    Join {
        at: usize,
    },
}

/// Runs the state machine over `input` until a record ends, the input ends or `mode` says
/// to stop. Returns the bytes used.
fn scan(
    sc: &mut Scan,
    fields: &mut Fields,
    input: &[u8],
    delimiter: u8,
    mut mode: Mode<'_>,
    cap: usize,
) -> (usize, Event) {
    let n = input.len();
    let collect = match &mode {
        Mode::Live { collect, .. } => *collect,
        Mode::Replay | Mode::Rescan => true,
    };
    // The bytes from `kept` on belong to a record that runs past its first line: they are
    // added to the spill on the way out, and only as many are read as the cap allows.
    let mut kept = None;
    let mut end = n;
    if let Mode::Live { spill, .. } = &mode
        && spill.active
    {
        kept = Some(0);
        end = n.min(spill.room(cap));
    }
    let mut i = 0;
    let event = loop {
        if i == end {
            break if end < n { Event::Cut } else { Event::NeedMore };
        }
        match sc.state {
            State::RecordStart => {
                let b = input[i];
                if b == b'\r' || b == b'\n' {
                    sc.line_break(b);
                    i += 1;
                    continue;
                }
                sc.record_line = sc.line;
                sc.record_pos = sc.pos + i as u64;
                if collect {
                    fields.begin();
                }
                sc.state = State::FieldStart;
            }
            State::FieldStart => {
                let b = input[i];
                if b == b'"' {
                    sc.after_cr = false;
                    sc.state = State::Quoted;
                    i += 1;
                } else if b == delimiter {
                    sc.after_cr = false;
                    if collect {
                        fields.end_field();
                    }
                    i += 1;
                } else if b == b'\r' || b == b'\n' {
                    if collect {
                        fields.end_field();
                    }
                    sc.line_break(b);
                    sc.state = State::RecordStart;
                    i += 1;
                    break Event::Record;
                } else {
                    sc.state = State::Unquoted;
                }
            }
            State::Unquoted => {
                let from = i;
                while i < end {
                    let b = input[i];
                    if b == delimiter || b == b'\r' || b == b'\n' {
                        break;
                    }
                    i += 1;
                }
                if i > from {
                    sc.after_cr = false;
                    if collect {
                        fields.push(&input[from..i]);
                    }
                }
                if i == end {
                    continue;
                }
                let b = input[i];
                i += 1;
                if collect {
                    fields.end_field();
                }
                if b == delimiter {
                    sc.after_cr = false;
                    sc.state = State::FieldStart;
                } else {
                    sc.line_break(b);
                    sc.state = State::RecordStart;
                    break Event::Record;
                }
            }
            State::Quoted => {
                let from = i;
                while i < end {
                    let b = input[i];
                    if b == b'"' || b == b'\r' || b == b'\n' {
                        break;
                    }
                    i += 1;
                }
                if i > from {
                    sc.after_cr = false;
                    if collect {
                        fields.push(&input[from..i]);
                    }
                }
                if i == end {
                    continue;
                }
                let b = input[i];
                if b == b'"' {
                    sc.after_cr = false;
                    sc.state = State::QuoteInQuoted;
                    i += 1;
                    continue;
                }
                // A line break inside quotes: the record runs on to the next line.
                if collect {
                    fields.push(&input[i..i + 1]);
                }
                sc.line_break(b);
                let at = i;
                i += 1;
                match &mut mode {
                    Mode::Live { spill, .. } => {
                        if kept.is_none() {
                            spill.start(sc.pos + at as u64);
                            kept = Some(at);
                            end = n.min(at + cap);
                        }
                    }
                    Mode::Replay => break Event::Join { at },
                    Mode::Rescan => {}
                }
            }
            State::QuoteInQuoted => {
                let b = input[i];
                if b == b'"' {
                    sc.after_cr = false;
                    if collect {
                        fields.push(b"\"");
                    }
                    sc.state = State::Quoted;
                    i += 1;
                } else if b == delimiter {
                    sc.after_cr = false;
                    if collect {
                        fields.end_field();
                    }
                    sc.state = State::FieldStart;
                    i += 1;
                } else if b == b'\r' || b == b'\n' {
                    if collect {
                        fields.end_field();
                    }
                    sc.line_break(b);
                    sc.state = State::RecordStart;
                    i += 1;
                    break Event::Record;
                } else {
                    // Text after a closing quote joins the value, as in csv_core.
                    sc.state = State::Unquoted;
                }
            }
        }
    };
    if let (Some(from), Mode::Live { spill, .. }) = (kept, &mut mode) {
        spill.bytes.extend_from_slice(&input[from..i]);
    }
    sc.pos += i as u64;
    (i, event)
}

/// How the text ends for the record being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Nothing,
    Record,
    Unclosed,
}

fn finish(sc: &mut Scan, fields: &mut Fields, collect: bool) -> Ending {
    match sc.state {
        State::RecordStart => Ending::Nothing,
        State::Quoted => Ending::Unclosed,
        State::FieldStart | State::Unquoted | State::QuoteInQuoted => {
            if collect {
                fields.end_field();
            }
            sc.state = State::RecordStart;
            Ending::Record
        }
    }
}

/// What the reader found next, before it is checked.
enum Found {
    /// A record, in `fields`.
    Record {
        line: u64,
    },
    Unclosed {
        line: u64,
    },
    End,
}

/// What [`RecordReader::read_into`] read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// A data row, now in the `Row` passed.
    Row,
    /// A row that cannot be used, for this reason.
    Invalid(RowError),
    /// The end of the text.
    End,
}

/// Reads the header line and then the data rows of a stream of UTF-8 text (such as a
/// [`TextReader`](super::TextReader)), holding only the record being read, whatever the
/// size of the text: the same rows and errors as the whole-text `Parser` gave,
/// except for the bound on records that run on past their first line (see
/// [`MAX_SPAN_BYTES`]), a header line of more than [`MAX_COLUMNS`] fields or with a value
/// over [`MAX_FIELD_CHARS`] characters (both refused), and text that is not UTF-8 (an
/// error of the source).
///
/// ```
/// use app::import::parse::Row;
/// use app::import::stream::RecordReader;
///
/// let text = "Email,Note\n\na@b.c,\"two\nlines\"\nd@e.f\n";
/// let mut reader = RecordReader::new(text.as_bytes(), b',');
/// assert_eq!(reader.header()?, ["Email", "Note"]);
/// let rows: Vec<_> = reader.by_ref().collect();
/// assert_eq!(rows[0], Ok(Row { line: 3, fields: vec!["a@b.c".into(), "two\nlines".into()] }));
/// let error = rows[1].as_ref().unwrap_err();
/// assert_eq!(error.line, 5);
/// assert_eq!(
///     error.message,
///     "This row has 1 fields but the header has 2. A value that contains the delimiter must be quoted."
/// );
/// reader.finish()?;
/// # Ok::<(), app::import::stream::StreamError>(())
/// ```
pub struct RecordReader<R> {
    source: R,
    delimiter: u8,
    cap: usize,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    source_done: bool,
    bom_checked: bool,
    /// Bytes of text taken from the source.
    taken: u64,
    scan: Scan,
    fields: Fields,
    spill: Spill,
    /// The record being read was found while replaying: its fields are read from the spill
    /// once its end is known.
    deferred: bool,
    /// Kept text being read again after a record was cut, from `replay_pos`; `replay[0]` is
    /// byte `replay_origin` of the text.
    replaying: bool,
    replay: Vec<u8>,
    replay_pos: usize,
    replay_origin: u64,
    /// Where reading of the cut record had got to.
    resume: Option<Scan>,
    header: Vec<String>,
    last_line: u64,
    failed: bool,
    failure: Option<StreamError>,
}

impl<R: Read> RecordReader<R> {
    /// A reader of `source`'s text with fields separated by `delimiter` (a comma, semicolon
    /// or tab; not a quote or a line break).
    pub fn new(source: R, delimiter: u8) -> Self {
        Self::with_cap(source, delimiter, MAX_SPAN_BYTES)
    }

    /// The same with another bound on records running past their first line, so that tests
    /// can reach it with small inputs.
    pub(crate) fn with_cap(source: R, delimiter: u8, cap: usize) -> Self {
        RecordReader {
            source,
            delimiter,
            cap: cap.max(1),
            buf: vec![0; PIECE].into_boxed_slice(),
            start: 0,
            end: 0,
            source_done: false,
            bom_checked: false,
            taken: 0,
            scan: Scan::new(1, 0),
            fields: Fields::new(),
            spill: Spill::default(),
            deferred: false,
            replaying: false,
            replay: Vec::new(),
            replay_pos: 0,
            replay_origin: 0,
            resume: None,
            header: Vec::new(),
            last_line: 0,
            failed: false,
            failure: None,
        }
    }

    /// The header line: the first line that is not blank. Its names are kept to check the
    /// rows' width and to name the column of an over-long value.
    pub fn header(&mut self) -> Result<Vec<String>, StreamError> {
        self.fields.keep = MAX_COLUMNS;
        loop {
            match self.found()? {
                Found::End => return Err(FileError::Empty.into()),
                Found::Unclosed { line } => {
                    self.last_line = line;
                    return Err(header_error(line, UNCLOSED));
                }
                Found::Record { line } => {
                    if self.fields.blank {
                        continue;
                    }
                    self.last_line = line;
                    if self.fields.count > MAX_COLUMNS {
                        return Err(header_error(
                            line,
                            &format!(
                                "It has {} fields; the limit is {MAX_COLUMNS}.",
                                self.fields.count
                            ),
                        ));
                    }
                    if let Some(long) = self.fields.long {
                        return Err(header_error(line, &too_long(long.chars)));
                    }
                    let mut names = Vec::new();
                    self.fields.fill(&mut names).map_err(|e| self.fail(e))?;
                    self.header.clone_from(&names);
                    self.fields.keep = names.len();
                    return Ok(names);
                }
            }
        }
    }

    /// Reads the next data row into `row`, reusing its strings, and checks it against the
    /// header's width and the value length limit. An `Err` is a failure of the source or
    /// text that is not valid in its encoding; reading stops there.
    ///
    /// ```
    /// use app::import::parse::Row;
    /// use app::import::stream::{Next, RecordReader};
    /// let mut reader = RecordReader::new(&b"a;b\n1;2\n3\n"[..], b';');
    /// reader.header()?;
    /// let mut row = Row::default();
    /// assert_eq!(reader.read_into(&mut row)?, Next::Row);
    /// assert_eq!((row.line, &row.fields[..]), (2, &["1".to_owned(), "2".to_owned()][..]));
    /// assert!(matches!(reader.read_into(&mut row)?, Next::Invalid(e) if e.line == 3));
    /// assert_eq!(reader.read_into(&mut row)?, Next::End);
    /// # Ok::<(), app::import::stream::StreamError>(())
    /// ```
    pub fn read_into(&mut self, row: &mut Row) -> Result<Next, StreamError> {
        loop {
            match self.found()? {
                Found::End => return Ok(Next::End),
                Found::Unclosed { line } => {
                    self.last_line = line;
                    return Ok(Next::Invalid(RowError {
                        line,
                        column: None,
                        value: None,
                        message: UNCLOSED.into(),
                    }));
                }
                Found::Record { line } => {
                    if self.fields.blank {
                        continue; // a blank line, or one of only delimiters
                    }
                    self.last_line = line;
                    if let Some(problem) = self.problem(line) {
                        return Ok(Next::Invalid(problem));
                    }
                    row.line = line;
                    self.fields
                        .fill(&mut row.fields)
                        .map_err(|e| self.fail(e))?;
                    return Ok(Next::Row);
                }
            }
        }
    }

    /// Whether the reading stopped early because the source failed or the text was not
    /// valid: after iterating, this is the only way to know that the rows ended with the
    /// file. (`read_into` and `header` return such errors themselves.)
    pub fn finish(self) -> Result<(), StreamError> {
        match self.failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// How many bytes of text have been read past, the end of the last record returned or
    /// further (up to [`MAX_SPAN_BYTES`] when a record was cut); it never goes back. For
    /// progress against the file's size, see [`TextReader::raw_position`](super::TextReader::raw_position).
    pub fn offset(&self) -> u64 {
        self.taken - (self.end - self.start) as u64
    }

    /// The line of the last row, error or header returned.
    pub fn line(&self) -> u64 {
        self.last_line
    }

    /// The source of the text.
    pub fn get_ref(&self) -> &R {
        &self.source
    }

    fn fail(&mut self, e: StreamError) -> StreamError {
        self.failed = true;
        e
    }

    /// What is wrong with the record in `fields` as a data row, as `Parser` checks it.
    fn problem(&self, line: u64) -> Option<RowError> {
        let width = self.header.len();
        if self.fields.count != width {
            return Some(RowError {
                line,
                column: None,
                value: None,
                message: format!(
                    "This row has {} fields but the header has {width}. A value that contains the delimiter must be quoted.",
                    self.fields.count
                ),
            });
        }
        let long = self.fields.long?;
        Some(RowError {
            line,
            column: self.header.get(long.index).map(|h| h.trim().to_owned()),
            value: Some(excerpt(&String::from_utf8_lossy(
                self.fields.field(long.index),
            ))),
            message: too_long(long.chars),
        })
    }

    fn found(&mut self) -> Result<Found, StreamError> {
        if self.failed {
            return Ok(Found::End);
        }
        self.next_found().map_err(|e| self.fail(e))
    }

    /// The next record, whatever its width, or a record whose quote is never closed.
    fn next_found(&mut self) -> Result<Found, StreamError> {
        loop {
            if self.replaying {
                if self.replay_pos == self.replay.len() {
                    // Read again to the end without joining the cut record's path: go on
                    // with new text from where the cut record had got to.
                    self.replaying = false;
                    self.resume = None;
                    self.replay.clear();
                    continue;
                }
                let before = self.replay_pos;
                let (n, event) = scan(
                    &mut self.scan,
                    &mut self.fields,
                    &self.replay[before..],
                    self.delimiter,
                    Mode::Replay,
                    self.cap,
                );
                self.replay_pos += n;
                match event {
                    Event::Record => {
                        return Ok(Found::Record {
                            line: self.scan.record_line,
                        });
                    }
                    Event::Join { at } => self.join(before + at),
                    Event::NeedMore | Event::Cut => {}
                }
                continue;
            }
            if self.start == self.end {
                if !self.source_done {
                    self.fill()?;
                    continue;
                }
                let line = self.scan.record_line;
                return Ok(
                    match finish(&mut self.scan, &mut self.fields, !self.deferred) {
                        Ending::Nothing => Found::End,
                        Ending::Record => {
                            self.record_read();
                            Found::Record { line }
                        }
                        Ending::Unclosed => self.cut(),
                    },
                );
            }
            let (n, event) = scan(
                &mut self.scan,
                &mut self.fields,
                &self.buf[self.start..self.end],
                self.delimiter,
                Mode::Live {
                    spill: &mut self.spill,
                    collect: !self.deferred,
                },
                self.cap,
            );
            self.start += n;
            match event {
                Event::Record => {
                    self.record_read();
                    return Ok(Found::Record {
                        line: self.scan.record_line,
                    });
                }
                Event::Cut => return Ok(self.cut()),
                Event::NeedMore | Event::Join { .. } => {}
            }
        }
    }

    /// A live record has ended: its fields are read now if they were left for later.
    fn record_read(&mut self) {
        if self.deferred {
            self.deferred = false;
            let mut sc = Scan::new(self.scan.record_line, 0);
            let input = self.spill.bytes.get(self.spill.from..).unwrap_or_default();
            let (_, event) = scan(
                &mut sc,
                &mut self.fields,
                input,
                self.delimiter,
                Mode::Rescan,
                self.cap,
            );
            if event == Event::NeedMore {
                // It ended with the text, not at a line break.
                finish(&mut sc, &mut self.fields, true);
            }
        }
        self.spill.end();
    }

    /// Reports the record being read as one whose quote is never closed, and arranges for
    /// reading to go on from the line after the one it started on.
    fn cut(&mut self) -> Found {
        let line = self.scan.record_line;
        self.deferred = false;
        if self.spill.active {
            self.resume = Some(self.scan);
            std::mem::swap(&mut self.spill.bytes, &mut self.replay);
            self.spill.end();
            self.replay_pos = self.spill.first_break;
            self.replay_origin = self.spill.origin;
            self.replaying = true;
            // The first line break of a record is on its first line, and follows a byte
            // that is not a line break.
            self.scan = Scan::new(line, self.replay_origin + self.replay_pos as u64);
        } else {
            self.scan.state = State::RecordStart;
        }
        Found::Unclosed { line }
    }

    /// The record being replayed has crossed a line break inside quotes at `replay[at]`, as
    /// the cut record had: from there on both are in the same state over the same bytes, so
    /// it takes the cut record's place where that had got to, and its fields are read from
    /// the kept bytes once its end is known.
    fn join(&mut self, at: usize) {
        let Some(resume) = self.resume.take() else {
            return;
        };
        std::mem::swap(&mut self.spill.bytes, &mut self.replay);
        self.replay.clear();
        self.replaying = false;
        self.spill.active = true;
        self.spill.origin = self.replay_origin;
        self.spill.from = (self.scan.record_pos - self.replay_origin) as usize;
        self.spill.first_break = at;
        self.spill.compact();
        self.scan = Scan {
            record_line: self.scan.record_line,
            record_pos: self.scan.record_pos,
            ..resume
        };
        self.deferred = true;
    }

    /// Reads the next piece of text from the source.
    fn fill(&mut self) -> Result<(), StreamError> {
        self.start = 0;
        self.end = 0;
        loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.source_done = true;
                    break;
                }
                Ok(n) => {
                    self.end += n;
                    self.taken += n as u64;
                    if self.bom_checked || self.end >= UTF8_BOM.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !self.bom_checked {
            self.bom_checked = true;
            // csv_core leaves out a UTF-8 BOM at the very start of its input, so `Parser`
            // does not see one that decoding left in (a file with two).
            if self.buf[..self.end].starts_with(UTF8_BOM) {
                self.start = UTF8_BOM.len();
                self.scan.pos += UTF8_BOM.len() as u64;
            }
        }
        Ok(())
    }
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<Row, RowError>;

    /// The next data row, checked against the header's width and the value length limit.
    /// A failure of the source ends the rows early: [`RecordReader::finish`] tells.
    fn next(&mut self) -> Option<Self::Item> {
        let mut row = Row::default();
        match self.read_into(&mut row) {
            Ok(Next::Row) => Some(Ok(row)),
            Ok(Next::Invalid(e)) => Some(Err(e)),
            Ok(Next::End) => None,
            Err(e) => {
                self.failure = Some(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
