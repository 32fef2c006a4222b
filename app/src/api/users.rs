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
