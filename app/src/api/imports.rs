//! Import jobs as the pages show them (SPEC §3.4): the list and one job's details.

use crate::model::{AppError, ImportDetails, JobRecord, Page, UserRef};
use serde::{Deserialize, Serialize};

/// A page of jobs, the users the list can be narrowed to, and whether the viewer may
/// start an import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportList {
    pub jobs: Page<JobRecord>,
    pub users: Vec<UserRef>,
    pub can_import: bool,
}
use leptos::prelude::*;

/// The jobs the caller may see, newest first, optionally of one status.
#[server(endpoint = "imports/list")]
pub async fn list_imports(
    status: Option<String>,
    action: Option<String>,
    user: Option<i64>,
    page: Option<u64>,
) -> Result<ImportList, AppError> {
    use crate::model::Role;
    use crate::services::{browse::ListQuery, import_views};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let status = status
            .filter(|s| !s.is_empty())
            .map(|s| s.parse())
            .transpose()
            .map_err(AppError::Invalid)?;
        let filter = import_views::JobFilter {
            status,
            action: action.filter(|s| !s.is_empty()),
            initiated_by: user,
        };
        let jobs = import_views::list(
            &auth.ctx.db,
            &auth.user,
            &filter,
            &ListQuery::new(None, page, None),
        )
        .await?;
        // Operators see only their own imports: there is nobody else to filter by.
        let users = if crate::model::policy::only_jobs_of(&auth.user).is_some() {
            Vec::new()
        } else {
            import_views::initiators(&auth.ctx.db).await?
        };
        Ok(ImportList {
            jobs,
            users,
            can_import: crate::model::policy::may_import(auth.user.role),
        })
    })
    .await
}

/// Errors shown per page on a job's details.
pub const ERRORS_PER_PAGE: u64 = 50;
/// Log messages shown per page on a job's details.
pub const LOG_PER_PAGE: u64 = 50;

/// One job, a page of its log and a page of its row errors, if the caller may see it.
#[server(endpoint = "imports/show")]
pub async fn show_import(
    id: i64,
    error_page: Option<u64>,
    log_page: Option<u64>,
) -> Result<ImportDetails, AppError> {
    use crate::jobs as imports;
    use crate::model::Role;
    use crate::services::{browse::ListQuery, import_views};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let job = imports::visible(&auth.ctx.db, &auth.caller, &auth.user, id, false).await?;
        let errors = ListQuery::new(None, error_page, Some(ERRORS_PER_PAGE));
        let log = ListQuery::new(None, log_page, Some(LOG_PER_PAGE));
        let changes = ListQuery::new(None, None, Some(imports::CHANGE_SAMPLE as u64));
        Ok(ImportDetails {
            can_change: imports::may_change(&auth.user, &job),
            job: import_views::record(&auth.ctx.db, job.id).await?,
            log: import_views::messages(&auth.ctx.db, job.id, Some("info"), &log).await?,
            errors: import_views::messages(&auth.ctx.db, job.id, Some("error"), &errors).await?,
            changes: import_views::messages(&auth.ctx.db, job.id, Some("change"), &changes)
                .await?
                .items,
        })
    })
    .await
}

/// The mapping step of a job uploaded through the wizard (SPEC §3.5).
#[server(endpoint = "imports/mapping")]
pub async fn mapping_step(id: i64) -> Result<crate::model::MappingStep, AppError> {
    use crate::import::header::{Assigned, by_rules, columns};
    use crate::model::{ImportAction, Role};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let job = crate::jobs::visible(&auth.ctx.db, &auth.caller, &auth.user, id, false).await?;
        let action: ImportAction = job.action.parse().map_err(AppError::Invalid)?;
        let proposal = crate::services::mapping::for_job(&auth.ctx.db, &job).await?;
        let unmatched = proposal
            .columns
            .iter()
            .filter(|c| by_rules(action, &c.column) == Assigned::Unknown)
            .count();
        Ok(crate::model::MappingStep {
            job: crate::services::import_views::record(&auth.ctx.db, job.id).await?,
            proposal,
            fields: columns(action).iter().map(|c| c.label.to_owned()).collect(),
            required: match action {
                ImportAction::Users => vec!["Email".to_owned()],
                _ => columns(action)
                    .iter()
                    .filter(|c| c.required)
                    .map(|c| c.label.to_owned())
                    .collect(),
            },
            extras: action == ImportAction::Users,
            unmatched,
        })
    })
    .await
}

/// The operator's mapping for a job waiting for one: a target per file column, in order.
/// The job then runs as a review (validate-only) and shows what it would do.
#[server(endpoint = "imports/mapping/choose")]
pub async fn choose_mapping(id: i64, targets: Vec<String>) -> Result<(), AppError> {
    super::respond(async move {
        let auth = super::authorize(crate::model::policy::IMPORTERS).await?;
        crate::services::mapping::choose(&auth.ctx.db, &auth.caller, &auth.user, id, &targets)
            .await?;
        auth.ctx.import_queue.notify_one();
        leptos_axum::redirect(&format!("/imports/{id}"));
        Ok(())
    })
    .await
}

