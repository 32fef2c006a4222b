//! The ends of a job's life (SPEC §3.3): its final status and notification, confirmation
//! of a validate-only run, revert; and who may see or change a job (SPEC §1).

use super::audit_job;
use super::queue::save_progress;
use super::revert::RevertReport;
use super::write::insert_all;
use super::{Totals, find_job, info, writes};
use crate::auth::Caller;
use crate::entities::{import_job, import_message, notification};
use crate::model::JobStatus;
use crate::model::{AppError, CurrentUser};
use crate::services::audit::{self, Entry, action};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, QueryFilter, TransactionTrait,
};

/// The final status (SPEC §3.3), the summary message and the initiator's notification.
/// The final status (SPEC §3.3), the summary message and the initiator's notification.
pub(crate) async fn finish(
    db: &DatabaseConnection,
    job: &import_job::Model,
    worker: &str,
    totals: &Totals,
    stopped: Option<String>,
) -> Result<import_job::Model, AppError> {
    let applied = totals.created + totals.updated + totals.unchanged;
    let n = |count: i64| crate::model::grouped(count);
    let errors = crate::model::error_count(totals.errors);
    let done = format!(
        "{} created, {} updated, {} unchanged",
        n(totals.created),
        n(totals.updated),
        n(totals.unchanged)
    );
    // The log's line, and the bell's shorter note (shown under the import's title).
    let (final_status, note, bell) = if let Some(reason) = &stopped {
        (
            JobStatus::Failed,
            format!("Import failed: {reason}"),
            format!("Failed: {reason}"),
        )
    } else if !writes(job) && applied > 0 {
        (
            JobStatus::AwaitingConfirmation,
            format!(
                "Validation finished: {} would be created, {} would be updated, {} would stay \
                 unchanged; {errors}. Nothing has been written yet: confirm to import",
                n(totals.created),
                n(totals.updated),
                n(totals.unchanged)
            ),
            format!(
                "Checked: would create {} and update {}; {errors}. Confirm or discard it",
                n(totals.created),
                n(totals.updated)
            ),
        )
    } else if applied == 0 {
        (
            JobStatus::Failed,
            "Import failed: no row could be imported".to_owned(),
            format!("Failed: no row could be imported ({errors})"),
        )
    } else if totals.errors > 0 {
        (
            JobStatus::SuccessWithErrors,
            format!("Import finished with {errors}"),
            format!("Finished with {errors}: {done}"),
        )
    } else if totals.created + totals.updated == 0 {
        // A file that changes nothing is not announced as imported: most often it is the
        // wrong file, or one imported before.
        (
            JobStatus::Success,
            "Import finished: nothing changed, every row matches what is already there".to_owned(),
            format!(
                "Finished, nothing changed: all {} rows were already up to date",
                n(totals.unchanged)
            ),
        )
    } else {
        let noun = match job.action.as_str() {
            "import-accounts" => "accounts",
            "import-ibs" => "IB rows",
            _ => "clients",
        };
        (
            JobStatus::Success,
            format!("Import finished: {noun} {done}"),
            format!("Finished: {done}"),
        )
    };
    let txn = db.begin().await?;
    save_progress(&txn, job.id, worker, totals, Some(final_status))
        .await
        .map_err(AppError::from)?;
    info(
        job.id,
        format!(
            "{note} ({} created, {} updated, {} unchanged, {} errors).",
            totals.created, totals.updated, totals.unchanged, totals.errors
        ),
    )
    .insert(&txn)
    .await?;
    notification::ActiveModel {
        user_id: Set(job.initiated_by),
        job_id: Set(Some(job.id)),
        text: Set(bell),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    if writes(job) && totals.created + totals.updated >= ANALYZE_AFTER {
        refresh_statistics(db, &job.action).await;
    }
    find_job(db, job.id).await
}

/// Rows written by one job from which the tables' statistics are refreshed at its end.
const ANALYZE_AFTER: i64 = 10_000;

/// After a large import, PostgreSQL's planner still believes the tables' old statistics
/// until autovacuum comes round, and may walk a million rows in id order for a search
/// that matches one. Analysing the written tables at once prevents that. SQLite plans
/// these lists well without statistics, so only PostgreSQL is analysed.
async fn refresh_statistics(db: &DatabaseConnection, action: &str) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let tables: &[&str] = match action {
        "import-accounts" => &["account"],
        "import-ibs" => &["introducing_broker", "referral"],
        _ => &["client"],
    };
    for table in tables {
        if let Err(e) = db.execute_unprepared(&format!("ANALYZE {table}")).await {
            tracing::warn!(error = %e, table, "could not refresh statistics after an import");
        }
    }
}

