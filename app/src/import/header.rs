//! Matching a file's header line to the columns of its action (SPEC §3.1): names are
//! compared after trimming and ignoring case, spaces, `_`, `-` and `.`.

use super::FileError;
use crate::model::ImportAction;

/// A column the engine understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnKey {
    Id,
    Email,
    FirstName,
    LastName,
    MiddleName,
    Username,
    DateOfBirth,
    Country,
    Phone,
    Address,
    City,
    PostalCode,
    VerificationLevel,
    Project,
    Desk,
    Active,
    Type,
    Created,
    AccountNumber,
    ProductId,
    Currency,
    IbEmail,
    ClientEmail,
    IbTypeId,
}

/// A column of an action: its key, the name shown to people, other accepted names, and
/// whether every file of the action must have it.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub key: ColumnKey,
    pub label: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

const fn col(key: ColumnKey, label: &'static str, required: bool) -> Column {
    Column {
        key,
        label,
        aliases: &[],
        required,
    }
}

const USERS: &[Column] = &[
    col(ColumnKey::Id, "ID", false),
    col(ColumnKey::Email, "Email", false),
    col(ColumnKey::FirstName, "First name", false),
    col(ColumnKey::LastName, "Last name", false),
    col(ColumnKey::MiddleName, "Middle name", false),
    col(ColumnKey::Username, "Username", false),
    col(ColumnKey::DateOfBirth, "Date of birth", false),
    col(ColumnKey::Country, "Country", false),
    Column {
        key: ColumnKey::Phone,
        label: "Phone number",
        aliases: &["Phone"],
        required: false,
    },
    col(ColumnKey::Address, "Address", false),
    col(ColumnKey::City, "City", false),
    col(ColumnKey::PostalCode, "Postal code", false),
    col(ColumnKey::VerificationLevel, "Verification level", false),
    col(ColumnKey::Project, "Project", false),
    col(ColumnKey::Desk, "Desk", false),
    col(ColumnKey::Active, "Active", false),
    col(ColumnKey::Type, "Type", false),
    col(ColumnKey::Created, "Created", false),
];

const ACCOUNTS: &[Column] = &[
    col(ColumnKey::Email, "Email", true),
    col(ColumnKey::AccountNumber, "Account number", true),
    col(ColumnKey::ProductId, "Product ID", true),
    col(ColumnKey::Currency, "Product currency", true),
];

const IBS: &[Column] = &[
    col(ColumnKey::IbEmail, "IB Email", true),
    col(ColumnKey::ClientEmail, "Client Email", false),
    col(ColumnKey::IbTypeId, "IB Type ID", true),
];

/// The columns of an action, in the order of its template.
pub fn columns(action: ImportAction) -> &'static [Column] {
    match action {
        ImportAction::Users => USERS,
        ImportAction::Accounts => ACCOUNTS,
        ImportAction::Ibs => IBS,
    }
}

/// A value that passes validation, shown in the template's example row.
fn example(key: ColumnKey) -> &'static str {
    match key {
        ColumnKey::Id | ColumnKey::Created | ColumnKey::Username | ColumnKey::MiddleName => "",
        ColumnKey::Email | ColumnKey::ClientEmail => "jane.doe@example.com",
        ColumnKey::FirstName => "Jane",
        ColumnKey::LastName => "Doe",
        ColumnKey::DateOfBirth => "1990-04-21",
        ColumnKey::Country => "GB",
        ColumnKey::Phone => "+442079460958",
        ColumnKey::Address => "1 High Street",
        ColumnKey::City => "London",
        ColumnKey::PostalCode => "SW1A 1AA",
        ColumnKey::VerificationLevel => "1",
        ColumnKey::Project | ColumnKey::Desk => "Default",
        ColumnKey::Active => "true",
        ColumnKey::Type => "personal",
        ColumnKey::AccountNumber => "100001",
        ColumnKey::ProductId => "1",
        ColumnKey::Currency => "USD",
        ColumnKey::IbEmail => "partner@example.com",
        ColumnKey::IbTypeId => "1",
    }
}

/// A template file for `action`: UTF-8 with a BOM (so spreadsheet programs read it as
/// UTF-8), the header line in template order and one example row.
pub fn template(action: ImportAction) -> String {
    let cols = columns(action);
    let header: Vec<&str> = cols.iter().map(|c| c.label).collect();
    let row: Vec<&str> = cols.iter().map(|c| example(c.key)).collect();
    format!("\u{FEFF}{}\r\n{}\r\n", header.join(","), row.join(","))
}

