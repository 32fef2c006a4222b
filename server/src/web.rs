//! The HTTP surface: Leptos pages and server functions, static files, and the layers
//! every request passes through (cross-site guard → session → caller → page guard).

use crate::access::Allowed;
use app::auth::{Caller, resolve_session_user, session_store::DbSessionStore};
use app::model::Role;
use app::state::AppContext;
use app::{App, shell};
use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Json, Router};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::net::SocketAddr;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// The session cookie's name over plain HTTP (local use, `COOKIE_SECURE=false`).
pub const SESSION_COOKIE: &str = "crm_session";
/// Its name when cookies are secure: the `__Host-` prefix makes browsers refuse it unless it
/// came over HTTPS for this exact host and the whole site (no `Domain`, `Path=/`).
pub const SECURE_SESSION_COOKIE: &str = "__Host-crm_session";

/// The session cookie's name for a setting of `COOKIE_SECURE`.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The policy of answers that are not pages (JSON, CSV, files): nothing may run or load.
const NON_PAGE_POLICY: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub ctx: AppContext,
}

/// The application's pages, as axum routes: found once per process, by rendering the app
/// with its resources held back. Leptos holds them back for the whole process while it does
/// (a process-wide flag, leptos issue #4773), so a page another server instance of this
/// process renders meanwhile would wait for ever: several instances (the tests run many)
/// share this one list.
pub fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Builds the whole router for one server instance.
pub fn router(state: AppState, cookie_secure: bool) -> Router {
    let routes = route_list();
    let ctx = state.ctx.clone();
    let options = state.leptos_options.clone();
    let idle = time::Duration::seconds(state.ctx.settings.session_idle.as_secs() as i64);
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.ctx.db.clone()))
        .with_name(session_cookie_name(cookie_secure))
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(cookie_secure)
        .with_expiry(Expiry::OnInactivity(idle));

    let fallback_ctx = ctx.clone();
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx.clone()),
            move || shell(options.clone()),
        )
        // What no route matches (`/clients/`, an unknown page) is rendered by the app too, and
        // its server functions need the same context.
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            move || provide_context(fallback_ctx.clone()), shell
        ))
        .layer(middleware::from_fn(unreadable_arguments_are_400))
        .layer(request_timeout(state.ctx.settings.request_timeout));
    let router = Router::new()
        .merge(crate::api::routes(&state))
        .merge(pages)
        .layer(middleware::map_response(explain_timeout))
        .layer(middleware::from_fn(guard_pages))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            resolve_caller,
        ))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_site,
        ))
        .with_state(state);
    with_security_headers(router, cookie_secure)
}

/// Answers 408 to a request that has not been answered within `limit`, and drops it: a
/// slow client or a slow query cannot hold a connection (and what it holds) for longer.
pub fn request_timeout(limit: std::time::Duration) -> tower_http::timeout::TimeoutLayer {
    tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limit)
}

/// A server function whose arguments cannot be read (a missing field, a number that is not
/// one) fails before its body runs, and Leptos answers such an error 500. It is the request's
/// fault: 400, with the same message.
async fn unreadable_arguments_are_400(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let server_function = path.starts_with("/api/") && !path.starts_with("/api/v1/");
    let response = next.run(req).await;
    if !server_function || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return internal_error();
    };
    if let Ok(app::model::AppError::Request(_)) = serde_json::from_slice(&bytes) {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The timeout's answer says what happened, in the API's error shape.
async fn explain_timeout(response: Response) -> Response {
    if response.status() != StatusCode::REQUEST_TIMEOUT {
        return response;
    }
    (
        StatusCode::REQUEST_TIMEOUT,
        axum::Json(serde_json::json!({
            "error": "The request took too long and was stopped. Try again; if it was an upload, \
                      check the connection."
        })),
    )
        .into_response()
}

/// The headers every answer carries (SPEC §8). Pages set their own Content-Security-Policy
/// with the response's nonce (`app::page_policy`); every other answer gets one that allows
/// nothing. HSTS only when cookies are secure, that is when the site is served over HTTPS.
fn with_security_headers(router: Router, cookie_secure: bool) -> Router {
    use axum::http::HeaderValue;
    use tower_http::set_header::SetResponseHeaderLayer;
    let hsts =
        move |_: &Response| cookie_secure.then(|| HeaderValue::from_static("max-age=31536000"));
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NON_PAGE_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
}

/// Files that need no signed-in user and no database look-up.
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg" || path == "/robots.txt"
}

