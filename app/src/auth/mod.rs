//! Who is calling: password hashing, the database-backed session store, and the
//! per-request resolution of the signed-in user with its timeouts.

pub mod password;
pub mod session_store;
pub mod throttle;

mod caller;

pub use caller::{Caller, SessionKeys, resolve_session_user, start_session};