/// What `user` may do with a job (SPEC §1): operators see and revert their own imports,
/// managers see every import, admins see and revert every import.
pub fn may_see(user: &CurrentUser, job: &import_job::Model) -> bool {
    crate::model::policy::may_see_job(user, job.initiated_by)
}

pub fn may_change(user: &CurrentUser, job: &import_job::Model) -> bool {
    crate::model::policy::may_change_job(user, job.initiated_by)
}

/// A job `user` may see; another operator's job is refused (and the refusal audited).
pub async fn visible(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
    change: bool,
) -> Result<import_job::Model, AppError> {
    let job = find_job(db, job_id).await?;
    let allowed = if change {
        may_change(user, &job)
    } else {
        may_see(user, &job)
    };
    if !allowed {
        audit::record_best_effort(
            db,
            caller,
            Entry {
                action: action::FORBIDDEN,
                subject: Some(format!("import #{job_id}")),
                details: Some(format!("role {}", user.role)),
            },
        )
        .await;
        return Err(AppError::Forbidden);
    }
    Ok(job)
}

/// An update that queues a job to run once more from the start of its stored file: `new`,
/// with its counts, attempts and end cleared. The caller adds what else changes and which
/// job, in which state, it applies to.
pub(crate) fn run_again() -> sea_orm::UpdateMany<import_job::Entity> {
    import_job::Entity::update_many()
        .col_expr(
            import_job::Column::Status,
            Expr::value(JobStatus::New.as_str()),
        )
        .col_expr(import_job::Column::ProcessedRows, Expr::value(0i64))
        .col_expr(import_job::Column::CreatedRows, Expr::value(0i64))
        .col_expr(import_job::Column::UpdatedRows, Expr::value(0i64))
        .col_expr(import_job::Column::UnchangedRows, Expr::value(0i64))
        .col_expr(import_job::Column::ErrorRows, Expr::value(0i64))
        .col_expr(import_job::Column::Attempts, Expr::value(0i32))
        .col_expr(
            import_job::Column::FinishedAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
}

/// Deletes the row errors and the sample of changes of a job's last run, which its next
/// run finds again (its log stays).
pub(crate) async fn forget_row_errors<C: ConnectionTrait>(
    txn: &C,
    job_id: i64,
) -> Result<(), sea_orm::DbErr> {
    import_message::Entity::delete_many()
        .filter(import_message::Column::JobId.eq(job_id))
        .filter(import_message::Column::Level.is_in(["error", "change"]))
        .exec(txn)
        .await?;
    Ok(())
}

/// Confirms a validate-only job: the same job runs for real from its stored file.
pub async fn confirm(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
) -> Result<import_job::Model, AppError> {
    let job = visible(db, caller, user, job_id, true).await?;
    let txn = db.begin().await?;
    let reset = run_again()
        .col_expr(
            import_job::Column::ConfirmedAt,
            Expr::value(Some(chrono::Utc::now())),
        )
        .col_expr(import_job::Column::ConfirmedBy, Expr::value(Some(user.id)))
        .filter(import_job::Column::Id.eq(job.id))
        .filter(import_job::Column::Status.eq(JobStatus::AwaitingConfirmation))
        .exec(&txn)
        .await?;
    if reset.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "Import #{} is not awaiting confirmation (it is {}).",
            job.id,
            job.status.as_str().replace('_', " ")
        )));
    }
    // The validation's row errors are found again by the real run; its log stays.
    forget_row_errors(&txn, job.id).await?;
    info(job.id, format!("Confirmed by {}; importing.", user.email))
        .insert(&txn)
        .await?;
    audit_job(&txn, caller, action::IMPORT_CONFIRMED, &job).await?;
    txn.commit().await?;
    find_job(db, job.id).await
}

/// Discards a job awaiting its mapping or its confirmation (SPEC §3.5): it ends
/// `discarded` and never runs. Nothing of it was written; its file, log and row errors stay
/// to be read.
pub async fn discard(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
) -> Result<import_job::Model, AppError> {
    let job = visible(db, caller, user, job_id, true).await?;
    let txn = db.begin().await?;
    let ended = import_job::Entity::update_many()
        .col_expr(
            import_job::Column::Status,
            Expr::value(JobStatus::Discarded.as_str()),
        )
        .col_expr(
            import_job::Column::FinishedAt,
            Expr::value(Some(chrono::Utc::now())),
        )
        .filter(import_job::Column::Id.eq(job.id))
        .filter(
            import_job::Column::Status
                .is_in([JobStatus::AwaitingMapping, JobStatus::AwaitingConfirmation]),
        )
        .exec(&txn)
        .await?;
    if ended.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "Import #{} cannot be discarded: it is {}; only an import awaiting its mapping or \
             its confirmation can be.",
            job.id,
            job.status.label().to_lowercase()
        )));
    }
    info(
        job.id,
        format!("Discarded by {}: nothing was imported.", user.email),
    )
    .insert(&txn)
    .await?;
    audit_job(&txn, caller, action::IMPORT_DISCARDED, &job).await?;
    txn.commit().await?;
    find_job(db, job.id).await
}