fn remote_addr(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// Works out who is calling and stores it as a [`Caller`] in the request's extensions.
async fn resolve_caller(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if is_static(req.uri().path()) {
        return next.run(req).await;
    }
    let mut caller = Caller {
        user: None,
        remote_addr: remote_addr(&req),
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let resolved = match (bearer, req.extensions().get::<Session>().cloned()) {
        // A request that presents a token is judged by the token alone.
        (Some(token), _) => app::services::tokens::authenticate(&state.ctx.db, &token).await,
        (None, Some(session)) => {
            resolve_session_user(&session, &state.ctx.db, &state.ctx.settings).await
        }
        (None, None) => Ok(None),
    };
    match resolved {
        Ok(user) => caller.user = user,
        Err(_) => return internal_error(),
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

fn internal_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({"error": app::model::AppError::Internal.to_string()})),
    )
        .into_response()
}

/// Pages need a signed-in user: anyone else is sent to sign in and brought back after.
/// Admin pages answer 403 to other roles (the page itself says why, and its data is
/// refused by the server functions, which write the audit log).
async fn guard_pages(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD)
        && !is_static(path)
        && !path.starts_with("/api/")
        && path != "/login";
    if !is_page {
        return next.run(req).await;
    }
    let role = req
        .extensions()
        .get::<Caller>()
        .and_then(|c| c.user.as_ref())
        .map(|u| u.role);
    match role {
        None => {
            let wanted = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            let target = format!("/login?next={}", urlencode(&wanted));
            Redirect::to(&target).into_response()
        }
        Some(role) => {
            // The page's row in the access table: a page for admins, or for importers.
            let refused = match crate::access::page_rule(path) {
                Some(Allowed::Admins) => role != Role::Admin,
                Some(Allowed::Importers) => !app::model::policy::may_import(role),
                _ => false,
            };
            let mut response = next.run(req).await;
            if refused {
                *response.status_mut() = StatusCode::FORBIDDEN;
            }
            response
        }
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Why a state-changing request is refused as cross-site, if it is (SPEC §8).
fn cross_site_reason(req: &Request) -> Option<String> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return Some("Sec-Fetch-Site: cross-site".into());
    }
    let origin = headers.get(header::ORIGIN)?;
    let Ok(origin) = origin.to_str() else {
        return Some("unreadable Origin header".into());
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .map(|rest| rest.trim_end_matches('/'));
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => None,
        _ => Some(format!("Origin {origin} is not this site")),
    }
}

/// Refuses state-changing requests that come from another site: one layer in front of
/// server functions, the API and everything else.
async fn refuse_cross_site(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(reason) = cross_site_reason(&req) else {
        return next.run(req).await;
    };
    let caller = Caller {
        user: None,
        remote_addr: remote_addr(&req),
    };
    app::services::audit::record_refusal(
        &state.ctx.db,
        &state.ctx.anonymous_refusals,
        &caller,
        app::services::audit::Entry {
            action: app::services::audit::action::CROSS_SITE_REFUSED,
            subject: Some(format!("{} {}", req.method(), req.uri().path())),
            details: Some(reason),
        },
    )
    .await;
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({"error": "Cross-site request refused."})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn post(headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder()
            .method("POST")
            .uri("/api/login");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn same_origin_and_header_less_requests_pass() {
        assert_eq!(
            cross_site_reason(&post(&[("host", "127.0.0.1:3000")])),
            None
        );
        assert_eq!(
            cross_site_reason(&post(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000")
            ])),
            None
        );
        assert_eq!(
            cross_site_reason(&post(&[
                ("host", "app.example"),
                ("sec-fetch-site", "same-origin")
            ])),
            None
        );
    }

    #[test]
    fn foreign_origins_are_refused() {
        let r = cross_site_reason(&post(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]));
        assert_eq!(
            r.as_deref(),
            Some("Origin https://evil.example is not this site")
        );
        assert!(
            cross_site_reason(&post(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:4000")
            ]))
            .is_some()
        );
        assert!(
            cross_site_reason(&post(&[("host", "127.0.0.1:3000"), ("origin", "null")])).is_some()
        );
        assert!(
            cross_site_reason(&post(&[("host", "x"), ("sec-fetch-site", "cross-site")])).is_some()
        );
    }

    #[test]
    fn reads_are_never_refused() {
        let get = axum::http::Request::builder()
            .uri("/clients")
            .header("origin", "https://evil.example")
            .body(Body::empty())
            .unwrap();
        assert_eq!(cross_site_reason(&get), None);
    }

    #[test]
    fn next_is_percent_encoded() {
        assert_eq!(
            urlencode("/clients?page=2&q=a b"),
            "/clients%3Fpage%3D2%26q%3Da%20b"
        );
    }
}
