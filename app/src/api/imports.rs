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
            job: import_views::record(&auth.ctx.db, job.id).await?,
            log: import_views::messages(&auth.ctx.db, job.id, Some("info"), None).await?,
            errors: import_views::messages(&auth.ctx.db, job.id, Some("error"), Some(&errors))
                .await?,
            error_page: errors.page,
        })
    })
    .await
}