/// A header name as compared: trimmed, lower-case, without spaces, `_`, `-` and `.`.
///
/// ```
/// use app::import::header::normalize;
/// assert_eq!(normalize(" First_Name "), "firstname");
/// assert_eq!(normalize("FIRST NAME"), normalize("first-name"));
/// ```
pub fn normalize(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.') && !c.is_whitespace() && !is_invisible(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Zero-width characters that spreadsheet programs leave in cells (and a stray BOM).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Columns of our own exports that an import cannot set (they are shown, not imported):
/// a file exported from a list and imported back keeps them, and they are set aside
/// without a word of "unknown column".
pub fn read_only(action: ImportAction) -> &'static [&'static str] {
    match action {
        ImportAction::Users => &["Updated"],
        ImportAction::Accounts => &["First name", "Last name", "Created"],
        ImportAction::Ibs => &[],
    }
}

/// The column of `action` a header name means under the rules of SPEC §3.1.
pub fn column_named(action: ImportAction, name: &str) -> Option<&'static Column> {
    let name = normalize(name);
    columns(action)
        .iter()
        .find(|c| normalize(c.label) == name || c.aliases.iter().any(|a| normalize(a) == name))
}

/// What one column of a file is used for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assigned {
    /// It fills a field of the action.
    Field(ColumnKey),
    /// It is kept, per client, as the extra attribute of this name.
    Extra(String),
    /// The operator chose to leave it out.
    Ignore,
    /// A read-only column of one of our exports ([`read_only`]).
    ReadOnly,
    /// Nothing: its name means no field and no mapping said what it is.
    Unknown,
}

/// What a column is used for by the rules of SPEC §3.1 alone.
pub fn by_rules(action: ImportAction, name: &str) -> Assigned {
    if let Some(column) = column_named(action, name) {
        return Assigned::Field(column.key);
    }
    let name = normalize(name);
    if read_only(action).iter().any(|r| normalize(r) == name) {
        Assigned::ReadOnly
    } else {
        Assigned::Unknown
    }
}

/// Where each known column is in the file, and the header names that matched none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderMap {
    positions: Vec<(ColumnKey, usize)>,
    /// Columns kept as extra attributes: the attribute's name and the column's index.
    pub extras: Vec<(String, usize)>,
    /// Header names that are not columns of the action; listed once in the log.
    pub unknown: Vec<String>,
    /// Header names the mapping said to ignore.
    pub ignored: Vec<String>,
    /// Read-only columns of an export, set aside.
    pub read_only: Vec<String>,
    /// The number of fields of the header line; every row must have as many.
    pub width: usize,
}

impl HeaderMap {
    /// The field index of a column, if the file has it.
    pub fn position(&self, key: ColumnKey) -> Option<usize> {
        self.positions
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, i)| *i)
    }

    pub fn has(&self, key: ColumnKey) -> bool {
        self.position(key).is_some()
    }

    /// More than half of the file's columns match no field and would be left out.
    pub fn mostly_unknown(&self) -> bool {
        self.unknown.len() * 2 > self.width
    }
}

fn list(names: impl IntoIterator<Item = String>) -> String {
    names.into_iter().collect::<Vec<_>>().join(", ")
}

/// Matches a header line to the columns of `action`. A duplicate column or a missing
/// required column refuses the file, naming the columns expected and found.
pub fn map_header(action: ImportAction, header: &[&str]) -> Result<HeaderMap, FileError> {
    let assigned: Vec<Assigned> = header.iter().map(|h| by_rules(action, h)).collect();
    let map = assemble(action, header, &assigned, false);
    match (
        better_action(action, header, &assigned, map.as_ref().ok()),
        map,
    ) {
        (Some(better), Ok(_)) => Err(FileError::Header(better)),
        (Some(better), Err(FileError::Header(refused))) => {
            Err(FileError::Header(format!("{refused} {better}")))
        }
        (_, map) => map,
    }
}

