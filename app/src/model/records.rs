//! Records as the HTTP API (SPEC §5) and the pages show them: snake_case names of §2,
//! dates as ISO 8601 text.

#[cfg(feature = "ssr")]
use sea_orm::sea_query::StringLen;

use super::JobStatus;
use serde::{Deserialize, Serialize};

/// A page of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// A record referred to by id and name (a client's project or desk).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// A back-office user referred to by id and email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: i64,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub verification_level: i32,
    pub project: Named,
    pub desk: Named,
    pub active: bool,
    #[serde(rename = "type")]
    pub client_type: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The client an account belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRef {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: i64,
    pub account_number: String,
    pub client: ClientRef,
    pub product_id: i64,
    pub currency: String,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRecord {
    pub id: i64,
    pub name: String,
    pub partners: u64,
    pub referrals: u64,
    pub created_at: String,
}

/// An import job (SPEC §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub action: String,
    pub status: JobStatus,
    pub validate_only: bool,
    /// Runs in bulk mode: the client search indexes are rebuilt at its end.
    #[serde(default)]
    pub bulk: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub confirmed_at: Option<String>,
    pub reverted_at: Option<String>,
    pub initiated_by: UserRef,
    pub file_name: String,
    pub file_size: i64,
    pub encoding: Option<String>,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub errors: i64,
    /// The column mapping the job was run with, `[file column, target]` pairs (the file's
    /// order when chosen in the wizard, by column name when an API call sent an object);
    /// none when the header rules of SPEC §3.1 decided alone.
    #[serde(default)]
    pub mapping: Option<Vec<(String, String)>>,
}

/// A log or error message of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub line: Option<i64>,
    pub column: Option<String>,
    pub value: Option<String>,
    pub level: String,
    pub message: String,
}

/// What a job's details page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportDetails {
    pub job: JobRecord,
    /// Whether the viewer may confirm or revert it.
    pub can_change: bool,
    /// One page of the log, oldest first.
    pub log: Page<MessageRecord>,
    /// One page of the row errors, in file order.
    pub errors: Page<MessageRecord>,
    /// A validate-only run's sample of what confirming would change (field by field).
    pub changes: Vec<MessageRecord>,
}

/// A message under the bell: a job of the user's ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub id: i64,
    pub job_id: Option<i64>,
    /// The title of the import it is about.
    pub job_title: Option<String>,
    pub text: String,
    pub created_at: String,
    pub read: bool,
    /// Whether the job has row errors, so the error report can be offered.
    pub job_errors: i64,
}

/// The bell: how many are unread, and the latest few.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    pub unread: u64,
    pub latest: Vec<NotificationRecord>,
}

/// The columns of one import action, for the import dialog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionColumns {
    pub action: String,
    pub required: Vec<String>,
    pub optional: Vec<String>,
    /// What the column lists alone do not say.
    pub note: String,
}

/// What the import dialog tells the user before they upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRules {
    pub max_bytes: u64,
    pub max_rows: u64,
    /// Whether the viewer's role may import at all.
    pub can_import: bool,
    pub actions: Vec<ActionColumns>,
}

/// A project and its desks (Admin → Projects and desks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub id: i64,
    pub name: String,
    pub desks: Vec<Named>,
    pub clients: u64,
}

/// An entry of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub actor: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub details: Option<String>,
    pub remote_addr: Option<String>,
}

/// A client's type (SPEC §2), stored as its lower-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(
    feature = "ssr",
    sea_orm(rs_type = "String", db_type = "String(StringLen::None)")
)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "personal"))]
    Personal,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "corporate"))]
    Corporate,
}

impl ClientType {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "personal" => Ok(ClientType::Personal),
            "corporate" => Ok(ClientType::Corporate),
            _ => Err(format!(
                "`{text}` is not a client type: use personal or corporate"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Personal => "personal",
            ClientType::Corporate => "corporate",
        }
    }
}
