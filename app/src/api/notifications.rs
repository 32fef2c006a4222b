//! The bell in the header.

use crate::model::{AppError, Notifications};
use leptos::prelude::*;

#[server(endpoint = "notifications")]
pub async fn load_notifications() -> Result<Notifications, AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        crate::services::notifications::for_user(&auth.ctx.db, auth.user.id).await
    })
    .await
}

/// Marks one notification read, or all when no id is given.
#[server(endpoint = "notifications/read")]
pub async fn mark_read(id: Option<i64>) -> Result<(), AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        crate::services::notifications::mark_read(&auth.ctx.db, auth.user.id, id).await?;
        Ok(())
    })
    .await
}
