//! Who may call what: one row for every route of the HTTP API, every server function and
//! every page. The API's routes are added only through this table ([`crate::api::routes`]
//! refuses to start with a route that has no row), and the authorization matrix test
//! (`server/tests/access.rs`) calls every row as every kind of caller and checks the answer
//! against the row, and that the server functions and pages the app registers are exactly
//! the ones listed here.
//!
//! The rules themselves are enforced where the request is handled, by asking
//! `app::model::policy` and `app::api::authorize`; this table is what they must add up to.

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Anyone, signed in or not.
    Everyone,
    /// Any signed-in user (or API token).
    SignedIn,
    /// Those who import: operators and admins.
    Importers,
    /// Those who export lists as CSV: managers and admins.
    Exporters,
    /// Admins only.
    Admins,
    /// Those who may see the import: its initiator, managers and admins.
    SeesJob,
    /// Those who may confirm or revert the import: its initiator and admins.
    ChangesJob,
}

/// One route: its method, its path as the router spells it, and who may call it.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub allowed: Allowed,
}

const fn row(method: &'static str, path: &'static str, allowed: Allowed) -> Endpoint {
    Endpoint {
        method,
        path,
        allowed,
    }
}

use Allowed::*;

/// The HTTP API (SPEC §5) and the other routes the server adds beside the pages.
pub const API: &[Endpoint] = &[
    row("GET", "/api/v1/imports", SignedIn),
    row("POST", "/api/v1/imports", Importers),
    row("POST", "/imports/upload", Importers),
    row("GET", "/api/v1/imports/events", SignedIn),
    row("GET", "/templates/{name}", SignedIn),
    row("GET", "/api/v1/imports/{id}", SeesJob),
    row("GET", "/api/v1/imports/{id}/messages", SeesJob),
    row("GET", "/api/v1/imports/{id}/errors.csv", SeesJob),
    row("GET", "/api/v1/imports/{id}/file", SeesJob),
    row("POST", "/api/v1/imports/{id}/confirm", ChangesJob),
    row("POST", "/api/v1/imports/{id}/discard", ChangesJob),
    row("POST", "/api/v1/imports/{id}/revert", ChangesJob),
    row("GET", "/api/v1/clients", SignedIn),
    row("GET", "/api/v1/clients.csv", Exporters),
    row("GET", "/api/v1/accounts.csv", Exporters),
    row("GET", "/api/v1/clients/{id}", SignedIn),
    row("GET", "/api/v1/accounts", SignedIn),
    row("GET", "/api/v1/ib-programs", SignedIn),
    row("POST", "/api/v1/ib-programs", Admins),
];

/// The server functions (`POST /api/<endpoint>`).
pub const SERVER_FUNCTIONS: &[Endpoint] = &[
    row("POST", "/api/login", Everyone),
    row("POST", "/api/logout", Everyone),
    row("POST", "/api/me", Everyone),
    row("POST", "/api/account/password", SignedIn),
    row("POST", "/api/notifications", SignedIn),
    row("POST", "/api/notifications/read", SignedIn),
    row("POST", "/api/overview", SignedIn),
    row("POST", "/api/clients/list", SignedIn),
    row("POST", "/api/clients/show", SignedIn),
    row("POST", "/api/accounts/list", SignedIn),
    row("POST", "/api/ib-programs/list", SignedIn),
    row("POST", "/api/ib-programs/show", SignedIn),
    row("POST", "/api/ib-programs/create", Admins),
    row("POST", "/api/ib-programs/rename", Admins),
    row("POST", "/api/imports/list", SignedIn),
    row("POST", "/api/imports/rules", SignedIn),
    row("POST", "/api/imports/show", SeesJob),
    row("POST", "/api/imports/mapping", SeesJob),
    row("POST", "/api/imports/mapping/choose", ChangesJob),
    row("POST", "/api/imports/correct", ChangesJob),
    row("POST", "/api/imports/drop", ChangesJob),
    row("POST", "/api/imports/confirm", ChangesJob),
    row("POST", "/api/imports/discard", ChangesJob),
    row("POST", "/api/imports/revert", ChangesJob),
    row("POST", "/api/admin/users", Admins),
    row("POST", "/api/admin/users/create", Admins),
    row("POST", "/api/admin/users/role", Admins),
    row("POST", "/api/admin/users/active", Admins),
    row("POST", "/api/admin/users/reset-password", Admins),
    row("POST", "/api/admin/users/scope", Admins),
    row("POST", "/api/admin/tokens", Admins),
    row("POST", "/api/admin/tokens/create", Admins),
    row("POST", "/api/admin/tokens/revoke", Admins),
    row("POST", "/api/admin/projects", Admins),
    row("POST", "/api/admin/projects/create", Admins),
    row("POST", "/api/admin/desks/create", Admins),
    row("POST", "/api/admin/audit", Admins),
];

/// The pages (`GET`); one nobody may see redirects to the sign-in page.
pub const PAGES: &[Endpoint] = &[
    row("GET", "/login", Everyone),
    row("GET", "/", SignedIn),
    row("GET", "/clients", SignedIn),
    row("GET", "/clients/{id}", SignedIn),
    row("GET", "/accounts", SignedIn),
    row("GET", "/account", SignedIn),
    row("GET", "/ib-programs", SignedIn),
    row("GET", "/ib-programs/{id}", SignedIn),
    row("GET", "/imports", SignedIn),
    row("GET", "/imports/new", Importers),
    row("GET", "/imports/{id}", SeesJob),
    row("GET", "/imports/{id}/mapping", SeesJob),
    row("GET", "/admin", Admins),
    row("GET", "/admin/users", Admins),
    row("GET", "/admin/tokens", Admins),
    row("GET", "/admin/projects", Admins),
    row("GET", "/admin/audit", Admins),
];

/// The rule of the page at `path`, if it is one: its own row, or the row of the pattern it
/// fits (`/clients/{id}`); any other page under `/admin` is for admins.
pub fn page_rule(path: &str) -> Option<Allowed> {
    let path = match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let fits = |pattern: &str| {
        let (mut want, mut got) = (pattern.split('/'), path.split('/'));
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w == g || (w.starts_with('{') && !g.is_empty()) => {}
                _ => return false,
            }
        }
    };
    PAGES
        .iter()
        .find(|p| p.path == path)
        .or_else(|| PAGES.iter().find(|p| fits(p.path)))
        .map(|p| p.allowed)
        .or_else(|| path.starts_with("/admin/").then_some(Allowed::Admins))
}

/// The row of an API route, if it has one.
pub fn api_row(method: &str, path: &str) -> Option<&'static Endpoint> {
    API.iter().find(|e| e.method == method && e.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_find_their_rule() {
        assert_eq!(page_rule("/clients"), Some(Allowed::SignedIn));
        assert_eq!(page_rule("/clients/12"), Some(Allowed::SignedIn));
        assert_eq!(page_rule("/imports/new"), Some(Allowed::Importers));
        assert_eq!(page_rule("/imports/7"), Some(Allowed::SeesJob));
        assert_eq!(page_rule("/imports/7/mapping"), Some(Allowed::SeesJob));
        assert_eq!(page_rule("/admin"), Some(Allowed::Admins));
        assert_eq!(page_rule("/admin/users/"), Some(Allowed::Admins));
        assert_eq!(page_rule("/admin/anything/else"), Some(Allowed::Admins));
        assert_eq!(page_rule("/"), Some(Allowed::SignedIn));
        assert_eq!(page_rule("/clients/12/more"), None);
        assert_eq!(page_rule("/imports/"), Some(Allowed::SignedIn));
    }
}
