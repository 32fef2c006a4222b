#[cfg(feature = "ssr")]
use sea_orm::sea_query::StringLen;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an import file holds (SPEC §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImportAction {
    /// `import-users`: clients.
    #[serde(rename = "import-users")]
    Users,
    /// `import-accounts`: trading accounts of existing clients.
    #[serde(rename = "import-accounts")]
    Accounts,
    /// `import-ibs`: IB partners and their referrals.
    #[serde(rename = "import-ibs")]
    Ibs,
}

impl ImportAction {
    pub const ALL: [ImportAction; 3] = [
        ImportAction::Users,
        ImportAction::Accounts,
        ImportAction::Ibs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportAction::Users => "import-users",
            ImportAction::Accounts => "import-accounts",
            ImportAction::Ibs => "import-ibs",
        }
    }
}

impl fmt::Display for ImportAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImportAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImportAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown action `{s}`: expected import-users, import-accounts or import-ibs"
                )
            })
    }
}

/// Where a job is in its life (SPEC §3.3, §5). Stored, sent and filtered by its snake_case
/// name (`in_progress`); shown by its label (`In Progress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(
    feature = "ssr",
    sea_orm(rs_type = "String", db_type = "String(StringLen::None)")
)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Uploaded through the wizard: waiting for the operator to choose its column mapping
    /// (SPEC §3.5). No worker takes it.
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "awaiting_mapping"))]
    AwaitingMapping,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "new"))]
    New,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "in_progress"))]
    InProgress,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "awaiting_confirmation"))]
    AwaitingConfirmation,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "success"))]
    Success,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "success_with_errors"))]
    SuccessWithErrors,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "failed"))]
    Failed,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "reverted"))]
    Reverted,
    /// Dropped by its operator while awaiting its mapping or confirmation: nothing of it
    /// was written, and it will not run.
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "discarded"))]
    Discarded,
}

impl JobStatus {
    /// Every status, in the order of a job's life.
    pub const ALL: [JobStatus; 9] = [
        JobStatus::AwaitingMapping,
        JobStatus::New,
        JobStatus::InProgress,
        JobStatus::AwaitingConfirmation,
        JobStatus::Success,
        JobStatus::SuccessWithErrors,
        JobStatus::Failed,
        JobStatus::Reverted,
        JobStatus::Discarded,
    ];

    /// The name it is stored and sent as.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::AwaitingMapping => "awaiting_mapping",
            JobStatus::New => "new",
            JobStatus::InProgress => "in_progress",
            JobStatus::AwaitingConfirmation => "awaiting_confirmation",
            JobStatus::Success => "success",
            JobStatus::SuccessWithErrors => "success_with_errors",
            JobStatus::Failed => "failed",
            JobStatus::Reverted => "reverted",
            JobStatus::Discarded => "discarded",
        }
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            JobStatus::AwaitingMapping => "Awaiting mapping",
            JobStatus::New => "New",
            JobStatus::InProgress => "In Progress",
            JobStatus::AwaitingConfirmation => "Awaiting confirmation",
            JobStatus::Success => "Success",
            JobStatus::SuccessWithErrors => "Success with errors",
            JobStatus::Failed => "Failed",
            JobStatus::Reverted => "Reverted",
            JobStatus::Discarded => "Discarded",
        }
    }

    /// Waiting for a worker or being run: nothing about it is final yet.
    pub fn is_running(self) -> bool {
        matches!(self, JobStatus::New | JobStatus::InProgress)
    }

    /// Waiting for its operator (a mapping to choose, a validation to confirm): what a
    /// discard can drop.
    pub fn is_awaiting(self) -> bool {
        matches!(
            self,
            JobStatus::AwaitingMapping | JobStatus::AwaitingConfirmation
        )
    }

    /// A run that ended and may have written rows: what a revert can undo.
    pub fn is_revertible(self) -> bool {
        matches!(
            self,
            JobStatus::Success | JobStatus::SuccessWithErrors | JobStatus::Failed
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|j| j.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = JobStatus::ALL.iter().map(|j| j.as_str()).collect();
                format!(
                    "Unknown status `{s}`: expected one of {}.",
                    names.join(", ")
                )
            })
    }
}

