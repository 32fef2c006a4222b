//! Types shared by the server and the browser: what server functions take and return.

mod error;
mod import;
mod records;
mod user;

pub use error::AppError;
pub use import::{Delimiter, ImportAction, JOB_STATUSES};
pub use records::{
    AccountRecord, ClientRecord, ClientRef, ImportDetails, JobRecord, MessageRecord, Named, Page,
    ProgramRecord, UserRef,
};
pub use user::{CurrentUser, IssuedTokenView, NewUserPassword, Role, TokenView, UserView};

/// How many records each section of the back office holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SectionCounts {
    pub client_count: u64,
    pub account_count: u64,
    pub program_count: u64,
    pub import_count: u64,
}
