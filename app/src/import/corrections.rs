//! The corrections an operator makes while reviewing an import (SPEC §3.5): a cell of a
//! line given a new value, or a whole line dropped. They are kept with the job, in the order
//! they were made; the stored file stays as uploaded, and every run reads it through them,
//! so a run that is resumed after a crash applies each of them exactly as the first did.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One correction: `column` of `line` set to `new` (it was `old`), or, without a column,
/// the line dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub line: u64,
    /// The file's column (as its header names it); none: the line is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// Who made it (their email) and when (RFC 3339).
    pub by: String,
    pub at: String,
}

/// A job's corrections, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Corrections(pub Vec<Correction>);

impl Corrections {
    /// Reads the corrections a job keeps.
    pub fn from_json(text: &str) -> Result<Corrections, String> {
        serde_json::from_str(text).map_err(|e| format!("unreadable corrections: {e}"))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "[]".into())
    }

    /// Whether `line` is dropped.
    pub fn dropped(&self, line: u64) -> bool {
        self.0.iter().any(|c| c.line == line && c.column.is_none())
    }

    /// The corrections resolved against a file's header names: per line, dropped or the
    /// new value of each corrected field (by index; the latest correction of a cell wins).
    /// A correction of a column the header lacks is an error: the file changed under it.
    pub fn resolve(&self, header: &[String]) -> Result<Resolved, String> {
        let mut lines: HashMap<u64, LineFix> = HashMap::new();
        for c in &self.0 {
            let fix = lines.entry(c.line).or_default();
            match &c.column {
                None => fix.dropped = true,
                Some(column) => {
                    let index = header
                        .iter()
                        .position(|h| h.trim() == column.trim())
                        .ok_or_else(|| {
                            format!("a correction names a column `{column}` the file lacks")
                        })?;
                    let value = c.new.clone().unwrap_or_default();
                    match fix.cells.iter_mut().find(|(i, _)| *i == index) {
                        Some(cell) => cell.1 = value,
                        None => fix.cells.push((index, value)),
                    }
                }
            }
        }
        Ok(Resolved(lines))
    }
}

/// What to do with one line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineFix {
    pub dropped: bool,
    /// Field index and new value.
    pub cells: Vec<(usize, String)>,
}

/// Corrections by line, ready to apply while a file is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolved(HashMap<u64, LineFix>);

impl Resolved {
    pub fn get(&self, line: u64) -> Option<&LineFix> {
        self.0.get(&line)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `column` of `line` set to `new`, or without a column the line dropped, by an operator.
    pub(crate) fn fix(line: u64, column: Option<&str>, new: Option<&str>) -> Correction {
        Correction {
            line,
            column: column.map(str::to_owned),
            old: None,
            new: new.map(str::to_owned),
            by: "ops@example.com".into(),
            at: "2026-11-28T10:00:00Z".into(),
        }
    }

    #[test]
    fn corrections_resolve_by_line_and_the_latest_value_of_a_cell_wins() {
        let c = Corrections(vec![
            fix(3, Some("Country"), Some("FR")),
            fix(3, Some("Email"), Some("a@x.com")),
            fix(3, Some("Country"), Some("DE")),
            fix(5, None, None),
        ]);
        let header: Vec<String> = ["Email", "Country"].map(String::from).to_vec();
        let r = c.resolve(&header).unwrap();
        assert_eq!(
            r.get(3),
            Some(&LineFix {
                dropped: false,
                cells: vec![(1, "DE".into()), (0, "a@x.com".into())],
            })
        );
        assert!(r.get(5).unwrap().dropped);
        assert!(r.get(4).is_none());
        assert!(c.dropped(5) && !c.dropped(3));
        assert_eq!(Corrections::from_json(&c.to_json()), Ok(c.clone()));
        let err = c.resolve(&["Email".to_owned()]).unwrap_err();
        assert!(err.contains("`Country`"), "{err}");
        assert!(Corrections::from_json("{").is_err());
    }
}
