//! Import jobs as the pages show them (SPEC §3.4): the list and one job's details.

use crate::model::{AppError, ImportDetails, JobRecord, Page};
use leptos::prelude::*;

/// The jobs the caller may see, newest first, optionally of one status.
#[server(endpoint = "imports/list")]
pub async fn list_imports(
    status: Option<String>,
    page: Option<u64>,
) -> Result<Page<JobRecord>, AppError> {
    use crate::model::Role;
    use crate::services::{browse::ListQuery, import_views};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let filter = import_views::JobFilter {
            status: status.filter(|s| !s.is_empty()),
            ..Default::default()
        };
        import_views::list(
            &auth.ctx.db,
            &auth.user,
            &filter,
            &ListQuery::new(None, page, None),
        )
        .await
    })
    .await
}

/// Errors shown per page on a job's details.
pub const ERRORS_PER_PAGE: u64 = 50;

/// One job, its log and a page of its row errors, if the caller may see it.
#[server(endpoint = "imports/show")]
pub async fn show_import(id: i64, error_page: Option<u64>) -> Result<ImportDetails, AppError> {
    use crate::model::Role;
    use crate::services::{browse::ListQuery, import_views, imports};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let job = imports::visible(&auth.ctx.db, &auth.caller, &auth.user, id, false).await?;
        let errors = ListQuery::new(None, error_page, Some(ERRORS_PER_PAGE));
        Ok(ImportDetails {
            can_change: imports::may_change(&auth.user, &job),
            job: import_views::record(&auth.ctx.db, job.id).await?,
            log: import_views::messages(&auth.ctx.db, job.id, Some("info"), None).await?,
            errors: import_views::messages(&auth.ctx.db, job.id, Some("error"), Some(&errors))
                .await?,
            error_page: errors.page,
        })
    })
    .await
}

/// Runs a validate-only import for real (its initiator or an admin).
#[server(endpoint = "imports/confirm")]
pub async fn confirm_import(id: i64) -> Result<(), AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&[Role::Operator, Role::Admin]).await?;
        crate::services::imports::confirm(&auth.ctx.db, &auth.caller, &auth.user, id).await?;
        auth.ctx.import_queue.notify_one();
        Ok(())
    })
    .await
}

/// Reverts a finished import (its initiator or an admin); says what was left alone.
#[server(endpoint = "imports/revert")]
pub async fn revert_import(id: i64) -> Result<String, AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&[Role::Operator, Role::Admin]).await?;
        let (_, report) =
            crate::services::imports::revert(&auth.ctx.db, &auth.caller, &auth.user, id).await?;
        Ok(format!(
            "Reverted: {} records deleted, {} restored, {} not reverted.",
            report.deleted,
            report.restored,
            report.not_reverted.len()
        ))
    })
    .await
}
