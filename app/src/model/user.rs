use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a back-office user may do (SPEC §1). Stored as its lower-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Operator,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Operator, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// The label shown in the interface.
    pub fn label(self) -> &'static str {
        match self {
            Role::Operator => "Operator",
            Role::Manager => "Manager",
            Role::Admin => "Admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "operator" => Ok(Role::Operator),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}`: expected operator, manager or admin"
            )),
        }
    }
}

/// The desks whose clients a user sees, exports and imports (SPEC §2, §8).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Desks {
    /// Every desk: admins, and users limited to nothing.
    #[default]
    All,
    /// Only these desks (by id): a user limited to some projects or desks. Empty when
    /// the projects they are limited to have no desk.
    Only(Vec<i64>),
}

impl Desks {
    /// Whether a client on desk `desk` is within these desks.
    pub fn allows(&self, desk: i64) -> bool {
        match self {
            Desks::All => true,
            Desks::Only(desks) => desks.contains(&desk),
        }
    }

    pub fn is_limited(&self) -> bool {
        matches!(self, Desks::Only(_))
    }
}

/// The signed-in user as the interface needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub role: Role,
    /// The desks the user is limited to, resolved when the request began.
    pub desks: Desks,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A back-office user as listed on Admin → Users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// The projects (`p:ID`) and desks (`d:ID`) the user is limited to; empty: none.
    pub scope: Vec<String>,
}

/// A password that the server generated; shown to the admin exactly once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUserPassword {
    pub email: String,
    pub password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_in_any_case_and_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.label().to_uppercase().parse::<Role>(), Ok(role));
        }
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.contains("`root`"), "{err}");
    }
}

/// An API token as listed to admins (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub owner_email: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token just issued: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTokenView {
    pub id: i64,
    pub name: String,
    pub owner_email: String,
    pub secret: String,
}
