//! What reading a file's records gives (SPEC §3.2): a row with its line, or why a row could
//! not be read. The reader itself is [`super::stream::RecordReader`].

/// The longest value a cell may hold, in characters.
pub const MAX_FIELD_CHARS: usize = 1_000;

/// A data row: the line it starts on (quoted line breaks count) and its fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
