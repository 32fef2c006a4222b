//! What the browsing pages ask for (SPEC §4): a search, filters and a sort, read from the
//! page's address (so every view is a link, and works without JavaScript) and sent to
//! the server, which checks every value again.

use super::{AccountRecord, ClientRecord, ClientRef, JobRecord, Named, Page, ProgramRecord};
use serde::{Deserialize, Serialize};

/// A sort: a column name from the list's own set, and its direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    pub column: Option<String>,
    pub desc: bool,
}

impl Sort {
    /// `?sort=last_name&dir=desc`.
    pub fn from_query(get: &impl Fn(&str) -> Option<String>) -> Sort {
        Sort {
            column: get("sort"),
            desc: get("dir").as_deref() == Some("desc"),
        }
    }

    /// The column to sort by, if it is one of `allowed`.
    pub fn checked(&self, allowed: &[&str]) -> Result<Option<String>, String> {
        match &self.column {
            None => Ok(None),
            Some(c) if allowed.contains(&c.as_str()) => Ok(Some(c.clone())),
            Some(c) => Err(format!(
                "Cannot sort by `{c}`: sort by one of {}.",
                allowed.join(", ")
            )),
        }
    }
}

/// The columns a client list sorts by.
pub const CLIENT_SORTS: [&str; 11] = [
    "id",
    "first_name",
    "last_name",
    "email",
    "project",
    "desk",
    "active",
    "type",
    "country",
    "verification_level",
    "created_at",
];

/// The columns an account list sorts by.
pub const ACCOUNT_SORTS: [&str; 5] = [
    "account_number",
    "client",
    "product_id",
    "currency",
    "created_at",
];

fn parse<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<Option<T>, String> {
    value
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| format!("`{name}` cannot be `{v}`."))
        })
        .transpose()
}

/// `text` as a date when it is one as a person writes it, `YYYY-MM-DD` of the years 1 to 9999
/// (chrono alone also reads `+262142-12-31`, whose next day does not exist).
pub fn plain_date(text: &str) -> Option<chrono::NaiveDate> {
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && !text.starts_with("0000");
    well_formed
        .then(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// Whether `text` is a [`plain_date`].
pub fn is_plain_date(text: &str) -> bool {
    plain_date(text).is_some()
}

/// A date of the form `YYYY-MM-DD`.
fn date(name: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value {
        Some(v) if !is_plain_date(&v) => {
            let shown: String = v.chars().take(40).collect();
            Err(format!(
                "`{name}` must be a date like 2026-01-31, not {shown:?}."
            ))
        }
        v => Ok(v),
    }
}

/// The clients list's search and filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFilter {
    pub search: Option<String>,
    pub project: Option<i64>,
    pub desk: Option<i64>,
    pub active: Option<bool>,
    pub client_type: Option<String>,
    pub country: Option<String>,
    pub verification_level: Option<i32>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub sort: Sort,
}

/// A query parameter, trimmed, with an empty value taken as absent.
pub fn param(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl ClientFilter {
    /// Reads the filters from the page's (or the API's) query parameters.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |k: &str| param(get(k));
        let active = match get("active").as_deref() {
            None => None,
            Some("true" | "yes" | "1") => Some(true),
            Some("false" | "no" | "0") => Some(false),
            Some(other) => return Err(format!("`active` is true or false, not `{other}`.")),
        };
        let client_type = get("type");
        if let Some(t) = &client_type
            && t != "personal"
            && t != "corporate"
        {
            return Err(format!("`type` is personal or corporate, not `{t}`."));
        }
        let filter = ClientFilter {
            search: get("search"),
            project: parse("project", get("project"))?,
            desk: parse("desk", get("desk"))?,
            active,
            client_type,
            country: get("country").map(|c| c.to_uppercase()),
            verification_level: parse("verification_level", get("verification_level"))?,
            created_from: date("created_from", get("created_from"))?,
            created_to: date("created_to", get("created_to"))?,
            sort: Sort::from_query(&get),
        };
        filter.sort.checked(&CLIENT_SORTS)?;
        Ok(filter)
    }
}

/// The accounts list's search and filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFilter {
    pub search: Option<String>,
    pub currency: Option<String>,
    pub product_id: Option<i64>,
    pub sort: Sort,
}

impl AccountFilter {
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |k: &str| param(get(k));
        let filter = AccountFilter {
            search: get("search"),
            currency: get("currency").map(|c| c.to_uppercase()),
            product_id: parse("product_id", get("product_id"))?,
            sort: Sort::from_query(&get),
        };
        filter.sort.checked(&ACCOUNT_SORTS)?;
        Ok(filter)
    }
}

/// A page of clients and what the filter form offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientList {
    pub page: Page<ClientRecord>,
    /// Whether `page.total` is the exact total; otherwise there are more rows than it.
    pub total_exact: bool,
    pub projects: Vec<Named>,
    /// Desks, named with their project.
    pub desks: Vec<Named>,
}

/// A program a client is a partner in, with how many clients they referred there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub program: Named,
    pub referrals: u64,
}

/// A referral: who referred whom, in which program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralRecord {
    pub program: Named,
    pub partner: ClientRef,
    pub client: ClientRef,
    pub created_at: String,
}

/// An import that created or changed a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchedBy {
    pub job: JobRecord,
    /// `created` or `updated`.
    pub operation: String,
}

/// A client's page (SPEC §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDetails {
    pub client: ClientRecord,
    pub accounts: Vec<AccountRecord>,
    pub memberships: Vec<Membership>,
    pub referred_by: Vec<ReferralRecord>,
    pub referrals: Vec<ReferralRecord>,
    pub imports: Vec<TouchedBy>,
    /// Extra attributes (name, value), by name.
    pub attributes: Vec<(String, String)>,
}

/// A partner of a program, with their referral count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerRecord {
    pub client: ClientRef,
    pub referrals: u64,
    pub joined_at: String,
}

/// A program's page: its partners or its referred clients, a page at a time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramDetails {
    pub program: ProgramRecord,
    pub partners: Option<Page<PartnerRecord>>,
    pub clients: Option<Page<ReferralRecord>>,
}

#[cfg(test)]
mod tests {
    use super::is_plain_date;

    #[test]
    fn filter_dates_are_what_a_person_writes() {
        for good in ["2026-01-31", "0001-01-01", "9999-12-31", "2024-02-29"] {
            assert!(is_plain_date(good), "{good}");
        }
        // chrono alone reads signed years up to its last day, whose next day overflows it.
        let last = chrono::NaiveDate::parse_from_str("+262142-12-31", "%Y-%m-%d");
        assert_eq!(last, Ok(chrono::NaiveDate::MAX));
        for bad in [
            "+262142-12-31",
            "+262143-12-31",
            "+9999-12-31",
            " 262143-12-31",
            "262143-12-31",
            "-0001-01-01",
            "0000-01-01",
            "2023-02-29",
            "2024-1-5",
            "2024-01-05 ",
            "31.12.2024",
            "",
        ] {
            assert!(!is_plain_date(bad), "{bad:?}");
        }
    }
}
