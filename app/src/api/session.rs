//! Signing in and out, and who is signed in.

use crate::model::{AppError, CurrentUser};
use leptos::prelude::*;

/// Where to go after signing in: only a path on this site, never another host.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.starts_with("/login") =>
        {
            path.to_owned()
        }
        _ => "/clients".to_owned(),
    }
}

/// Signs in with an email and password; on success starts a new session (new id) and
/// redirects to `next`.
#[server(endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<CurrentUser, AppError> {
    super::respond(async move {
        let (ctx, caller) = super::open()?;
        let user = crate::services::sign_in::attempt(&ctx.db, &caller, &email, &password).await?;
        let session = super::session().await?;
        crate::auth::start_session(&session, user.id).await?;
        leptos_axum::redirect(&safe_next(next.as_deref()));
        Ok(user)
    })
    .await
}

/// Signs out: the session is removed from the store and its cookie cleared.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    super::respond(async move {
        let (ctx, caller) = super::open()?;
        if caller.user.is_some() {
            crate::services::audit::record(
                &ctx.db,
                &caller,
                crate::services::audit::Entry {
                    action: crate::services::audit::action::SIGN_OUT,
                    ..Default::default()
                },
            )
            .await?;
        }
        let session = super::session().await?;
        session.flush().await.map_err(|e| {
            tracing::error!(error = %e, "could not end the session");
            AppError::Internal
        })?;
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// The signed-in user, or `None`.
#[server(endpoint = "me")]
pub async fn whoami() -> Result<Option<CurrentUser>, AppError> {
    Ok(super::caller().user)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/admin/users?x=1")), "/admin/users?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/clients");
        assert_eq!(safe_next(Some("/\\evil.example")), "/clients");
        assert_eq!(safe_next(Some("https://evil.example/")), "/clients");
        assert_eq!(safe_next(Some("/login")), "/clients");
        assert_eq!(safe_next(None), "/clients");
    }
}
