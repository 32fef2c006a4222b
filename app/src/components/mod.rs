//! Pieces shared by the pages.

pub mod bell;
pub mod forms;
pub mod import_form;
pub mod layout;
pub mod listing;
pub mod live;
pub mod notice;
