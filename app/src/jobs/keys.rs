//! The keys of a file met so far as it is read, to refuse a row that repeats an email, a
//! client ID or an account number of an earlier line.

use crate::import::prepare::RowOutcome;
use crate::import::validate::CellError;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// The keys met so far in a file (client emails and ids, account numbers), to refuse a
/// row that repeats one. Emails and account numbers are kept as a keyed 64-bit hash with
/// the line they were first met on — 15 bytes a row instead of the text — and the key is
/// random per run, so no file can be made to collide on purpose; a chance collision is
/// about one in 10^7 for a million rows (n² / 2⁶⁵).
pub struct FileKeys {
    hasher: std::collections::hash_map::RandomState,
    texts: LineTable,
    ids: HashMap<i64, u32>,
}

impl FileKeys {
    /// Keys of a file of about `rows` rows.
    pub fn new(rows: u64) -> Self {
        FileKeys {
            hasher: std::collections::hash_map::RandomState::new(),
            // Sized once for the whole file: growing would hold two tables at once.
            texts: LineTable::with_capacity(usize::try_from(rows).unwrap_or(0).min(50_000_000)),
            ids: HashMap::new(),
        }
    }

    fn hash(&self, text: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        text.hash(&mut h);
        std::hash::Hasher::finish(&h)
    }

    /// The line `text` was first met on, or `None` after remembering it for `line`.
    fn first_text(&mut self, text: &str, line: u64) -> Option<u64> {
        let h = self.hash(text);
        self.texts
            .first_or_insert(h, u32::try_from(line).unwrap_or(u32::MAX))
            .map(u64::from)
    }

    /// `row`, or the error of a row that repeats a key met on an earlier line. Rows are
    /// claimed whether or not they are written later, so a repeat of a refused row is
    /// refused too.
    pub fn claim(&mut self, row: RowOutcome) -> RowOutcome {
        let refused =
            |line: u64, column: &str, value: String, message: String| RowOutcome::Invalid {
                line,
                errors: vec![CellError {
                    column: Some(column.to_owned()),
                    value: Some(value),
                    message,
                }],
            };
        match &row {
            RowOutcome::Client(r) => {
                if let Some(id) = r.id
                    && let Some(first) = self.ids.get(&id)
                {
                    return refused(
                        r.line,
                        "ID",
                        id.to_string(),
                        format!("Client {id} is already on line {first} of this file"),
                    );
                }
                if let Some(email) = &r.email
                    && let Some(first) = self.first_text(&email.key(), r.line)
                {
                    return refused(
                        r.line,
                        "Email",
                        email.as_str().to_owned(),
                        format!(
                            "This email is already on line {first} of this file (emails are compared without regard to case)"
                        ),
                    );
                }
                if let Some(id) = r.id {
                    self.ids
                        .insert(id, u32::try_from(r.line).unwrap_or(u32::MAX));
                }
            }
            RowOutcome::Account(r) => {
                if let Some(first) = self.first_text(r.account_number.as_str(), r.line) {
                    return refused(
                        r.line,
                        "Account number",
                        r.account_number.as_str().to_owned(),
                        format!("This account number is already on line {first} of this file"),
                    );
                }
            }
            RowOutcome::Ib(_) | RowOutcome::Invalid { .. } => {}
        }
        row
    }
}

/// A set of 64-bit hashes, each with the line it was first met on: open addressing with
/// linear probing over two flat arrays, at most four fifths full. 12 bytes a slot and 15 a
/// key, where std's `HashMap<u64, u32>` pads its entries to 16 bytes and rounds its slots
/// up to a power of two (35 MB for a million keys against 15 MB here).
struct LineTable {
    /// 0 marks an empty slot (a hash of 0 is stored as 1).
    hashes: Vec<u64>,
    lines: Vec<u32>,
    len: usize,
}

impl LineTable {
    fn with_capacity(keys: usize) -> Self {
        let slots = keys.max(8).saturating_mul(5) / 4 + 1;
        LineTable {
            hashes: vec![0; slots],
            lines: vec![0; slots],
            len: 0,
        }
    }

