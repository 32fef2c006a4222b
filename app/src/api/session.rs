//! Signing in and out, and who is signed in.

use crate::model::{AppError, CurrentUser};
use leptos::prelude::*;

/// The longest `next` followed after signing in.
pub const MAX_NEXT_LENGTH: usize = 2048;

/// Where to go after signing in: only a path on this site, never another host. The path must
/// start with one `/` and hold only the characters a URL's path and query are made of
/// (RFC 3986: letters, digits, `-._~!$&'()*+,;=:@/?%`), so no tab, line break, control or
/// non-ASCII character (which browsers drop or a `Location` header cannot carry) and no
/// backslash (which browsers read as `/`) can turn it into another site's address.
pub fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/clients";
    let Some(path) = next else {
        return HOME.to_owned();
    };
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b);
    let local = path.len() <= MAX_NEXT_LENGTH
        && path.starts_with('/')
        && !path.starts_with("//")
        && path.bytes().all(allowed)
        && path != "/login"
        && !path.starts_with("/login?")
        && !path.starts_with("/login/");
    if local {
        path.to_owned()
    } else {
        HOME.to_owned()
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
        let user =
            crate::services::sign_in::attempt(&ctx.db, &ctx.sign_in, &caller, &email, &password)
                .await?;
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

/// The signed-in user changes their own password (from a page: a session is needed, not an
/// API token); every other session of theirs ends. Says how many.
#[server(endpoint = "account/password")]
pub async fn change_password(
    current: String,
    new: String,
    repeat: String,
) -> Result<String, AppError> {
    super::respond(async move {
        let auth = super::authorize(&crate::model::Role::ALL).await?;
        if new != repeat {
            return Err(AppError::Invalid(
                "The new password and its repetition differ.".into(),
            ));
        }
        let session = super::session().await?;
        let Some(id) = session.id() else {
            return Err(AppError::Invalid(
                "Sign in on the back office's pages to change your password.".into(),
            ));
        };
        let ended = crate::services::sign_in::change_password(
            &auth.ctx.db,
            &auth.ctx.sign_in,
            &auth.caller,
            &id.to_string(),
            &current,
            &new,
        )
        .await?;
        Ok(match ended {
            0 => "Your password has been changed.".to_owned(),
            1 => "Your password has been changed, and your other session was ended.".to_owned(),
            n => format!("Your password has been changed, and your {n} other sessions were ended."),
        })
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

    #[test]
    fn hostile_next_values_end_on_a_local_page() {
        let long = format!("/clients?q={}", "a".repeat(super::MAX_NEXT_LENGTH));
        for hostile in [
            "/\t/evil.example",
            "/\t/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/\u{1}",
            "/\u{7f}",
            "//evil.example",
            "/\\evil.example",
            "/ /evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "%2F%2Fevil.example",
            "evil.example",
            "",
            "/login?next=//evil.example",
            "/clients\u{2028}",
            "/Ɛvil",
            long.as_str(),
        ] {
            assert_eq!(safe_next(Some(hostile)), "/clients", "{hostile:?}");
        }
        for local in [
            "/clients?search=a%20b&page=2",
            "/imports/12",
            "/%2F%2Fevil.example",
            "/logins",
        ] {
            assert_eq!(safe_next(Some(local)), local);
        }
    }
}
