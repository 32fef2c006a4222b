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

/// Every status a job can have, in the order of its life (SPEC §3.3, §5).
pub const JOB_STATUSES: [&str; 7] = [
    "new",
    "in_progress",
    "awaiting_confirmation",
    "success",
    "success_with_errors",
    "failed",
    "reverted",
];

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
