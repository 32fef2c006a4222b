//! Admin → Users.

use crate::model::{AppError, NewUserPassword, Role, UserView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
const ADMIN: &[Role] = &[Role::Admin];

#[server(endpoint = "admin/users")]
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    super::respond(async move {
        let auth = super::authorize(ADMIN).await?;
        crate::services::users::list(&auth.ctx.db).await
    })
    .await
}

/// Creates a user; an empty password means "generate one" (returned once).
#[server(endpoint = "admin/users/create")]
pub async fn create_user(
    email: String,
    role: Role,
    password: Option<String>,
) -> Result<(UserView, Option<NewUserPassword>), AppError> {
    super::respond(async move {
        let auth = super::authorize(ADMIN).await?;
        crate::services::users::create(&auth.ctx.db, &auth.caller, &email, role, password).await
    })
    .await
}

#[server(endpoint = "admin/users/role")]
pub async fn change_user_role(id: i64, role: Role) -> Result<UserView, AppError> {
    super::respond(async move {
        let auth = super::authorize(ADMIN).await?;
        crate::services::users::change_role(&auth.ctx.db, &auth.caller, id, role).await
    })
    .await
}

/// Disables (ending the user's sessions at once) or re-enables a user.
#[server(endpoint = "admin/users/active")]
pub async fn set_user_active(id: i64, active: bool) -> Result<UserView, AppError> {
    super::respond(async move {
        let auth = super::authorize(ADMIN).await?;
        if !active && auth.user.id == id {
            return Err(AppError::Conflict(
                "You cannot disable your own account.".into(),
            ));
        }
        crate::services::users::set_active(&auth.ctx.db, &auth.caller, id, active).await
    })
    .await
}

#[server(endpoint = "admin/users/reset-password")]
pub async fn reset_user_password(id: i64) -> Result<NewUserPassword, AppError> {
    super::respond(async move {
        let auth = super::authorize(ADMIN).await?;
        crate::services::users::reset_password(&auth.ctx.db, &auth.caller, id).await
    })
    .await
}

/// Limits a user to some projects (`p:ID`) and desks (`d:ID`); none removes the limit.
/// Returns the user's places as stored.
#[server(endpoint = "admin/users/scope")]
pub async fn set_user_scope(id: i64, places: Option<Vec<String>>) -> Result<Vec<String>, AppError> {
    super::respond(async move {
        let auth = super::authorize(ADMIN).await?;
        crate::services::scope::set(&auth.ctx.db, &auth.caller, id, &places.unwrap_or_default())
            .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::SetUserScope;

    #[test]
    fn a_scope_form_sends_the_places_that_are_ticked() {
        // Unticked boxes send nothing, so the indices have gaps.
        let sent: SetUserScope =
            serde_qs::from_str("id=4&places[1]=p%3A2&places[4]=d%3A7").expect("a scope form");
        assert_eq!(sent.id, 4);
        assert_eq!(sent.places, Some(vec!["p:2".to_owned(), "d:7".to_owned()]));
        let none: SetUserScope = serde_qs::from_str("id=4").expect("an empty scope form");
        assert_eq!(none.places, None);
    }
}
