//! The import engine (SPEC §3): decode → sniff → parse → map headers → validate; the
//! jobs that write what it reads are in [`crate::jobs`].
//!
//! The layers here know nothing of HTTP or Leptos: they take bytes and return typed
//! values or errors that say what is wrong and where, so they are tested on their own.

pub mod corrections;
pub mod decode;
pub mod header;
pub mod mapping;
pub mod parse;
pub mod prepare;
pub mod sniff;
pub mod stream;
pub mod validate;
pub mod value;

/// Why a whole file is refused before any row is written. The message is shown to the
/// operator as is, so it says what was found and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("The file is empty.")]
    Empty,
    #[error("The file has a header line but no data rows.")]
    NoDataRows,
    #[error(
        "This is not a text file: it looks like {0}. Export the data as CSV or TSV text and upload that."
    )]
    Binary(&'static str),
    #[error(
        "The file says it is {encoding} (it starts with that byte-order mark) but its content is not valid {encoding}."
    )]
    Malformed { encoding: &'static str },
    #[error("The file is {size} bytes; the limit is {limit} bytes. Split it into smaller files.")]
    TooLarge { size: u64, limit: u64 },
    #[error("The file has more than {limit} data rows, the limit. Split it into smaller files.")]
    TooManyRows { limit: u64 },
    #[error("{0}")]
    Header(String),
}
