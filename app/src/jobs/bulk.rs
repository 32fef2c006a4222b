//! Bulk mode: a large first load of clients runs with the non-unique `client` indexes
//! dropped, and rebuilds them at its end. Keeping random-key indexes up to date row by row
//! costs a fresh import most of its time; building each once from the finished table is
//! a single sort.
//!
//! The indexes are dropped in a committed statement, so they are missing while the job
//! runs (pages that sort or filter clients are slower meanwhile; the Import Data page says
//! the job runs in bulk mode). They come back at the job's end whatever its outcome, when
//! a worker starts ([`ensure_client_indexes`]); a run that takes a bulk job over from a
//! stale worker runs in bulk mode too, and rebuilds them at its own end. No crash leaves
//! the table without them for longer than it takes a worker to start.
//!
//! A job goes into bulk mode only when no other import is in progress, and while it runs
//! no other import starts and no import is reverted ([`super::queue::mark_bulk`]): it is
//! the table's only writer. Into an empty table it then drops the unique email index too
//! ([`UNIQUE_CLIENT_INDEXES`]): the file's emails are checked against each other as it is
//! read, and nothing else writes, so they stay unique; the index is built again, unique,
//! at the end (and before a resumed run goes on, which keeps it). The username index
//! stays (SQLite cannot drop it: it belongs to the column's `UNIQUE`), and a clash of
//! generated usernames is caught by it as in any fresh import.

use super::queue::mark_bulk;
use super::{RunError, info, writes};
use crate::entities::import_job;
use crate::model::ImportAction;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, PaginatorTrait, Statement,
    TransactionSession, TransactionTrait,
};

/// By default, a file of at least this many rows may run in bulk mode…
pub const BULK_MIN_ROWS: u64 = 100_000;
/// …when it has at least twice as many rows as the table has clients: rebuilding the
/// indexes then costs less than keeping them up to date, and a table already in use is
/// not left without them for long.
const BULK_TABLE_RATIO: u64 = 2;

/// One index that bulk mode drops and rebuilds: its name and its columns on SQLite and on
/// PostgreSQL. They are exactly those of the migrations (a test compares them).
pub struct ClientIndex {
    pub name: &'static str,
    /// Written with quoted names (as the migrations' schema builder writes them), so that
    /// SQLite keeps the same definition text.
    pub quoted: bool,
    pub sqlite: &'static str,
    pub postgres: &'static str,
    pub unique: bool,
}

/// How a job loads its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every index kept up to date as rows arrive.
    Normal,
    /// Without the non-unique indexes of `client` (a resumed bulk job too).
    Bulk,
    /// Into an empty table, the first attempt: without the unique email index either.
    BulkIntoEmpty,
}

impl Mode {
    pub fn is_bulk(self) -> bool {
        self != Mode::Normal
    }
}

/// The unique index bulk mode drops when it loads an empty table (migration 000005).
pub const UNIQUE_CLIENT_INDEXES: [ClientIndex; 1] = [ClientIndex {
    name: "ux_client_email",
    quoted: false,
    sqlite: "lower(email)",
    postgres: "(lower(email) COLLATE \"C\")",
    unique: true,
}];

/// The non-unique indexes of `client` (migrations 000001 and 000004).
pub const CLIENT_INDEXES: [ClientIndex; 6] = [
    ClientIndex {
        name: "ix_client_project",
        quoted: true,
        sqlite: "\"project_id\"",
        postgres: "\"project_id\"",
        unique: false,
    },
    ClientIndex {
        name: "ix_client_desk",
        quoted: true,
        sqlite: "\"desk_id\"",
        postgres: "\"desk_id\"",
        unique: false,
    },
    ClientIndex {
        name: "ix_client_created",
        quoted: true,
        sqlite: "\"created_at\"",
        postgres: "\"created_at\"",
        unique: false,
    },
    ClientIndex {
        name: "ix_client_first_name_prefix",
        quoted: false,
        sqlite: "lower(first_name), id",
        postgres: "(lower(first_name) COLLATE \"C\"), id",
        unique: false,
    },
    ClientIndex {
        name: "ix_client_last_name_prefix",
        quoted: false,
        sqlite: "lower(last_name), id",
        postgres: "(lower(last_name) COLLATE \"C\"), id",
        unique: false,
    },
    ClientIndex {
        name: "ix_client_phone_prefix",
        quoted: false,
        sqlite: "phone, id",
        postgres: "(phone COLLATE \"C\"), id",
        unique: false,
    },
];

