//! One file per page.

pub mod account;
pub mod accounts;
pub mod admin;
pub mod admin_users;
pub mod clients;
pub mod ib_programs;
pub mod imports;
pub mod login;
pub mod not_found;
