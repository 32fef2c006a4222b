//! SeaORM entities, one per table of SPEC §2 (schema in the `migration` crate).

pub mod account;
pub mod api_token;
pub mod audit_event;
pub mod back_office_user;
pub mod client;
pub mod client_attribute;
pub mod desk;
pub mod ib_program;
pub mod import_change;
pub mod import_file_chunk;
pub mod import_job;
pub mod import_message;
pub mod introducing_broker;
pub mod notification;
pub mod project;
pub mod referral;
pub mod saved_mapping;
pub mod session;
pub mod user_scope;
