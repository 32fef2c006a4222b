//! Which worker runs which job (SPEC §3.3): claiming, heartbeats, and the fence that
//! stops a worker presumed dead from writing to a job another worker took over.

use super::bulk::Mode;
use super::{RunError, Totals};
use crate::entities::{import_job, import_message};
use crate::model::JobStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Statement, TransactionTrait,
};
use std::time::Duration;

/// Claims the oldest job that is waiting, or whose worker stopped sending heartbeats
/// before `stale_before`, for `worker`. On PostgreSQL `FOR UPDATE SKIP LOCKED` lets many
/// instances claim at once without ever giving one job to two of them; SQLite runs the
/// statement under its single write lock.
pub async fn claim_next(
    db: &DatabaseConnection,
    worker: &str,
    stale_before: chrono::DateTime<chrono::Utc>,
) -> Result<Option<i64>, DbErr> {
    let backend = db.get_database_backend();
    let now = chrono::Utc::now();
    let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
        DbBackend::Postgres => (
            "UPDATE import_job SET status = $1, worker_id = $2, heartbeat_at = $3, \
             attempts = attempts + 1, started_at = COALESCE(started_at, $3) \
             WHERE id = (SELECT id FROM import_job \
                 WHERE status = $4 OR (status = $1 AND (heartbeat_at IS NULL OR heartbeat_at < $5)) \
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING id",
            vec![
                JobStatus::InProgress.as_str().into(),
                worker.into(),
                now.into(),
                JobStatus::New.as_str().into(),
                stale_before.into(),
            ],
        ),
        _ => (
            "UPDATE import_job SET status = ?, worker_id = ?, heartbeat_at = ?, \
             attempts = attempts + 1, started_at = COALESCE(started_at, ?) \
             WHERE id = (SELECT id FROM import_job \
                 WHERE status = ? OR (status = ? AND (heartbeat_at IS NULL OR heartbeat_at < ?)) \
                 ORDER BY id LIMIT 1) \
             RETURNING id",
            vec![
                JobStatus::InProgress.as_str().into(),
                worker.into(),
                now.into(),
                now.into(),
                JobStatus::New.as_str().into(),
                JobStatus::InProgress.as_str().into(),
                stale_before.into(),
            ],
        ),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    row.map(|r| r.try_get::<i64>("", "id")).transpose()
}

/// On SQLite only one server runs, so a job left `In Progress` belongs to a process that
/// is gone: it is made claimable at once instead of after the heartbeat timeout.
pub async fn release_orphans(db: &DatabaseConnection) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(0);
    }
    let released = import_job::Entity::update_many()
        .col_expr(
            import_job::Column::HeartbeatAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(import_job::Column::Status.eq(JobStatus::InProgress))
        .exec(db)
        .await?;
    Ok(released.rows_affected)
}

/// Marks the job alive every `every` until dropped.
pub(crate) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    pub(crate) fn start(
        db: &DatabaseConnection,
        job_id: i64,
        worker: &str,
        every: Duration,
    ) -> Self {
        let (db, worker) = (db.clone(), worker.to_owned());
        Heartbeat(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = beat(&db, job_id, &worker).await {
                    tracing::warn!(job_id, error = %e, "could not record the import's heartbeat");
                }
            }
        }))
    }
}

