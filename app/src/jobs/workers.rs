//! The import workers a server process runs (`IMPORT_WORKERS`, SPEC §3.3, §7): each one
//! claims a waiting job, or one whose worker went silent, runs it to its end, and waits
//! for the next. Jobs live in the database, so any number of processes can share them.

use super::{bulk, queue, runner};
use crate::entities::import_job;
use crate::model::JobStatus;
use crate::state::Settings;
use sea_orm::DatabaseConnection;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often an idle worker looks for jobs queued by other processes.
const POLL: Duration = Duration::from_secs(1);

/// A name for this process's workers, unique across hosts and restarts.
pub fn process_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    let started = chrono::Utc::now().timestamp_micros();
    format!("{host}-{}-{started:x}", std::process::id())
}

/// Starts `count` workers. Jobs an earlier run of this process left `In Progress` are
/// picked up again first (at once on SQLite; after the heartbeat timeout on PostgreSQL,
/// where they may belong to another live instance).
pub async fn start(
    db: DatabaseConnection,
    settings: Arc<Settings>,
    queue: Arc<Notify>,
    count: usize,
) -> Result<Vec<tokio::task::JoinHandle<()>>, sea_orm::DbErr> {
    let released = queue::release_orphans(&db).await?;
    if released > 0 {
        tracing::info!(released, "resuming imports interrupted by a restart");
    }
    // A bulk import that stopped half-way left the client table without its search
    // indexes; unless one is still running (it rebuilds them at its end), put them back.
    let bulk_running = import_job::Entity::find()
        .filter(import_job::Column::Bulk.eq(true))
        .filter(import_job::Column::Status.eq(JobStatus::InProgress))
        .count(&db)
        .await?;
    if bulk_running == 0 {
        bulk::ensure_client_indexes(&db, None).await?;
    }
    let name = process_name();
    Ok((1..=count)
        .map(|n| {
            let worker = format!("{name}-w{n}");
            tokio::spawn(work(db.clone(), settings.clone(), queue.clone(), worker))
        })
        .collect())
}

async fn work(db: DatabaseConnection, settings: Arc<Settings>, queue: Arc<Notify>, worker: String) {
    loop {
        let stale_before = chrono::Utc::now()
            - chrono::Duration::from_std(settings.import_stale_after)
                .unwrap_or(chrono::Duration::seconds(30));
        match queue::claim_next(&db, &worker, stale_before).await {
            Ok(Some(job_id)) => {
                tracing::info!(job_id, worker, "import claimed");
                // A panic in one run must not take the worker with it: the job is
                // retried after the heartbeat timeout and given up after a few attempts.
                let run = tokio::spawn({
                    let (db, settings, worker) = (db.clone(), settings.clone(), worker.clone());
                    async move { runner::run(&db, job_id, &worker, &settings.import_run()).await }
                });
                match run.await {
                    Ok(Ok(job)) => tracing::info!(job_id, status = %job.status, "import finished"),
                    Ok(Err(e)) => tracing::warn!(job_id, error = %e, "import run ended early"),
                    Err(e) => tracing::error!(job_id, error = %e, "import run panicked"),
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = queue.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
            Err(e) => {
                tracing::warn!(worker, error = %e, "could not look for import jobs");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}