    /// Where the probe for `hash` starts: the hash scaled to the table's length.
    fn home(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.hashes.len() as u128) >> 64) as usize
    }

    /// The line stored with `hash`, or `None` after storing `line` with it.
    fn first_or_insert(&mut self, hash: u64, line: u32) -> Option<u32> {
        let hash = hash.max(1);
        if (self.len + 1).saturating_mul(5) > self.hashes.len().saturating_mul(4) {
            self.grow();
        }
        let mut i = self.home(hash);
        loop {
            match self.hashes[i] {
                0 => {
                    self.hashes[i] = hash;
                    self.lines[i] = line;
                    self.len += 1;
                    return None;
                }
                h if h == hash => return Some(self.lines[i]),
                _ => i = if i + 1 == self.hashes.len() { 0 } else { i + 1 },
            }
        }
    }

    /// Twice as many slots, for a file longer than it was said to be.
    fn grow(&mut self) {
        let old = std::mem::replace(self, LineTable::with_capacity(self.len.saturating_mul(2)));
        for (hash, line) in old.hashes.into_iter().zip(old.lines) {
            if hash != 0 {
                self.first_or_insert(hash, line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImportAction;

    #[test]
    fn a_line_table_keeps_the_first_line_of_every_hash_as_it_grows() {
        let mut table = LineTable::with_capacity(4);
        let slots = table.hashes.len();
        // Spread over the whole range, with the two ends and 0 (stored as 1) among them.
        let hashes: Vec<u64> = (0..1_000u64)
            .map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .chain([u64::MAX, u64::MAX - 1])
            .collect();
        for (line, &h) in (2u32..).zip(&hashes) {
            assert_eq!(table.first_or_insert(h, line), None, "hash {h:#x} is new");
        }
        assert!(table.hashes.len() > slots, "the table grew");
        assert_eq!(table.len, hashes.len());
        for (line, &h) in (2u32..).zip(&hashes) {
            assert_eq!(table.first_or_insert(h, 9_999), Some(line), "hash {h:#x}");
        }
        assert_eq!(table.len, hashes.len(), "a repeat is not stored again");
        assert!(
            table.len * 5 <= table.hashes.len() * 4,
            "at most four fifths full"
        );
    }

    #[test]
    fn a_repeated_email_or_account_number_is_refused_with_its_first_line() {
        use crate::import::header::map_header;
        use crate::import::parse::Row;
        use crate::import::validate::{account_row, client_row};
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let header = map_header(ImportAction::Users, &["Email", "First name"]).unwrap();
        let client = |line: u64, email: &str| {
            let row = Row {
                line,
                fields: vec![email.into(), "Ann".into()],
            };
            RowOutcome::Client(Box::new(client_row(&header, &row, today).unwrap()))
        };
        let mut keys = FileKeys::new(10);
        assert!(matches!(
            keys.claim(client(2, "a@x.io")),
            RowOutcome::Client(_)
        ));
        assert!(matches!(
            keys.claim(client(3, "b@x.io")),
            RowOutcome::Client(_)
        ));
        let RowOutcome::Invalid { line, errors } = keys.claim(client(4, "A@X.io")) else {
            panic!("a repeated email must be refused");
        };
        assert_eq!(line, 4);
        assert_eq!(
            errors[0].message,
            "This email is already on line 2 of this file (emails are compared without regard to case)"
        );
        let header = map_header(
            ImportAction::Accounts,
            &["Email", "Account number", "Product ID", "Product currency"],
        )
        .unwrap();
        let account = |line: u64, number: &str| {
            let row = Row {
                line,
                fields: vec!["a@x.io".into(), number.into(), "1".into(), "USD".into()],
            };
            RowOutcome::Account(account_row(&header, &row).unwrap())
        };
        assert!(matches!(
            keys.claim(account(5, "A-1")),
            RowOutcome::Account(_)
        ));
        let RowOutcome::Invalid { errors, .. } = keys.claim(account(6, "A-1")) else {
            panic!("a repeated account number must be refused");
        };
        assert_eq!(
            errors[0].message,
            "This account number is already on line 5 of this file"
        );
    }
}
