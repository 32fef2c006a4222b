//! How many records each section holds, for the section pages.

use crate::model::{AppError, SectionCounts};
use leptos::prelude::*;

#[server(endpoint = "overview")]
pub async fn count_records() -> Result<SectionCounts, AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        crate::services::overview::counts(&auth.ctx.db, &auth.user).await
    })
    .await
}