/// Whether the header line is another action's file: all of that action's required
/// columns are there, it would use more of the file's columns than `action` and leave
/// fewer of them aside. (An accounts file imported as clients would otherwise
/// find every client by its email and "import" nothing, reported as a success.) Says
/// which action to choose, and which columns show it.
fn better_action(
    action: ImportAction,
    header: &[&str],
    assigned: &[Assigned],
    chosen: Option<&HeaderMap>,
) -> Option<String> {
    let used = |map: &HeaderMap| map.positions.len();
    // The columns `action` has no use for (also when it refused the file).
    let unknown = assigned.iter().filter(|a| **a == Assigned::Unknown).count();
    if unknown == 0 {
        return None;
    }
    let (other, map) = ImportAction::ALL
        .into_iter()
        .filter(|other| *other != action)
        .filter_map(|other| {
            let assigned: Vec<Assigned> = header.iter().map(|h| by_rules(other, h)).collect();
            assemble(other, header, &assigned, false)
                .ok()
                .map(|map| (other, map))
        })
        .max_by_key(|(_, map)| used(map))?;
    if chosen.is_some_and(|chosen| used(&map) <= used(chosen)) || map.unknown.len() >= unknown {
        return None;
    }
    let theirs: Vec<String> = map
        .positions
        .iter()
        .filter(|(key, _)| chosen.is_none_or(|c| !c.has(*key)))
        .map(|(_, at)| format!("`{}`", header[*at].trim()))
        .collect();
    Some(format!(
        "These columns make a file for {other}, not {action}: {} {} of {other}. Choose the \
         action {other} (or map the columns yourself with \"Review the mapping\").",
        list(theirs.iter().cloned()),
        if theirs.len() == 1 {
            "is a column"
        } else {
            "are columns"
        },
        other = other.as_str(),
        action = action.as_str(),
    ))
}

