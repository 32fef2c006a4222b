//! Types shared by the server and the browser: what server functions take and return.

mod browse;
mod error;
mod import;
pub mod policy;
mod records;
mod user;

pub use browse::{
    ACCOUNT_SORTS, AccountFilter, CLIENT_SORTS, ClientDetails, ClientFilter, ClientList,
    Membership, PartnerRecord, ProgramDetails, ReferralRecord, Sort, TouchedBy, is_plain_date,
    param, plain_date,
};
pub use error::AppError;
pub use import::{
    ColumnProposal, Delimiter, ImportAction, JobStatus, MappingProposal, MappingStep,
};
pub use records::{
    AccountRecord, ActionColumns, AuditRecord, ClientRecord, ClientRef, ClientType, ImportDetails,
    ImportRules, JobRecord, MessageRecord, Named, NotificationRecord, Notifications, Page,
    ProgramRecord, ProjectRecord, UserRef,
};
pub use user::{CurrentUser, Desks, IssuedTokenView, NewUserPassword, Role, TokenView, UserView};

/// Text as compared ignoring case (emails, and names and emails in searches): each
/// character in lower case on its own, in every alphabet (`Ш` → `ш`, `É` → `é`, `Σ` → `σ`,
/// also at the end of a word), as PostgreSQL's `lower()` folds it and the `lower()` the
/// server gives SQLite does (`server/src/sqlite_fold.rs`).
pub fn fold_case(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    fold_case_into(text, &mut folded);
    folded
}

/// [`fold_case`], written at the end of `out` (which a caller may reuse).
pub fn fold_case_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.extend(text.chars().flat_map(char::to_lowercase));
    }
}

/// A size in bytes as people read it, in decimal units (60,000,000 bytes is `60 MB`), the
/// same in the upload dialog and in the refusal of a file over the limit.
pub fn file_size(bytes: u64) -> String {
    let (unit, name) = match bytes {
        1_000_000.. => (1_000_000.0, "MB"),
        1_000.. => (1_000.0, "KB"),
        _ => return format!("{bytes} bytes"),
    };
    let size = bytes as f64 / unit;
    let tenths = (size * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 || size >= 100.0 {
        format!("{size:.0} {name}")
    } else {
        format!("{tenths:.1} {name}")
    }
}

/// A count with thousands separators: `1,000,000`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number of row errors as a sentence says it: `1 error`, `2,345 errors`.
pub fn error_count(n: i64) -> String {
    match n {
        1 => "1 error".to_owned(),
        n => format!("{} errors", grouped(n)),
    }
}

/// Why a file over the upload limit of `max_bytes` is refused.
pub fn too_large(max_bytes: u64) -> String {
    format!(
        "The file is larger than the limit of {}. Split it into smaller files.",
        file_size(max_bytes)
    )
}

/// How many records each section of the back office holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SectionCounts {
    pub client_count: u64,
    pub account_count: u64,
    pub program_count: u64,
    pub import_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_is_folded_in_every_alphabet() {
        assert_eq!(fold_case("ШЕСТАКОВ Степан"), "шестаков степан");
        assert_eq!(fold_case("ÉDITH"), "édith");
        assert_eq!(fold_case("ΘΑΛΑΣΣΙΝΉ"), "θαλασσινή");
        // One character at a time: a final capital sigma folds as any other.
        assert_eq!(fold_case("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold_case("Ann@Example.COM"), "ann@example.com");
        assert_eq!(fold_case("日本"), "日本");
    }

    #[test]
    fn sizes_and_counts_read_as_people_write_them() {
        assert_eq!(file_size(60_000_000), "60 MB");
        assert_eq!(file_size(2_500_000), "2.5 MB");
        assert_eq!(file_size(123_456_789), "123 MB");
        assert_eq!(file_size(64_000), "64 KB");
        assert_eq!(file_size(64_000_001), "64 MB");
        assert_eq!(file_size(1_960_000), "2 MB");
        assert_eq!(file_size(999), "999 bytes");
        assert_eq!(
            too_large(60_000_000),
            "The file is larger than the limit of 60 MB. Split it into smaller files."
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(-12_345), "-12,345");
        assert_eq!(error_count(1), "1 error");
        assert_eq!(error_count(0), "0 errors");
        assert_eq!(error_count(2_345), "2,345 errors");
    }
}
