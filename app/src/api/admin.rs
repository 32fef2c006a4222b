//! Admin → Projects and desks, and the audit log.

use crate::model::{AppError, AuditRecord, Page, ProjectRecord};
use leptos::prelude::*;

#[server(endpoint = "admin/projects")]
pub async fn list_projects() -> Result<Vec<ProjectRecord>, AppError> {
    super::respond(async move {
        let auth = super::authorize(&[crate::model::Role::Admin]).await?;
        crate::services::admin::projects(&auth.ctx.db).await
    })
    .await
}

#[server(endpoint = "admin/projects/create")]
pub async fn create_project(name: String) -> Result<(), AppError> {
    super::respond(async move {
        let auth = super::authorize(&[crate::model::Role::Admin]).await?;
        crate::services::admin::create_project(&auth.ctx.db, &auth.caller, &name).await
    })
    .await
}

#[server(endpoint = "admin/desks/create")]
pub async fn create_desk(project: i64, name: String) -> Result<(), AppError> {
    super::respond(async move {
        let auth = super::authorize(&[crate::model::Role::Admin]).await?;
        crate::services::admin::create_desk(&auth.ctx.db, &auth.caller, project, &name).await
    })
    .await
}

/// Entries of the audit log per page.
pub const AUDIT_PER_PAGE: u64 = 100;

/// A page of the audit log, and every action it can be filtered by.
#[server(endpoint = "admin/audit")]
pub async fn audit_log(
    actor: Option<String>,
    action: Option<String>,
    page: Option<u64>,
) -> Result<(Page<AuditRecord>, Vec<String>), AppError> {
    use crate::services::browse::ListQuery;
    super::respond(async move {
        let auth = super::authorize(&[crate::model::Role::Admin]).await?;
        let entries = crate::services::admin::audit_log(
            &auth.ctx.db,
            actor.as_deref().filter(|a| !a.trim().is_empty()),
            action.as_deref().filter(|a| !a.is_empty()),
            &ListQuery::new(None, page, Some(AUDIT_PER_PAGE)),
        )
        .await?;
        let actions = crate::services::audit::action::ALL
            .iter()
            .map(|a| a.to_string())
            .collect();
        Ok((entries, actions))
    })
    .await
}