/// Whether `job` should run in bulk mode, given the clients the table holds now.
pub fn eligible(
    job: &import_job::Model,
    action: ImportAction,
    clients: u64,
    min_rows: u64,
) -> bool {
    large_enough(job, action, min_rows) && rows(job) >= clients.saturating_mul(BULK_TABLE_RATIO)
}

/// What the job itself must be for bulk mode, before the table is counted (counting a
/// table of millions is not free, and most jobs are small).
fn large_enough(job: &import_job::Model, action: ImportAction, min_rows: u64) -> bool {
    action == ImportAction::Users && writes(job) && rows(job) >= min_rows
}

fn rows(job: &import_job::Model) -> u64 {
    u64::try_from(job.total_rows).unwrap_or(0)
}

/// Before a job's rows are read: puts the job in bulk mode when it should be (or already
/// was, on a resume) and drops the indexes. Says how the job loads.
pub async fn begin(
    db: &DatabaseConnection,
    job: &import_job::Model,
    action: ImportAction,
    worker: &str,
    min_rows: u64,
) -> Result<Mode, RunError> {
    if job.bulk {
        // A resume: the rows written so far are in the table, so its unique index comes
        // back before any more are (and stays); the others wait for the end.
        ensure_unique_indexes(db).await?;
        drop_client_indexes(db).await?;
        return Ok(Mode::Bulk);
    }
    if !large_enough(job, action, min_rows) {
        return Ok(Mode::Normal);
    }
    let clients = crate::entities::client::Entity::find().count(db).await?;
    if !eligible(job, action, clients, min_rows) {
        return Ok(Mode::Normal);
    }
    let indexes = CLIENT_INDEXES.len();
    let mode = mark_bulk(db, job.id, worker, job.processed_rows == 0, |empty| {
        info(
            job.id,
            if empty {
                format!(
                    "Bulk mode: the client table was empty, so its {indexes} search and sort indexes and its unique email index are dropped while this file loads and built again at its end (the file's emails are checked against each other as it is read). Other imports wait until it has finished."
                )
            } else {
                format!(
                    "Bulk mode: the table held {clients} clients, fewer than half this file's rows, so the {indexes} search and sort indexes of clients are dropped while it loads and rebuilt at its end. Other imports wait until it has finished."
                )
            },
        )
    })
    .await?;
    match mode {
        Mode::Normal => {
            tracing::info!(
                job_id = job.id,
                "another import is in progress: this one runs without bulk mode"
            );
        }
        Mode::Bulk => drop_client_indexes(db).await?,
        Mode::BulkIntoEmpty => {
            drop_client_indexes(db).await?;
            for index in &UNIQUE_CLIENT_INDEXES {
                db.execute_unprepared(&format!("DROP INDEX IF EXISTS {}", index.name))
                    .await?;
            }
        }
    }
    Ok(mode)
}

/// Builds the unique indexes bulk mode may have dropped, where they are missing. Cheap
/// when they are there: the catalog is read, the table is not locked. On PostgreSQL under
/// the bulk lock, so that two jobs starting at once do not both build one; SQLite runs
/// each `CREATE … IF NOT EXISTS` under its write lock (and a transaction that read first
/// could not take that lock once another writer had committed).
pub async fn ensure_unique_indexes(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return build_missing_unique_indexes(db).await;
    }
    let txn = db.begin().await?;
    super::queue::lock_bulk(&txn).await?;
    build_missing_unique_indexes(&txn).await?;
    txn.commit().await
}