/// The field separator of an import file; `Auto` sniffs it from the header line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delimiter {
    #[default]
    Auto,
    Comma,
    Semicolon,
    Tab,
}

impl Delimiter {
    pub const ALL: [Delimiter; 4] = [
        Delimiter::Auto,
        Delimiter::Comma,
        Delimiter::Semicolon,
        Delimiter::Tab,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Delimiter::Auto => "auto",
            Delimiter::Comma => "comma",
            Delimiter::Semicolon => "semicolon",
            Delimiter::Tab => "tab",
        }
    }

    /// The separator byte, or `None` for `Auto`.
    pub fn byte(self) -> Option<u8> {
        match self {
            Delimiter::Auto => None,
            Delimiter::Comma => Some(b','),
            Delimiter::Semicolon => Some(b';'),
            Delimiter::Tab => Some(b'\t'),
        }
    }
}

impl FromStr for Delimiter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Delimiter::ALL
            .into_iter()
            .find(|d| d.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!("unknown delimiter `{s}`: expected auto, comma, semicolon or tab")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_statuses_are_sent_and_parsed_by_their_stored_names() {
        for status in JobStatus::ALL {
            let sent = serde_json::to_string(&status).unwrap();
            assert_eq!(sent, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<JobStatus>(&sent).unwrap(), status);
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(status));
        }
        let unknown = "done".parse::<JobStatus>().unwrap_err();
        assert!(unknown.contains("`done`") && unknown.contains("success_with_errors"));
        let running: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_running())
            .collect();
        assert_eq!(running, [JobStatus::New, JobStatus::InProgress]);
        let revertible: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_revertible())
            .collect();
        assert_eq!(
            revertible,
            [
                JobStatus::Success,
                JobStatus::SuccessWithErrors,
                JobStatus::Failed
            ]
        );
    }

    #[test]
    fn actions_and_delimiters_round_trip_through_their_names() {
        for a in ImportAction::ALL {
            assert_eq!(a.as_str().parse::<ImportAction>(), Ok(a));
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        }
        for d in Delimiter::ALL {
            assert_eq!(d.as_str().parse::<Delimiter>(), Ok(d));
        }
        assert!(
            "import-clients"
                .parse::<ImportAction>()
                .unwrap_err()
                .contains("import-users")
        );
        assert_eq!("Tab".parse::<Delimiter>(), Ok(Delimiter::Tab));
    }
}

/// One column of a file, as the mapping step shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnProposal {
    pub column: String,
    /// A few filled values of the column, as read.
    pub samples: Vec<String>,
    /// The proposed target: a field's name, `extra:NAME` or `ignore`.
    pub target: String,
    /// Why it is proposed.
    pub reason: String,
}

/// The proposed mapping of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingProposal {
    pub columns: Vec<ColumnProposal>,
    /// The proposal is the mapping saved for files with these columns.
    pub saved: bool,
}

/// The mapping step of the import wizard: the job, its columns with their proposals, and
/// the targets a column may be given (besides an extra attribute of its own name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingStep {
    pub job: super::JobRecord,
    pub proposal: MappingProposal,
    /// The action's fields, as targets are written.
    pub fields: Vec<String>,
    /// The fields a file of the action must fill.
    pub required: Vec<String>,
    /// Whether columns may be kept as extra attributes (client files).
    pub extras: bool,
    /// How many of the file's columns match no field of the action by their names (the
    /// header rules of SPEC §3.1); when most do, the page says so.
    pub unmatched: usize,
}

impl MappingStep {
    /// Most of the file's columns match no field by their names: the file is probably
    /// another system's export, or for another action.
    pub fn mostly_unmatched(&self) -> bool {
        self.unmatched * 2 > self.proposal.columns.len()
    }
}