/// Builds the map of a header line whose columns are used as `assigned` says (one entry
/// per column). `mapped` says the operator chose the columns, which the message about a
/// missing column then mentions.
pub fn assemble(
    action: ImportAction,
    header: &[&str],
    assigned: &[Assigned],
    mapped: bool,
) -> Result<HeaderMap, FileError> {
    let known = columns(action);
    let mut map = HeaderMap {
        positions: Vec::new(),
        extras: Vec::new(),
        unknown: Vec::new(),
        ignored: Vec::new(),
        read_only: Vec::new(),
        width: header.len(),
    };
    let label = |key: ColumnKey| known.iter().find(|c| c.key == key).map_or("?", |c| c.label);
    for (index, (raw, target)) in header.iter().zip(assigned).enumerate() {
        if normalize(raw).is_empty() && !matches!(target, Assigned::Ignore | Assigned::Extra(_)) {
            return Err(FileError::Header(format!(
                "Column {} of the header line has no name. Every column needs a name.",
                index + 1
            )));
        }
        match target {
            Assigned::Field(key) => {
                if let Some((_, first)) = map.positions.iter().find(|(k, _)| k == key) {
                    return Err(FileError::Header(format!(
                        "Duplicate column: `{}` (column {}) and `{}` (column {}) are both `{}`. Keep one of them.",
                        header[*first].trim(),
                        first + 1,
                        raw.trim(),
                        index + 1,
                        label(*key)
                    )));
                }
                map.positions.push((*key, index));
            }
            Assigned::Extra(name) => {
                if let Some((_, first)) = map.extras.iter().find(|(n, _)| n == name) {
                    return Err(FileError::Header(format!(
                        "Duplicate extra attribute: `{}` (column {}) and `{}` (column {}) are both kept as `{name}`. Give one of them another name.",
                        header[*first].trim(),
                        first + 1,
                        raw.trim(),
                        index + 1,
                    )));
                }
                map.extras.push((name.clone(), index));
            }
            Assigned::Ignore => map.ignored.push(raw.trim().to_owned()),
            Assigned::ReadOnly => map.read_only.push(raw.trim().to_owned()),
            Assigned::Unknown => map.unknown.push(raw.trim().to_owned()),
        }
    }
    let missing: Vec<&Column> = known
        .iter()
        .filter(|c| c.required && !map.has(c.key))
        .collect();
    let identifies_clients =
        action != ImportAction::Users || map.has(ColumnKey::Id) || map.has(ColumnKey::Email);
    if !missing.is_empty() || !identifies_clients {
        let what = if missing.is_empty() {
            "Missing column: a client file needs `Email` (or `ID` to update clients by id)."
                .to_owned()
        } else {
            format!(
                "Missing required column{}: {}.",
                if missing.len() > 1 { "s" } else { "" },
                list(missing.iter().map(|c| format!("`{}`", c.label)))
            )
        };
        let how = if mapped {
            " Map a column of the file to each of them."
        } else {
            ""
        };
        return Err(FileError::Header(format!(
            "{what}{how} Expected: {}. Found: {}.",
            list(
                known
                    .iter()
                    .map(|c| format!("{}{}", c.label, if c.required { "*" } else { "" }))
            ),
            list(header.iter().map(|h| h.trim().to_owned()))
        )));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_template_is_a_file_that_imports_its_one_row() {
        use crate::import::prepare::{Limits, RowOutcome, prepare_mapped};
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        for action in [
            ImportAction::Users,
            ImportAction::Accounts,
            ImportAction::Ibs,
        ] {
            let file = template(action);
            let labels: Vec<&str> = columns(action).iter().map(|c| c.label).collect();
            let (header, row) = file.split_once("\r\n").unwrap();
            assert_eq!(header, format!("\u{FEFF}{}", labels.join(",")));
            assert!(
                row.contains('@') && row.ends_with("\r\n"),
                "{action:?}: {row}"
            );
            let prepared = prepare_mapped(
                file.as_bytes(),
                action,
                crate::model::Delimiter::Auto,
                None,
                Limits::default(),
            )
            .unwrap();
            let rows: Vec<RowOutcome> = prepared.rows(today).collect();
            assert_eq!(rows.len(), 1, "{action:?}");
            assert!(
                !matches!(rows[0], RowOutcome::Invalid { .. }),
                "{action:?}: {:?}",
                rows[0]
            );
        }
    }

    #[test]
    fn a_header_is_mostly_unknown_when_more_than_half_its_columns_match_nothing() {
        let mostly_unknown = |names: &[&str]| {
            map_header(ImportAction::Users, names)
                .unwrap()
                .mostly_unknown()
        };
        assert!(!mostly_unknown(&["Email", "First name", "Shoe size"]));
        assert!(!mostly_unknown(&["Email", "Shoe size"]), "half is not more");
        assert!(mostly_unknown(&["Email", "Shoe size", "Hat", "Pet"]));
    }

    #[test]
    fn a_file_of_another_action_is_refused_with_the_action_to_choose() {
        let accounts = ["Email", "Account number", "Product ID", "Product currency"];
        let Err(FileError::Header(why)) = map_header(ImportAction::Users, &accounts) else {
            panic!("an accounts file taken as clients");
        };
        assert_eq!(
            why,
            "These columns make a file for import-accounts, not import-users: `Account number`, \
             `Product ID`, `Product currency` are columns of import-accounts. Choose the action \
             import-accounts (or map the columns yourself with \"Review the mapping\")."
        );
        // Refused for a missing column, the file is told where it belongs.
        let Err(FileError::Header(why)) = map_header(ImportAction::Ibs, &accounts) else {
            panic!("an accounts file taken as IB rows");
        };
        assert!(why.starts_with("Missing required column"), "{why}");
        assert!(why.contains("Choose the action import-accounts"), "{why}");
        // The right action, and a clients file with a column of its own, are taken.
        assert!(map_header(ImportAction::Accounts, &accounts).is_ok());
        assert!(map_header(ImportAction::Users, &["Email", "First name", "Shoe size"]).is_ok());
        // An accounts export read back as accounts (its client names are read-only there).
        assert!(
            map_header(
                ImportAction::Accounts,
                &[
                    "Email",
                    "First name",
                    "Last name",
                    "Account number",
                    "Product ID",
                    "Product currency"
                ]
            )
            .is_ok()
        );
    }

    #[test]
    fn names_match_ignoring_case_spaces_and_separators() {
        let map = map_header(
            ImportAction::Users,
            &[
                "EMAIL",
                "firstName",
                "last_name",
                " Middle-Name ",
                "Phone",
                "Date.of.birth",
                "Shoe size",
            ],
        )
        .unwrap();
        assert_eq!(map.position(ColumnKey::Email), Some(0));
        assert_eq!(map.position(ColumnKey::FirstName), Some(1));
        assert_eq!(map.position(ColumnKey::LastName), Some(2));
        assert_eq!(map.position(ColumnKey::MiddleName), Some(3));
        assert_eq!(
            map.position(ColumnKey::Phone),
            Some(4),
            "alias of Phone number"
        );
        assert_eq!(map.position(ColumnKey::DateOfBirth), Some(5));
        assert_eq!(map.unknown, vec!["Shoe size".to_owned()]);
        assert_eq!(map.width, 7);
        assert!(!map.has(ColumnKey::Id));
        assert!(map.extras.is_empty() && map.ignored.is_empty());
    }

    #[test]
    fn read_only_columns_of_our_exports_are_set_aside_not_unknown() {
        let map = map_header(ImportAction::Users, &["ID", "Email", "Updated", "Colour"]).unwrap();
        assert_eq!(map.read_only, vec!["Updated".to_owned()]);
        assert_eq!(map.unknown, vec!["Colour".to_owned()]);
        let map = map_header(
            ImportAction::Accounts,
            &[
                "Account number",
                "Email",
                "First name",
                "Last name",
                "Product ID",
                "Product currency",
                "Created",
            ],
        )
        .unwrap();
        assert_eq!(map.read_only, vec!["First name", "Last name", "Created"]);
        assert!(map.unknown.is_empty());
        let map = map_header(ImportAction::Ibs, &["IB Email", "IB Type ID", "Updated"]).unwrap();
        assert_eq!(map.unknown, vec!["Updated".to_owned()], "no export has it");
    }

    #[test]
    fn assigned_columns_fill_fields_and_extras_and_are_checked_alike() {
        let header = ["Mail", "External ID", "Notes", "Nick"];
        let map = assemble(
            ImportAction::Users,
            &header,
            &[
                Assigned::Field(ColumnKey::Email),
                Assigned::Extra("External ID".into()),
                Assigned::Ignore,
                Assigned::Field(ColumnKey::Username),
            ],
            true,
        )
        .unwrap();
        assert_eq!(map.position(ColumnKey::Email), Some(0));
        assert_eq!(map.position(ColumnKey::Username), Some(3));
        assert_eq!(map.extras, vec![("External ID".to_owned(), 1)]);
        assert_eq!(map.ignored, vec!["Notes".to_owned()]);
        assert!(map.unknown.is_empty());
        let err = assemble(
            ImportAction::Users,
            &header,
            &[
                Assigned::Field(ColumnKey::Email),
                Assigned::Extra("X".into()),
                Assigned::Extra("X".into()),
                Assigned::Ignore,
            ],
            true,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Duplicate extra attribute: `External ID` (column 2) and `Notes` (column 3) are both kept as `X`. Give one of them another name."
        );
        let err = assemble(
            ImportAction::Accounts,
            &["a", "b"],
            &[Assigned::Field(ColumnKey::Email), Assigned::Ignore],
            true,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "Missing required columns: `Account number`, `Product ID`, `Product currency`. Map a column of the file to each of them."
            ),
            "{err}"
        );
    }

    #[test]
    fn a_duplicate_column_is_refused_with_both_names() {
        let err =
            map_header(ImportAction::Users, &["Email", "First name", "first_name"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Duplicate column: `First name` (column 2) and `first_name` (column 3) are both `First name`. Keep one of them."
        );
        let err = map_header(ImportAction::Users, &["Email", "Phone", "Phone number"]).unwrap_err();
        assert!(err.to_string().contains("are both `Phone number`"), "{err}");
    }

    #[test]
    fn missing_required_columns_are_named_with_what_was_expected_and_found() {
        let err =
            map_header(ImportAction::Accounts, &["Email", "Product ID", "Currency"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Missing required columns: `Account number`, `Product currency`. \
             Expected: Email*, Account number*, Product ID*, Product currency*. \
             Found: Email, Product ID, Currency."
        );
        let err = map_header(ImportAction::Users, &["First name", "City"]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Missing column: a client file needs `Email`"),
            "{err}"
        );
        assert!(
            map_header(ImportAction::Users, &["ID", "City"]).is_ok(),
            "updates by id"
        );
        assert!(map_header(ImportAction::Ibs, &["IB Email", "IB Type ID"]).is_ok());
    }

    #[test]
    fn nameless_columns_are_refused() {
        let err = map_header(ImportAction::Users, &["Email", "  ", "City"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("Column 2 of the header line has no name"),
            "{err}"
        );
    }

    #[test]
    fn invisible_characters_do_not_hide_a_name() {
        let map = map_header(
            ImportAction::Users,
            &["\u{FEFF}Email", "First\u{200B} name"],
        )
        .unwrap();
        assert_eq!(map.position(ColumnKey::Email), Some(0));
        assert_eq!(map.position(ColumnKey::FirstName), Some(1));
    }
}
