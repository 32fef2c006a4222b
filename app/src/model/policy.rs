//! Who may do what with imports (SPEC §1), written once: the server functions, the HTTP API,
//! the live stream, the lists, a client's page and the job's own log all ask here.
//!
//! - operators import, and see and revert their **own** imports;
//! - managers see every import, read-only, and do not import;
//! - admins import, and see and revert every import;
//! - managers and admins export the lists as CSV; operators do not;
//! - a user limited to some projects or desks (SPEC §2) sees only their own imports,
//!   whatever the role: another user's file, log and error report may hold clients of any
//!   desk.

use super::{CurrentUser, Role};

/// The roles that may start an import (and a validate-only run).
pub const IMPORTERS: &[Role] = &[Role::Operator, Role::Admin];

/// Whether `role` may start an import.
pub fn may_import(role: Role) -> bool {
    IMPORTERS.contains(&role)
}

/// The roles that may download lists as CSV (SPEC §1: managers and admins). Operators
/// browse the same lists but take no copy of the client base away.
pub const EXPORTERS: &[Role] = &[Role::Manager, Role::Admin];

/// Whether `role` may export lists as CSV.
pub fn may_export(role: Role) -> bool {
    EXPORTERS.contains(&role)
}

/// The one initiator whose jobs `user` is limited to, if any: an operator, and a user
/// limited to some desks, see only their own.
pub fn only_jobs_of(user: &CurrentUser) -> Option<i64> {
    (user.role == Role::Operator || user.desks.is_limited()).then_some(user.id)
}

/// Whether `user` may see a job started by `initiated_by`.
pub fn may_see_job(user: &CurrentUser, initiated_by: i64) -> bool {
    only_jobs_of(user).is_none_or(|own| own == initiated_by)
}

/// Whether `user` may confirm or revert a job started by `initiated_by`.
pub fn may_change_job(user: &CurrentUser, initiated_by: i64) -> bool {
    may_import(user.role) && may_see_job(user, initiated_by)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> CurrentUser {
        CurrentUser {
            id,
            email: format!("{id}@example.com"),
            role,
            desks: crate::model::Desks::All,
        }
    }

    #[test]
    fn the_matrix_of_spec_section_1() {
        let (own, other) = (7, 8);
        // (role, may import, sees own, sees other's, changes own, changes other's)
        for (role, import, see_own, see_other, change_own, change_other) in [
            (Role::Operator, true, true, false, true, false),
            (Role::Manager, false, true, true, false, false),
            (Role::Admin, true, true, true, true, true),
        ] {
            let u = user(own, role);
            assert_eq!(may_import(role), import, "{role:?}");
            assert_eq!(may_see_job(&u, own), see_own, "{role:?}");
            assert_eq!(may_see_job(&u, other), see_other, "{role:?}");
            assert_eq!(may_change_job(&u, own), change_own, "{role:?}");
            assert_eq!(may_change_job(&u, other), change_other, "{role:?}");
            assert_eq!(only_jobs_of(&u), (!see_other).then_some(own), "{role:?}");
        }
    }

    #[test]
    fn a_user_limited_to_some_desks_sees_only_their_own_imports() {
        let (own, other) = (7, 8);
        for role in [Role::Operator, Role::Manager] {
            let u = CurrentUser {
                desks: crate::model::Desks::Only(vec![1]),
                ..user(own, role)
            };
            assert!(may_see_job(&u, own), "{role:?}");
            assert!(!may_see_job(&u, other), "{role:?}");
            assert_eq!(only_jobs_of(&u), Some(own), "{role:?}");
        }
    }
}