/// Corrects a cell of a line of an import under review (SPEC §3.5): `column` as the file's
/// header names it. The job is validated again through its corrections.
#[server(endpoint = "imports/correct")]
pub async fn correct_cell(
    id: i64,
    line: u64,
    column: String,
    value: String,
) -> Result<(), AppError> {
    super::respond(async move {
        let auth = super::authorize(crate::model::policy::IMPORTERS).await?;
        crate::services::review::correct(
            &auth.ctx.db,
            &auth.caller,
            &auth.user,
            id,
            line,
            &column,
            &value,
        )
        .await?;
        auth.ctx.import_queue.notify_one();
        Ok(())
    })
    .await
}

/// Drops a line of an import under review: it is left out of the import.
#[server(endpoint = "imports/drop")]
pub async fn drop_line(id: i64, line: u64) -> Result<(), AppError> {
    super::respond(async move {
        let auth = super::authorize(crate::model::policy::IMPORTERS).await?;
        crate::services::review::drop_line(&auth.ctx.db, &auth.caller, &auth.user, id, line)
            .await?;
        auth.ctx.import_queue.notify_one();
        Ok(())
    })
    .await
}

/// Runs a validate-only import for real (its initiator or an admin).
#[server(endpoint = "imports/confirm")]
pub async fn confirm_import(id: i64) -> Result<(), AppError> {
    super::respond(async move {
        let auth = super::authorize(crate::model::policy::IMPORTERS).await?;
        crate::jobs::confirm(&auth.ctx.db, &auth.caller, &auth.user, id).await?;
        auth.ctx.import_queue.notify_one();
        Ok(())
    })
    .await
}

/// Discards an import awaiting its mapping or its confirmation (its initiator or an admin).
#[server(endpoint = "imports/discard")]
pub async fn discard_import(id: i64) -> Result<(), AppError> {
    super::respond(async move {
        let auth = super::authorize(crate::model::policy::IMPORTERS).await?;
        crate::jobs::discard(&auth.ctx.db, &auth.caller, &auth.user, id).await?;
        Ok(())
    })
    .await
}

/// Reverts a finished import (its initiator or an admin); says what was left alone.
#[server(endpoint = "imports/revert")]
pub async fn revert_import(id: i64) -> Result<String, AppError> {
    super::respond(async move {
        use crate::jobs::{Reverting, revert_on_its_own};
        let auth = super::authorize(crate::model::policy::IMPORTERS).await?;
        let wait = auth.ctx.settings.revert_wait;
        Ok(
            match revert_on_its_own(&auth.ctx.db, &auth.caller, &auth.user, id, wait).await? {
                Reverting::Done(_, report) => format!(
                    "Reverted: {} records deleted, {} restored, {} not reverted.",
                    report.deleted,
                    report.restored,
                    report.not_reverted.len()
                ),
                Reverting::Running(_) => "The revert is under way; the import's status \
                    changes to Reverted when it has finished."
                    .to_owned(),
            },
        )
    })
    .await
}

/// The limits and columns the import dialog states, and whether the viewer may import.
#[server(endpoint = "imports/rules")]
pub async fn import_rules() -> Result<crate::model::ImportRules, AppError> {
    use crate::import::header::columns;
    use crate::model::{ActionColumns, ImportAction, ImportRules, Role};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let limits = auth.ctx.settings.import_limits;
        let names = |action: ImportAction, required: bool| {
            columns(action)
                .iter()
                .filter(|c| c.required == required)
                .map(|c| c.label.to_owned())
                .collect::<Vec<_>>()
        };
        Ok(ImportRules {
            max_bytes: limits.max_bytes,
            max_rows: limits.max_rows,
            can_import: crate::model::policy::may_import(auth.user.role),
            actions: ImportAction::ALL
                .into_iter()
                .map(|action| {
                    let (required, note) = match action {
                        // A client file may update by id alone; creating needs both.
                        ImportAction::Users => (
                            vec!["Email".to_owned(), "First name".to_owned()],
                            "Email and First name are needed to create a client; a row with \
                             ID or Email updates the client it names, changing only the \
                             filled cells.",
                        ),
                        ImportAction::Accounts => (
                            names(action, true),
                            "The client (by Email) must already exist.",
                        ),
                        ImportAction::Ibs => (
                            names(action, true),
                            "Both clients and the IB program (IB Type ID) must already exist.",
                        ),
                    };
                    ActionColumns {
                        action: action.as_str().to_owned(),
                        optional: names(action, false)
                            .into_iter()
                            .filter(|c| !required.contains(c))
                            .collect(),
                        required,
                        note: note.to_owned(),
                    }
                })
                .collect(),
        })
    })
    .await
}
