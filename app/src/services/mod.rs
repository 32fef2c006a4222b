//! Queries and mutations per area; small functions that take the database, so the
//! server functions, the HTTP API and the command line share them.

pub mod admin;
pub mod audit;
pub mod browse;
pub mod export;
pub mod import_views;
pub mod live;
pub mod notifications;
pub mod overview;
pub mod sign_in;
pub mod tokens;
pub mod users;

use crate::model::AppError;

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "database error");
        AppError::Internal
    }
}

/// Normalises an email address for comparison: trimmed and lower-case.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}