async fn build_missing_unique_indexes<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    for index in &UNIQUE_CLIENT_INDEXES {
        if !index_exists(db, index.name).await? {
            tracing::info!(
                index = index.name,
                "building a unique index bulk mode dropped"
            );
            create_client_index(db, index).await?;
        }
    }
    Ok(())
}

/// Whether an index of that name exists.
pub async fn index_exists<C: ConnectionTrait>(db: &C, name: &str) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT to_regclass($1) IS NOT NULL AS found",
        _ => {
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?) AS found"
        }
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [name.into()]))
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<bool>("", "found")?,
        None => false,
    })
}

/// Drops the indexes (in `db`'s transaction, when it is one).
pub(crate) async fn drop_client_indexes<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    for index in &CLIENT_INDEXES {
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {}", index.name))
            .await?;
    }
    Ok(())
}

/// Creates whichever of the indexes is missing. Runs at the end of each run of a bulk job
/// (`job`: the job and its worker), a run that took the job over from a stale worker
/// included, since that run is in bulk mode too ([`begin`]), and when a worker starts.
///
/// Each index's transaction also records the job's heartbeat. SQLite's writer lock keeps
/// the heartbeat out while an index is built, and when it is released a claim that was
/// waiting for it may come first: it would find the heartbeat as old as the build and
/// take the job over from a worker that is alive (a second run, and an attempt counted
/// towards giving the job up, for each time it happens).
pub async fn ensure_client_indexes<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    job: Option<(i64, &str)>,
) -> Result<(), DbErr> {
    let build = async |index: &ClientIndex| {
        let txn = db.begin().await?;
        if txn.get_database_backend() == DbBackend::Sqlite {
            super::writer_cache(&txn).await?;
        }
        create_client_index(&txn, index).await?;
        if let Some((id, worker)) = job {
            super::queue::beat(&txn, id, worker).await?;
        }
        txn.commit().await
    };
    // One transaction an index: each holds SQLite's write lock for a few seconds at most,
    // so the job's heartbeat gets through between them (a rebuild of all of them at once
    // held it for half a minute on five million clients). PostgreSQL builds two at once,
    // each on its own connection and core (its `CREATE INDEX`es of one table do not wait
    // for each other); SQLite has one writer, so there they go one after the other.
    if db.get_database_backend() == DbBackend::Postgres {
        let (even, odd): (Vec<_>, Vec<_>) = UNIQUE_CLIENT_INDEXES
            .iter()
            .chain(&CLIENT_INDEXES)
            .enumerate()
            .partition(|(k, _)| k % 2 == 0);
        let build_all = async |indexes: Vec<(usize, &'static ClientIndex)>| {
            for (_, index) in indexes {
                build(index).await?;
            }
            Ok::<(), DbErr>(())
        };
        let (a, b) = tokio::join!(build_all(even), build_all(odd));
        return a.and(b);
    }
    for index in UNIQUE_CLIENT_INDEXES.iter().chain(&CLIENT_INDEXES) {
        build(index).await?;
    }
    Ok(())
}

/// Creates whichever of the indexes is missing, in `db` (a transaction, say).
pub(crate) async fn create_client_indexes<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    for index in &CLIENT_INDEXES {
        create_client_index(db, index).await?;
    }
    Ok(())
}

async fn create_client_index<C: ConnectionTrait>(db: &C, index: &ClientIndex) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    {
        let columns = match backend {
            DbBackend::Postgres => index.postgres,
            _ => index.sqlite,
        };
        let unique = if index.unique { "UNIQUE " } else { "" };
        let sql = if index.quoted {
            format!(
                "CREATE {unique}INDEX IF NOT EXISTS \"{}\" ON \"client\" ({columns})",
                index.name
            )
        } else {
            format!(
                "CREATE {unique}INDEX IF NOT EXISTS {} ON client ({columns})",
                index.name
            )
        };
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