/// Records that `worker`, which runs job `job_id`, is alive (in `db`'s transaction, when
/// it is one); nothing when the job is no longer its own.
pub(crate) async fn beat<C: ConnectionTrait>(
    db: &C,
    job_id: i64,
    worker: &str,
) -> Result<(), DbErr> {
    match fence(db, job_id, worker).await {
        Ok(()) | Err(RunError::TakenOver) => Ok(()),
        Err(RunError::Db(e)) => Err(e),
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `update` on the job, only while `worker` still owns it.
async fn update_owned<C: ConnectionTrait>(
    txn: &C,
    update: sea_orm::UpdateMany<import_job::Entity>,
    job_id: i64,
    worker: &str,
) -> Result<(), RunError> {
    let done = update
        .filter(import_job::Column::Id.eq(job_id))
        .filter(import_job::Column::WorkerId.eq(worker))
        .filter(import_job::Column::Status.eq(JobStatus::InProgress))
        .exec(txn)
        .await?;
    if done.rows_affected == 1 {
        Ok(())
    } else {
        Err(RunError::TakenOver)
    }
}

/// Marks the job alive, only while `worker` still owns it.
pub(crate) async fn fence<C: ConnectionTrait>(
    txn: &C,
    job_id: i64,
    worker: &str,
) -> Result<(), RunError> {
    let beat = import_job::Entity::update_many().col_expr(
        import_job::Column::HeartbeatAt,
        Expr::value(Some(chrono::Utc::now())),
    );
    update_owned(txn, beat, job_id, worker).await
}

/// Writes the job's counts (and its final status), only while `worker` still owns it.
pub(crate) async fn save_progress<C: ConnectionTrait>(
    txn: &C,
    job_id: i64,
    worker: &str,
    totals: &Totals,
    final_status: Option<JobStatus>,
) -> Result<(), RunError> {
    let now = chrono::Utc::now();
    let mut update = import_job::Entity::update_many()
        .col_expr(
            import_job::Column::ProcessedRows,
            Expr::value(totals.processed),
        )
        .col_expr(import_job::Column::CreatedRows, Expr::value(totals.created))
        .col_expr(import_job::Column::UpdatedRows, Expr::value(totals.updated))
        .col_expr(
            import_job::Column::UnchangedRows,
            Expr::value(totals.unchanged),
        )
        .col_expr(import_job::Column::ErrorRows, Expr::value(totals.errors))
        .col_expr(import_job::Column::HeartbeatAt, Expr::value(Some(now)));
    if let Some(s) = final_status {
        update = update
            .col_expr(import_job::Column::Status, Expr::value(s.as_str()))
            .col_expr(import_job::Column::FinishedAt, Expr::value(Some(now)));
    }
    update_owned(txn, update, job_id, worker).await
}
/// The key of the PostgreSQL advisory lock that orders a job's move into bulk mode
/// against the checks of other jobs and of reverts (`"bulk"` in ASCII).
const BULK_LOCK: i64 = 0x6275_6c6b;

/// Serialises, until `txn` ends, against every other transaction that calls this: on
/// PostgreSQL through a transaction-level advisory lock; SQLite has one writer, and each
/// caller writes before it reads, so its write lock does the same.
pub(crate) async fn lock_bulk<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [BULK_LOCK.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Puts the job in bulk mode, with its log line, while `worker` owns it, unless another
/// import is in progress: while a bulk job runs no other job writes (they wait, see
/// [`bulk_running`]), and that is what lets it drop the unique email index of an empty
/// table, when no row of the job has been read before (`first`). `note` is the log line,
/// given whether that is the case.
pub(crate) async fn mark_bulk(
    db: &DatabaseConnection,
    job_id: i64,
    worker: &str,
    first: bool,
    note: impl FnOnce(bool) -> import_message::ActiveModel,
) -> Result<Mode, RunError> {
    let txn = db.begin().await?;
    lock_bulk(&txn).await?;
    // The write first: on SQLite it takes the write lock, so what is read next stays true
    // until the commit.
    let update =
        import_job::Entity::update_many().col_expr(import_job::Column::Bulk, Expr::value(true));
    update_owned(&txn, update, job_id, worker).await?;
    let others = import_job::Entity::find()
        .filter(import_job::Column::Status.eq(JobStatus::InProgress))
        .filter(import_job::Column::Id.ne(job_id))
        .count(&txn)
        .await?;
    if others > 0 {
        txn.rollback().await?;
        return Ok(Mode::Normal);
    }
    let empty = first
        && crate::entities::client::Entity::find()
            .select_only()
            .column(crate::entities::client::Column::Id)
            .limit(1)
            .into_tuple::<i64>()
            .one(&txn)
            .await?
            .is_none();
    note(empty).insert(&txn).await?;
    txn.commit().await?;
    Ok(if empty {
        Mode::BulkIntoEmpty
    } else {
        Mode::Bulk
    })
}

/// Another job in progress in bulk mode, if there is one; with `stale_before`, only one
/// whose worker is alive (a heartbeat since then). Read under [`lock_bulk`] in `txn`,
/// after a write.
pub(crate) async fn bulk_running<C: ConnectionTrait>(
    txn: &C,
    except: i64,
    stale_before: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Option<i64>, DbErr> {
    let mut query = import_job::Entity::find()
        .select_only()
        .column(import_job::Column::Id)
        .filter(import_job::Column::Bulk.eq(true))
        .filter(import_job::Column::Status.eq(JobStatus::InProgress))
        .filter(import_job::Column::Id.ne(except));
    if let Some(t) = stale_before {
        query = query.filter(import_job::Column::HeartbeatAt.gte(t));
    }
    query.into_tuple::<i64>().one(txn).await
}

/// Before a job reads or writes anything: the id of a live bulk job it has to wait for,
/// if any. Marks this job alive in the same transaction (its write orders the check on
/// SQLite).
pub(crate) async fn bulk_to_wait_for(
    db: &DatabaseConnection,
    job_id: i64,
    worker: &str,
    stale_before: chrono::DateTime<chrono::Utc>,
) -> Result<Option<i64>, RunError> {
    let txn = db.begin().await?;
    lock_bulk(&txn).await?;
    fence(&txn, job_id, worker).await?;
    let running = bulk_running(&txn, job_id, Some(stale_before)).await?;
    txn.commit().await?;
    Ok(running)
}