/// Refuses to revert a job that has not written, or is not finished, or is reverted.
fn revertible(job: &import_job::Model) -> Result<(), AppError> {
    if !job.status.is_revertible() || !writes(job) {
        return Err(AppError::Conflict(format!(
            "Import #{} cannot be reverted: it is {}.",
            job.id,
            job.status.as_str().replace('_', " ")
        )));
    }
    Ok(())
}

/// Where a revert asked for by a request stands when the request answers.
pub enum Reverting {
    Done(import_job::Model, RevertReport),
    /// Still running after the request's wait: it goes on and ends on its own.
    Running(import_job::Model),
}

/// Reverts a job on a task of its own and waits for it at most `wait`. A revert of a large
/// import can take longer than a request may (`REQUEST_TIMEOUT`), and it is one
/// transaction: run inside the request, a timeout or a client that goes away would roll
/// it back half-way and leave the import to revert again.
pub async fn revert_on_its_own(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
    wait: std::time::Duration,
) -> Result<Reverting, AppError> {
    // What can be refused at once is, before anything runs on its own.
    revertible(&visible(db, caller, user, job_id, true).await?)?;
    let task = {
        let (db, caller, user) = (db.clone(), caller.clone(), user.clone());
        tokio::spawn(async move {
            let reverted = revert(&db, &caller, &user, job_id).await;
            if let Err(e) = &reverted {
                // Nobody may be waiting any more: the job's log says it.
                let text = format!("Revert asked for by {} did not happen: {e}", user.email);
                if let Err(e) = info(job_id, text).insert(&db).await {
                    tracing::error!(job_id, error = %e, "could not log a failed revert");
                }
            }
            reverted
        })
    };
    match tokio::time::timeout(wait, task).await {
        Ok(Ok(done)) => done.map(|(job, report)| Reverting::Done(job, report)),
        Ok(Err(failed)) => {
            tracing::error!(job_id, error = %failed, "a revert task failed");
            Err(AppError::Internal)
        }
        Err(_) => Ok(Reverting::Running(find_job(db, job_id).await?)),
    }
}

/// Reverts a finished job in one transaction (SPEC §3.3) and logs what was left alone.
pub async fn revert(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
) -> Result<(import_job::Model, RevertReport), AppError> {
    let job = visible(db, caller, user, job_id, true).await?;
    revertible(&job)?;
    let txn = db.begin().await?;
    super::queue::lock_bulk(&txn).await?;
    let marked = import_job::Entity::update_many()
        .col_expr(
            import_job::Column::Status,
            Expr::value(JobStatus::Reverted.as_str()),
        )
        .col_expr(
            import_job::Column::RevertedAt,
            Expr::value(Some(chrono::Utc::now())),
        )
        .col_expr(import_job::Column::RevertedBy, Expr::value(Some(user.id)))
        .filter(import_job::Column::Id.eq(job.id))
        .filter(import_job::Column::Status.eq(job.status))
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "Import #{} changed while it was being reverted; try again.",
            job.id
        )));
    }
    // A bulk job is the client table's only writer while it runs (it may have dropped
    // the unique email index, and a revert may give a client back an old email).
    if let Some(bulk) = super::queue::bulk_running(&txn, job.id, None).await? {
        return Err(AppError::Conflict(format!(
            "Import #{bulk} is loading clients in bulk mode; revert import #{} when it has finished.",
            job.id
        )));
    }
    let report = super::revert::revert(&txn, job.id).await?;
    let mut log = vec![info(
        job.id,
        format!(
            "Reverted by {}: {} records deleted, {} restored, {} not reverted.",
            user.email,
            report.deleted,
            report.restored,
            report.not_reverted.len()
        ),
    )];
    log.extend(report.not_reverted.iter().map(|m| info(job.id, m.clone())));
    if report.rebuilt_indexes {
        log.push(info(
            job.id,
            "The client table's search indexes were built again at the end of the revert, which is faster than updating them for most of the table.".into(),
        ));
    }
    insert_all(&txn, log).await?;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::IMPORT_REVERTED,
            subject: Some(format!("import #{}", job.id)),
            details: Some(format!(
                "{} deleted, {} restored, {} not reverted",
                report.deleted,
                report.restored,
                report.not_reverted.len()
            )),
        },
    )
    .await?;
    txn.commit().await?;
    Ok((find_job(db, job.id).await?, report))
}
