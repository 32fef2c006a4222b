//! Mapping a file's columns to what they fill (SPEC §3.5): a field of the action, an
//! extra attribute of the client, or nothing. An operator chooses it in the import
//! wizard, a script passes it to the API; without one, the header rules of §3.1 apply.
//!
//! [`propose`] makes the first proposal for a file: the header rules, then a wider list
//! of names other systems use, then what the column holds.

use super::FileError;
use super::header::{Assigned, ColumnKey, HeaderMap, assemble, by_rules, columns, normalize};
use super::value::{CountryCode, Email, Phone, clean};
use crate::model::ImportAction;

/// What a column of a file is used for, as an operator or a script says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Field(ColumnKey),
    Extra(String),
    Ignore,
}

/// The longest name an extra attribute may have, in characters.
pub const MAX_EXTRA_NAME: usize = 100;

/// How a target is written in a mapping: `ignore` and `extra:NAME` are words of their own,
/// so that they never clash with a field's name.
const IGNORE: &str = "ignore";
const EXTRA: &str = "extra:";

impl Target {
    /// Reads a target: a field's name (as in the template, or one of its aliases, compared
    /// like header names), `extra:NAME` or `ignore`.
    pub fn parse(action: ImportAction, text: &str) -> Result<Target, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case(IGNORE) {
            return Ok(Target::Ignore);
        }
        if let Some(name) = text
            .get(..EXTRA.len())
            .filter(|p| p.eq_ignore_ascii_case(EXTRA))
            .map(|_| text[EXTRA.len()..].trim())
        {
            if action != ImportAction::Users {
                return Err(format!(
                    "Extra attributes are kept for clients only; `{text}` cannot be used by {}.",
                    action.as_str()
                ));
            }
            return extra_name(name).map(Target::Extra);
        }
        match super::header::column_named(action, text) {
            Some(column) => Ok(Target::Field(column.key)),
            None => Err(format!(
                "`{text}` is not a field of {}. Use one of: {}, `extra:NAME` or `ignore`.",
                action.as_str(),
                columns(action)
                    .iter()
                    .map(|c| format!("`{}`", c.label))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The target as [`Target::parse`] reads it.
    pub fn render(&self, action: ImportAction) -> String {
        match self {
            Target::Field(key) => label(action, *key).to_owned(),
            Target::Extra(name) => format!("{EXTRA}{name}"),
            Target::Ignore => IGNORE.to_owned(),
        }
    }
}

/// A field's name in the action's template.
pub fn label(action: ImportAction, key: ColumnKey) -> &'static str {
    columns(action)
        .iter()
        .find(|c| c.key == key)
        .map_or("?", |c| c.label)
}

/// An extra attribute's name: not empty, not too long, no control characters.
fn extra_name(name: &str) -> Result<String, String> {
    let name = clean(name).into_owned();
    if name.is_empty() {
        return Err("An extra attribute needs a name: write `extra:NAME`.".into());
    }
    if name.chars().count() > MAX_EXTRA_NAME {
        return Err(format!(
            "The extra attribute name `{}…` is longer than {MAX_EXTRA_NAME} characters.",
            name.chars().take(40).collect::<String>()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "The extra attribute name `{}` holds a control character.",
            name.escape_debug()
        ));
    }
    Ok(name)
}

/// The columns of a file a mapping names, each with what it fills. Columns it does not
/// name are used by the header rules of SPEC §3.1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    pub columns: Vec<(String, Target)>,
}

impl Mapping {
    /// Reads a mapping written as a JSON object (`{"E-mail": "Email", "Notes": "ignore",
    /// "Ref": "extra:Reference"}`) or as a list of `[column, target]` pairs, which is how
    /// a job keeps it.
    pub fn from_json(action: ImportAction, text: &str) -> Result<Mapping, String> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("The mapping is not valid JSON: {e}."))?;
        let pairs: Vec<(String, String)> = match value {
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(v) => Ok((k, v)),
                    other => Err(format!(
                        "The mapping of `{k}` is {other}; write a field's name, `extra:NAME` or `ignore`."
                    )),
                })
                .collect::<Result<_, _>>()?,
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|item| {
                    serde_json::from_value::<(String, String)>(item.clone()).map_err(|_| {
                        format!("The mapping entry {item} is not a [column, target] pair.")
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(
                    "The mapping must be a JSON object from file column to target.".into(),
                );
            }
        };
        let mut mapping = Mapping::default();
        for (column, target) in pairs {
            let target = Target::parse(action, &target)
                .map_err(|e| format!("The mapping of column `{}`: {e}", column.trim()))?;
            if mapping.target(&column).is_some() {
                return Err(format!(
                    "The mapping names column `{}` twice.",
                    column.trim()
                ));
            }
            mapping.columns.push((column.trim().to_owned(), target));
        }
        Ok(mapping)
    }

    /// The mapping as a job keeps it: `[column, target]` pairs in the order of the file.
    pub fn to_json(&self, action: ImportAction) -> String {
        let pairs: Vec<(&str, String)> = self
            .columns
            .iter()
            .map(|(c, t)| (c.as_str(), t.render(action)))
            .collect();
        serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
    }

    /// What the mapping says a column of this name fills: the entry of that exact name, or
    /// else the one whose name compares equal as a header name.
    pub fn target(&self, column: &str) -> Option<&Target> {
        let column = column.trim();
        self.columns
            .iter()
            .find(|(c, _)| c == column)
            .or_else(|| {
                let wanted = normalize(column);
                self.columns.iter().find(|(c, _)| normalize(c) == wanted)
            })
            .map(|(_, t)| t)
    }

    /// Matches a header line under this mapping. A column the mapping names that the file
    /// lacks refuses the file, like a duplicate or a missing required column.
    pub fn apply(&self, action: ImportAction, header: &[&str]) -> Result<HeaderMap, FileError> {
        for (column, _) in &self.columns {
            let wanted = normalize(column);
            if !header.iter().any(|h| normalize(h) == wanted) {
                return Err(FileError::Header(format!(
                    "The mapping names a column `{column}` that the file does not have. The file's columns: {}.",
                    header
                        .iter()
                        .map(|h| h.trim())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let assigned: Vec<Assigned> = header
            .iter()
            .map(|h| match self.target(h) {
                Some(Target::Field(key)) => Assigned::Field(*key),
                Some(Target::Extra(name)) => Assigned::Extra(name.clone()),
                Some(Target::Ignore) => Assigned::Ignore,
                None => by_rules(action, h),
            })
            .collect();
        assemble(action, header, &assigned, true)
    }
}

/// The key under which a mapping is remembered for files with the same columns: the
/// header names as compared (SPEC §3.1), sorted, so their order does not matter.
pub fn header_key(header: &[&str]) -> String {
    let mut names: Vec<String> = header.iter().map(|h| normalize(h)).collect();
    names.sort();
    names.join("\u{1F}")
}

/// Names other systems give a field (Wifox exports, common CRMs), tried after the header
/// rules when a mapping is proposed. They are not part of the rules themselves, so a file
/// imported without the wizard means what it meant before.
fn other_names(action: ImportAction) -> &'static [(ColumnKey, &'static [&'static str])] {
    use ColumnKey as K;
    match action {
        ImportAction::Users => &[
            (
                K::Email,
                &[
                    "E-mail",
                    "E-mail Address",
                    "Email Address",
                    "Mail",
                    "Primary email",
                ],
            ),
            (K::FirstName, &["Given name", "Forename", "First"]),
            (K::LastName, &["Surname", "Family name", "Last"]),
            (K::MiddleName, &["Middle", "Second name"]),
            (K::Username, &["Login", "Nickname"]),
            (
                K::DateOfBirth,
                &["DOB", "Birth date", "Birthdate", "Birthday"],
            ),
            (
                K::Country,
                &["Country code", "billing.country", "Country of residence"],
            ),
            (
                K::Phone,
                &[
                    "Mobile",
                    "Mobile phone",
                    "Mobile number",
                    "Telephone",
                    "Tel",
                    "Cell",
                ],
            ),
            (
                K::Address,
                &[
                    "Billing address",
                    "billing.address",
                    "Street",
                    "Street address",
                    "Address line 1",
                ],
            ),
            (K::City, &["billing.city", "Town"]),
            (
                K::PostalCode,
                &[
                    "Zip",
                    "Zip code",
                    "Postcode",
                    "Post code",
                    "billing.postcode",
                    "billing.zip",
                ],
            ),
            (K::VerificationLevel, &["KYC level", "Verification"]),
            (K::Type, &["Client type"]),
            (
                K::Created,
                &[
                    "Created at",
                    "Created date",
                    "Registration date",
                    "Registered",
                    "Date created",
                ],
            ),
        ],
        ImportAction::Accounts => &[
            (K::Email, &["E-mail", "Client email", "Email Address"]),
            (
                K::AccountNumber,
                &["Account", "Account no", "Account #", "Login", "Account ID"],
            ),
            (K::ProductId, &["Product"]),
            (K::Currency, &["Currency"]),
        ],
        ImportAction::Ibs => &[
            (K::IbEmail, &["Partner email", "IB", "Partner"]),
            (
                K::ClientEmail,
                &["Referral email", "Referred email", "Client"],
            ),
            (
                K::IbTypeId,
                &["Program ID", "Program", "IB program", "IB Type"],
            ),
        ],
    }
}

/// Why a column is proposed for its target, shown next to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The column's name is the field's (SPEC §3.1).
    Header,
    /// Another system's name for the field.
    OtherName,
    /// The column's name says nothing, but its values are all of the field's kind.
    Content(&'static str),
    /// The mapping chosen for the last file with these columns.
    Saved,
    /// A read-only column of one of our exports.
    ReadOnly,
    /// Nothing matched: kept as an extra attribute (clients) or ignored.
    Unmatched,
}

impl Reason {
    pub fn describe(self) -> String {
        match self {
            Reason::Header => "its name".into(),
            Reason::OtherName => "a name other systems use".into(),
            Reason::Content(what) => format!("its values look like {what}"),
            Reason::Saved => "the mapping saved for these columns".into(),
            Reason::ReadOnly => "a read-only column of an export".into(),
            Reason::Unmatched => "no field has this name".into(),
        }
    }
}

/// A proposed target for one column of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub column: String,
    pub target: Target,
    pub reason: Reason,
}

/// How many of a column's filled values must be of a kind for the column to be taken as
/// that kind, in percent.
const CONTENT_SHARE: usize = 90;

/// The field a column's values suggest, if they are all (nearly) of one kind.
fn by_content(action: ImportAction, values: &[&str]) -> Option<(ColumnKey, &'static str)> {
    let filled: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    if filled.is_empty() {
        return None;
    }
    let share = |test: &dyn Fn(&str) -> bool| {
        filled.iter().filter(|v| test(v)).count() * 100 >= filled.len() * CONTENT_SHARE
    };
    let iso_date = |v: &str| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
    let country = |v: &str| v.len() == 2 && CountryCode::parse(v).is_ok();
    let phone = |v: &str| v.starts_with('+') && Phone::parse(v).is_ok();
    match action {
        ImportAction::Users => {
            if share(&|v| Email::parse(v).is_ok()) {
                Some((ColumnKey::Email, "email addresses"))
            } else if share(&iso_date) {
                Some((ColumnKey::DateOfBirth, "dates"))
            } else if share(&country) {
                Some((ColumnKey::Country, "country codes"))
            } else if share(&phone) {
                Some((ColumnKey::Phone, "phone numbers"))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Proposes what each column of a file fills, from its name and from `samples` (the
/// first rows of the file, as read). A `saved` mapping for these columns wins over
/// everything else for the columns it names.
pub fn propose(
    action: ImportAction,
    header: &[&str],
    samples: &[Vec<String>],
    saved: Option<&Mapping>,
) -> Vec<Proposal> {
    let mut proposals: Vec<Option<Proposal>> = vec![None; header.len()];
    let taken = |proposals: &[Option<Proposal>], key: ColumnKey| {
        proposals
            .iter()
            .flatten()
            .any(|p| p.target == Target::Field(key))
    };
    let set = |proposals: &mut Vec<Option<Proposal>>, i: usize, target, reason| {
        proposals[i] = Some(Proposal {
            column: header[i].trim().to_owned(),
            target,
            reason,
        });
    };
    if let Some(saved) = saved {
        for (i, name) in header.iter().enumerate() {
            if let Some(target) = saved.target(name) {
                set(&mut proposals, i, target.clone(), Reason::Saved);
            }
        }
    }
    for (i, name) in header.iter().enumerate() {
        if proposals[i].is_some() {
            continue;
        }
        match by_rules(action, name) {
            Assigned::Field(key) if !taken(&proposals, key) => {
                set(&mut proposals, i, Target::Field(key), Reason::Header)
            }
            Assigned::ReadOnly => set(&mut proposals, i, Target::Ignore, Reason::ReadOnly),
            _ => {}
        }
    }
    for (i, name) in header.iter().enumerate() {
        let wanted = normalize(name);
        if proposals[i].is_some() {
            continue;
        }
        let other = other_names(action)
            .iter()
            .find(|(key, names)| {
                !taken(&proposals, *key) && names.iter().any(|n| normalize(n) == wanted)
            })
            .map(|(key, _)| *key);
        if let Some(key) = other {
            set(&mut proposals, i, Target::Field(key), Reason::OtherName);
        }
    }
    for i in 0..header.len() {
        if proposals[i].is_some() {
            continue;
        }
        let values: Vec<&str> = samples
            .iter()
            .filter_map(|row| row.get(i).map(String::as_str))
            .collect();
        if let Some((key, what)) = by_content(action, &values)
            && !taken(&proposals, key)
        {
            set(&mut proposals, i, Target::Field(key), Reason::Content(what));
        }
    }
    proposals
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            p.unwrap_or_else(|| {
                let name = clean(header[i]).into_owned();
                let target = match extra_name(&name) {
                    Ok(name) if action == ImportAction::Users => Target::Extra(name),
                    _ => Target::Ignore,
                };
                Proposal {
                    column: header[i].trim().to_owned(),
                    target,
                    reason: Reason::Unmatched,
                }
            })
        })
        .collect()
}

/// The mapping a set of proposals stands for.
pub fn mapping_of(proposals: &[Proposal]) -> Mapping {
    Mapping {
        columns: proposals
            .iter()
            .map(|p| (p.column.clone(), p.target.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnKey as K;

    fn users(text: &str) -> Result<Target, String> {
        Target::parse(ImportAction::Users, text)
    }

    #[test]
    fn targets_are_fields_extras_or_ignore() {
        assert_eq!(users("Email"), Ok(Target::Field(K::Email)));
        assert_eq!(users(" first_name "), Ok(Target::Field(K::FirstName)));
        assert_eq!(users("Phone"), Ok(Target::Field(K::Phone)), "an alias");
        assert_eq!(users("IGNORE"), Ok(Target::Ignore));
        assert_eq!(
            users("extra: External ID "),
            Ok(Target::Extra("External ID".into()))
        );
        assert_eq!(users("Extra:ref"), Ok(Target::Extra("ref".into())));
        let err = users("Shoe size").unwrap_err();
        assert!(
            err.starts_with(
                "`Shoe size` is not a field of import-users. Use one of: `ID`, `Email`"
            ),
            "{err}"
        );
        assert!(users("extra:").unwrap_err().contains("needs a name"));
        assert!(users(&format!("extra:{}", "x".repeat(101))).is_err());
        assert!(users("extra:a\u{7}b").unwrap_err().contains("control"));
        let err = Target::parse(ImportAction::Accounts, "extra:Ref").unwrap_err();
        assert!(err.contains("for clients only"), "{err}");
        for t in [
            Target::Field(K::PostalCode),
            Target::Extra("billing.region".into()),
            Target::Ignore,
        ] {
            assert_eq!(users(&t.render(ImportAction::Users)), Ok(t));
        }
    }

    #[test]
    fn a_mapping_is_read_from_an_object_or_pairs_and_kept_as_pairs() {
        let m = Mapping::from_json(
            ImportAction::Users,
            r#"{"Mail": "Email", "Ref": "extra:Reference", "Notes": "ignore"}"#,
        )
        .unwrap();
        assert_eq!(m.target("Mail"), Some(&Target::Field(K::Email)));
        assert_eq!(m.target("ref"), Some(&Target::Extra("Reference".into())));
        assert_eq!(m.target("Other"), None);
        let kept = m.to_json(ImportAction::Users);
        assert_eq!(Mapping::from_json(ImportAction::Users, &kept), Ok(m));
        for (bad, says) in [
            ("nonsense", "not valid JSON"),
            ("[1]", "not a [column, target] pair"),
            ("7", "must be a JSON object"),
            (r#"{"Mail": 3}"#, "The mapping of `Mail` is 3"),
            (
                r#"{"Mail": "Shoe"}"#,
                "The mapping of column `Mail`: `Shoe` is not a field",
            ),
            (
                r#"[["Mail","Email"],["Mail","ignore"]]"#,
                "names column `Mail` twice",
            ),
        ] {
            let err = Mapping::from_json(ImportAction::Users, bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn a_mapping_decides_the_columns_it_names_and_the_rules_the_rest() {
        let m = Mapping::from_json(
            ImportAction::Users,
            r#"{"Mail": "Email", "External ID": "extra:External ID", "City": "ignore"}"#,
        )
        .unwrap();
        let map = m
            .apply(
                ImportAction::Users,
                &["Mail", "First name", "City", "External ID", "Colour"],
            )
            .unwrap();
        assert_eq!(map.position(K::Email), Some(0));
        assert_eq!(map.position(K::FirstName), Some(1), "by the rules");
        assert!(!map.has(K::City));
        assert_eq!(map.ignored, vec!["City".to_owned()]);
        assert_eq!(map.extras, vec![("External ID".to_owned(), 3)]);
        assert_eq!(map.unknown, vec!["Colour".to_owned()]);
        let err = m
            .apply(ImportAction::Users, &["Mail", "City"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "The mapping names a column `External ID` that the file does not have. The file's columns: Mail, City."
        );
        let both = Mapping::from_json(ImportAction::Users, r#"{"Mail": "Email"}"#).unwrap();
        let err = both
            .apply(ImportAction::Users, &["Mail", "Email"])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Duplicate column: `Mail` (column 1) and `Email` (column 2)"),
            "{err}"
        );
    }

    fn rows(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    fn target_of<'a>(proposals: &'a [Proposal], column: &str) -> (&'a Target, Reason) {
        let p = proposals.iter().find(|p| p.column == column).unwrap();
        (&p.target, p.reason)
    }

    #[test]
    fn proposals_use_the_rules_then_other_names_then_content() {
        let header = [
            "E-mail Address",
            "Given name",
            "Surname",
            "Mobile",
            "Zip",
            "DOB",
            "billing.city",
            "Billing address",
            "Contact",
            "Born",
            "Nation",
            "External ID",
            "Updated",
            "Email",
        ];
        let samples = rows(&[
            &[
                "a@x.com",
                "Ann",
                "Lee",
                "+44 20 7946 0958",
                "SW1",
                "1990-01-02",
                "London",
                "1 High St",
                "b@y.com",
                "1980-03-04",
                "GB",
                "X-1",
                "2026-01-01",
                "c@z.com",
            ],
            &[
                "d@x.com",
                "Bo",
                "Ma",
                "+1 555 0100 200",
                "10001",
                "1991-05-06",
                "Paris",
                "2 Low St",
                "e@y.com",
                "1981-07-08",
                "fr",
                "X-2",
                "2026-01-01",
                "f@z.com",
            ],
        ]);
        let p = propose(ImportAction::Users, &header, &samples, None);
        assert_eq!(
            target_of(&p, "Email"),
            (&Target::Field(K::Email), Reason::Header)
        );
        assert_eq!(
            target_of(&p, "E-mail Address"),
            (&Target::Extra("E-mail Address".into()), Reason::Unmatched),
            "Email is taken by the column of that very name"
        );
        assert_eq!(
            target_of(&p, "Given name"),
            (&Target::Field(K::FirstName), Reason::OtherName)
        );
        assert_eq!(
            target_of(&p, "Surname"),
            (&Target::Field(K::LastName), Reason::OtherName)
        );
        assert_eq!(
            target_of(&p, "Mobile"),
            (&Target::Field(K::Phone), Reason::OtherName)
        );
        assert_eq!(
            target_of(&p, "Zip"),
            (&Target::Field(K::PostalCode), Reason::OtherName)
        );
        assert_eq!(
            target_of(&p, "DOB"),
            (&Target::Field(K::DateOfBirth), Reason::OtherName)
        );
        assert_eq!(
            target_of(&p, "billing.city"),
            (&Target::Field(K::City), Reason::OtherName)
        );
        assert_eq!(
            target_of(&p, "Billing address"),
            (&Target::Field(K::Address), Reason::OtherName)
        );
        assert_eq!(
            target_of(&p, "Nation"),
            (&Target::Field(K::Country), Reason::Content("country codes"))
        );
        assert_eq!(
            target_of(&p, "Contact"),
            (&Target::Extra("Contact".into()), Reason::Unmatched),
            "emails, but Email is taken"
        );
        assert_eq!(
            target_of(&p, "Born"),
            (&Target::Extra("Born".into()), Reason::Unmatched),
            "dates, but the date of birth is taken"
        );
        assert_eq!(
            target_of(&p, "External ID"),
            (&Target::Extra("External ID".into()), Reason::Unmatched)
        );
        assert_eq!(
            target_of(&p, "Updated"),
            (&Target::Ignore, Reason::ReadOnly)
        );
        let map = mapping_of(&p).apply(ImportAction::Users, &header).unwrap();
        assert_eq!(map.position(K::Phone), Some(3));
        assert_eq!(map.extras.len(), 4);
    }

    #[test]
    fn content_decides_only_when_nearly_every_value_agrees() {
        let header = ["Who", "When", "Where"];
        let samples = rows(&[
            &["a@x.com", "2001-01-01", "GB"],
            &["b@x.com", "01/02/2001", "Great Britain"],
            &["", "", ""],
        ]);
        let p = propose(ImportAction::Users, &header, &samples, None);
        assert_eq!(target_of(&p, "Who").0, &Target::Field(K::Email));
        assert_eq!(
            target_of(&p, "When").0,
            &Target::Extra("When".into()),
            "half are ISO dates"
        );
        assert_eq!(target_of(&p, "Where").0, &Target::Extra("Where".into()));
        let p = propose(ImportAction::Users, &header, &[], None);
        assert!(
            p.iter().all(|p| p.reason == Reason::Unmatched),
            "no values, no guess"
        );
        let p = propose(
            ImportAction::Accounts,
            &["Login", "Mail", "Notes"],
            &[],
            None,
        );
        assert_eq!(target_of(&p, "Login").0, &Target::Field(K::AccountNumber));
        assert_eq!(
            target_of(&p, "Notes").0,
            &Target::Ignore,
            "no extras but for clients"
        );
    }

    #[test]
    fn a_saved_mapping_wins_for_the_columns_it_names() {
        let saved = Mapping::from_json(
            ImportAction::Users,
            r#"{"Mobile": "ignore", "Ref": "extra:Reference", "Email": "Email"}"#,
        )
        .unwrap();
        let p = propose(
            ImportAction::Users,
            &["Email", "Mobile", "Ref", "Tel"],
            &[],
            Some(&saved),
        );
        assert_eq!(target_of(&p, "Mobile"), (&Target::Ignore, Reason::Saved));
        assert_eq!(
            target_of(&p, "Ref"),
            (&Target::Extra("Reference".into()), Reason::Saved)
        );
        assert_eq!(
            target_of(&p, "Email"),
            (&Target::Field(K::Email), Reason::Saved)
        );
        assert_eq!(
            target_of(&p, "Tel"),
            (&Target::Field(K::Phone), Reason::OtherName)
        );
    }

    #[test]
    fn header_keys_ignore_order_and_spelling() {
        assert_eq!(
            header_key(&["Email", "First name"]),
            header_key(&["first_name", " EMAIL"])
        );
        assert_ne!(header_key(&["Email"]), header_key(&["Email", "City"]));
    }
}
