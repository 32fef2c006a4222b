//! Queries and mutations per area; small functions that take the database, so the
//! server functions, the HTTP API and the command line share them.

pub mod admin;
pub mod audit;
pub mod browse;
pub mod export;
pub mod import_views;
pub mod live;
pub mod mapping;
pub mod notifications;
pub mod overview;
pub mod review;
pub mod scope;
pub mod sign_in;
pub mod tokens;
pub mod users;

use crate::model::AppError;

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        if holds_a_nul(&e) {
            return AppError::Request(
                "The text contains a NUL character (\\0), which is not allowed.".into(),
            );
        }
        tracing::error!(error = %e, "database error");
        AppError::Internal
    }
}

/// PostgreSQL refuses text holding a NUL character wherever it meets it (SQLSTATE 22021), in a
/// search term as in a value to store: the request's fault, not the server's.
fn holds_a_nul(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let (DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))) = e else {
        return false;
    };
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "22021")
}

/// Normalises an email address for comparison: trimmed and lower-case.
pub fn email_key(email: &str) -> String {
    crate::model::fold_case(email.trim())
}
