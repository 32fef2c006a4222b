//! Server functions: each checks the caller's role on the server, calls a service and
//! maps the outcome. Their URLs are fixed (`/api/<endpoint>`) so scripts and tests can
//! rely on them.

pub mod admin;
pub mod browse;
pub mod imports;
pub mod notifications;
pub mod overview;
pub mod session;
pub mod tokens;
pub mod users;

#[cfg(feature = "ssr")]
pub use guard::{Authorized, authorize, context, respond};

#[cfg(feature = "ssr")]
mod guard {
    use crate::auth::Caller;
    use crate::model::{AppError, CurrentUser, Role};
    use crate::services::audit::{self, Entry, action};
    use crate::state::AppContext;
    use leptos::prelude::use_context;

    /// Runs a server function's body and, when it fails, gives the response the HTTP
    /// status of the error. A plain HTML form post (no JavaScript) is left alone: it is
    /// answered with a redirect back to the form, which a status would replace.
    ///
    /// The request's contexts are read before the body is awaited, never after: a page's
    /// resource may still run when its page has been answered and its reactive owners are
    /// being dropped, and a context look-up then can drop the last handle of an owner
    /// while it holds its parent's lock, which blocks that thread for good.
    pub async fn respond<T>(
        body: impl Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        // A page being rendered (a GET) takes the status; a form post without
        // JavaScript is redirected back to its page, which a status would stop.
        let from_plain_form = use_context::<http::request::Parts>().is_some_and(|parts| {
            parts.method == http::Method::POST
                && parts
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
        });
        let options = use_context::<leptos_axum::ResponseOptions>();
        let result = body.await;
        if let (Err(error), Some(options)) = (&result, options) {
            if !from_plain_form && let Ok(status) = http::StatusCode::from_u16(error.status()) {
                options.set_status(status);
            }
            if let AppError::TooManyRequests { retry_after, .. } = error {
                options.insert_header(http::header::RETRY_AFTER, (*retry_after).into());
            }
        }
        result
    }

    /// The shared database and settings.
    pub fn context() -> Result<AppContext, AppError> {
        use_context::<AppContext>().ok_or_else(|| {
            tracing::error!("AppContext was not provided to the server function");
            AppError::Internal
        })
    }

    /// Who is calling, as resolved by the server's middleware.
    pub fn caller() -> Caller {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>().cloned())
            .unwrap_or_default()
    }

    /// The caller's session (tower-sessions puts it in the request).
    pub async fn session() -> Result<tower_sessions::Session, AppError> {
        leptos_axum::extract().await.map_err(|e| {
            tracing::error!(error = %e, "no session layer in front of the server functions");
            AppError::Internal
        })
    }

    /// A caller whose role was checked.
    pub struct Authorized {
        pub ctx: AppContext,
        pub caller: Caller,
        pub user: CurrentUser,
    }

    /// Lets the call through when the caller is signed in with one of `roles`; otherwise
    /// answers 401 (nobody signed in) or 403 (written to the audit log).
    pub async fn authorize(roles: &[Role]) -> Result<Authorized, AppError> {
        let ctx = context()?;
        let caller = caller();
        let Some(user) = caller.user.clone() else {
            return Err(AppError::Unauthorized);
        };
        if !roles.contains(&user.role) {
            let path =
                use_context::<http::request::Parts>().map(|parts| parts.uri.path().to_owned());
            audit::record_best_effort(
                &ctx.db,
                &caller,
                Entry {
                    action: action::FORBIDDEN,
                    subject: path,
                    details: Some(format!("role {}", user.role)),
                },
            )
            .await;
            return Err(AppError::Forbidden);
        }
        Ok(Authorized { ctx, caller, user })
    }

    /// Anyone, signed in or not (the sign-in itself).
    pub fn open() -> Result<(AppContext, Caller), AppError> {
        Ok((context()?, caller()))
    }
}

#[cfg(feature = "ssr")]
pub(crate) use guard::{caller, open, session};
