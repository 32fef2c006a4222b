//! Types shared by the server and the browser: what server functions take and return.

mod browse;
mod error;
mod import;
pub mod policy;
mod records;
mod user;

pub use browse::{
    ACCOUNT_SORTS, AccountFilter, CLIENT_SORTS, ClientDetails, ClientFilter, ClientList,
    Membership, PartnerRecord, ProgramDetails, ReferralRecord, Sort, TouchedBy, is_plain_date,
    param, plain_date,
};
pub use error::AppError;
pub use import::{
    ColumnProposal, Delimiter, ImportAction, JobStatus, MappingProposal, MappingStep,
};
pub use records::{
    AccountRecord, ActionColumns, AuditRecord, ClientRecord, ClientRef, ClientType, ImportDetails,
    ImportRules, JobRecord, MessageRecord, Named, NotificationRecord, Notifications, Page,
    ProgramRecord, ProjectRecord, UserRef,
};
pub use user::{CurrentUser, Desks, IssuedTokenView, NewUserPassword, Role, TokenView, UserView};

/// How many records each section of the back office holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SectionCounts {
    pub client_count: u64,
    pub account_count: u64,
    pub program_count: u64,
    pub import_count: u64,
}
