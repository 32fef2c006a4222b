//! Import jobs (SPEC §3.3), in one place: a file is checked and stored as a job
//! ([`store`]), claimed by one worker ([`queue`], [`workers`]), read, validated and written
//! in batches by a two-thread pipeline ([`runner`], [`apply`]), finished, confirmed or
//! reverted ([`lifecycle`], [`revert`]). What a job changed is recorded by [`changes`] so
//! that it can be undone; a large first load runs in [`bulk`] mode.
//!
//! The engine's reading layers (decode, parse, validate) live in [`crate::import`] and
//! know nothing of jobs or the database.

pub mod apply;
pub mod bulk;
pub mod changes;
pub mod keys;
pub mod lifecycle;
pub mod queue;
pub mod revert;
pub mod runner;
pub mod store;
pub mod workers;
pub mod write;

pub use lifecycle::{
    Reverting, confirm, discard, may_change, may_see, revert, revert_on_its_own, visible,
};
pub use queue::{claim_next, release_orphans};
pub use runner::{CHANGE_SAMPLE, RunOptions, run};
pub use store::{FILE_CHUNK_BYTES, NewImport, UploadFile, create, file_bytes, submission_key};

use crate::auth::Caller;
use crate::entities::{import_job, import_message};
use crate::model::AppError;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait};

/// Rows of a job's first batch. Later batches are sized by how long the previous one
/// took (see `runner`): fewer, larger commits write far less, and a batch that holds the
/// database's write lock too long keeps pages waiting.
pub const BATCH_ROWS: usize = 5_000;

pub(crate) fn message(
    job_id: i64,
    level: &str,
    line: Option<u64>,
    column: Option<String>,
    value: Option<String>,
    text: String,
) -> import_message::ActiveModel {
    import_message::ActiveModel {
        job_id: Set(job_id),
        level: Set(level.into()),
        line: Set(line.map(|l| l as i64)),
        column: Set(column),
        value: Set(value),
        message: Set(text),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
}

pub(crate) fn info(job_id: i64, text: String) -> import_message::ActiveModel {
    message(job_id, "info", None, None, None, text)
}

/// What a run did so far; a resumed run starts from the job's committed counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub processed: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub errors: i64,
}

impl From<&import_job::Model> for Totals {
    fn from(job: &import_job::Model) -> Self {
        Totals {
            processed: job.processed_rows,
            created: job.created_rows,
            updated: job.updated_rows,
            unchanged: job.unchanged_rows,
            errors: job.error_rows,
        }
    }
}

/// A run is given up after this many attempts (a file that crashes the worker every time).
pub const MAX_ATTEMPTS: i32 = 5;

/// The SQLite page cache an import's writer asks for, for the connection of its
/// transaction: its rows land all over the email and username indexes, and a large cache
/// keeps those pages in memory instead of re-reading them for every batch.
pub const WRITER_CACHE: &str = "PRAGMA cache_size = -32768";

/// Gives the connection of `txn` the writer's page cache (SQLite; a no-op elsewhere).
pub(crate) async fn writer_cache<C: sea_orm::ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == sea_orm::DbBackend::Sqlite {
        txn.execute_unprepared(WRITER_CACHE).await?;
    }
    Ok(())
}

/// Why a worker's write to its job did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another worker owns the job now (this one was presumed dead and the job taken
    /// over); this one must leave it alone.
    #[error("the import was taken over by another worker")]
    TakenOver,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<RunError> for AppError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::TakenOver => AppError::Conflict(format!("Import {e}.")),
            RunError::Db(e) => e.into(),
        }
    }
}

/// Whether a job runs for real: a validate-only job does so once it is confirmed.
pub fn writes(job: &import_job::Model) -> bool {
    !job.validate_only || job.confirmed_at.is_some()
}

/// Job `job_id`, or why there is none.
pub(crate) async fn find_job(
    db: &DatabaseConnection,
    job_id: i64,
) -> Result<import_job::Model, AppError> {
    import_job::Entity::find_by_id(job_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no import #{job_id}.")))
}

/// An audit entry about a job, named by number and title.
pub(crate) async fn audit_job<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    action: &str,
    job: &import_job::Model,
) -> Result<(), DbErr> {
    crate::services::audit::record(
        txn,
        caller,
        crate::services::audit::Entry {
            action,
            subject: Some(format!("import #{}", job.id)),
            details: Some(job.title.clone()),
        },
    )
    .await
}
