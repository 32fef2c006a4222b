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

/// Where each known column is in the file, and the header names that matched none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderMap {
    positions: Vec<(ColumnKey, usize)>,
    /// Header names that are not columns of the action; listed once in the log.
    pub unknown: Vec<String>,
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
}

fn list(names: impl IntoIterator<Item = String>) -> String {
    names.into_iter().collect::<Vec<_>>().join(", ")
}

/// Matches a header line to the columns of `action`. A duplicate column or a missing
/// required column refuses the file, naming the columns expected and found.
pub fn map_header(action: ImportAction, header: &[&str]) -> Result<HeaderMap, FileError> {
    let known = columns(action);
    let mut positions: Vec<(ColumnKey, usize)> = Vec::new();
    let mut unknown = Vec::new();
    for (index, raw) in header.iter().enumerate() {
        let name = normalize(raw);
        if name.is_empty() {
            return Err(FileError::Header(format!(
                "Column {} of the header line has no name. Every column needs a name.",
                index + 1
            )));
        }
        let column = known
            .iter()
            .find(|c| normalize(c.label) == name || c.aliases.iter().any(|a| normalize(a) == name));
        match column {
            Some(column) => {
                if let Some((_, first)) = positions.iter().find(|(k, _)| *k == column.key) {
                    return Err(FileError::Header(format!(
                        "Duplicate column: `{}` (column {}) and `{}` (column {}) are both `{}`. Keep one of them.",
                        header[*first].trim(),
                        first + 1,
                        raw.trim(),
                        index + 1,
                        column.label
                    )));
                }
                positions.push((column.key, index));
            }
            None => unknown.push(raw.trim().to_owned()),
        }
    }
    let missing: Vec<&Column> = known
        .iter()
        .filter(|c| c.required && !positions.iter().any(|(k, _)| *k == c.key))
        .collect();
    let identifies_clients = action != ImportAction::Users
        || positions
            .iter()
            .any(|(k, _)| matches!(k, ColumnKey::Id | ColumnKey::Email));
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
        return Err(FileError::Header(format!(
            "{what} Expected: {}. Found: {}.",
            list(
                known
                    .iter()
                    .map(|c| format!("{}{}", c.label, if c.required { "*" } else { "" }))
            ),
            list(header.iter().map(|h| h.trim().to_owned()))
        )));
    }
    Ok(HeaderMap {
        positions,
        unknown,
        width: header.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
