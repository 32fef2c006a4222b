//! Running a claimed job (SPEC §3.3) as a two-thread pipeline: a blocking reader thread
//! decodes, parses and validates the stored file and refuses rows that repeat a key of the
//! file; the async writer applies each batch it receives in one transaction, together with
//! the batch's messages and the job's progress. A bounded channel between the two keeps
//! memory flat: the reader is at most [`BATCHES_IN_FLIGHT`] batches ahead.

use super::apply::{AccountImport, Applier, ClientImport, IbImport};
use super::bulk;
use super::keys::FileKeys;
use super::lifecycle::finish;
use super::queue::{self, Heartbeat, fence, save_progress};
use super::write::insert_all;
use super::{BATCH_ROWS, MAX_ATTEMPTS, RunError, Totals, find_job, info, message, writes};
use crate::entities::{import_file_chunk, import_job, import_message};
use crate::import::corrections::Corrections;
use crate::import::decode::TextEncoding;
use crate::import::mapping::Mapping;
use crate::import::prepare::{FileRows, RowOutcome, SNIFF_BYTES, choose_delimiter};
use crate::model::JobStatus;
use crate::model::{AppError, CurrentUser, Delimiter, Desks, ImportAction};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const MIN_BATCH_ROWS: usize = 1_000;
const MAX_BATCH_ROWS: usize = 20_000;

/// How long one batch should hold its transaction (on SQLite, the database's only write
/// lock): long enough that commits are few, short enough that pages and other writers
/// wait at most this long.
const BATCH_TARGET: Duration = Duration::from_millis(400);

/// How many changed fields a validate-only run keeps, to show what confirming would do.
pub const CHANGE_SAMPLE: usize = 20;

/// How long batches of a bulk-mode job are committed together.
const BULK_COMMIT_EVERY: Duration = Duration::from_secs(3);

/// Batches the reader may have ready while the writer works on one.
const BATCHES_IN_FLIGHT: usize = 1;

/// What the reader thread sends the writer.
enum Piece {
    /// The file opened: what the log says about it.
    Opened {
        intro: Vec<String>,
    },
    Batch(Vec<RowOutcome>),
    /// The file could not be read (it was checked at upload, so only a failed read of
    /// the database or a changed program gets here).
    Unreadable(String),
}

/// Why a run stopped before the end of its file.
enum Stop {
    /// The rest of the file could not be applied; what was committed stays.
    Failed(String),
    /// Another worker owns the job now; this one must leave it alone.
    TakenOver,
}

impl From<RunError> for Stop {
    fn from(e: RunError) -> Self {
        match e {
            RunError::TakenOver => Stop::TakenOver,
            RunError::Db(e) => {
                tracing::error!(error = %e, "an import batch failed");
                Stop::Failed(
                    "a database error stopped the import; the rows before it are saved".into(),
                )
            }
        }
    }
}

impl From<DbErr> for Stop {
    fn from(e: DbErr) -> Self {
        RunError::Db(e).into()
    }
}

/// Runs a job that `worker` has claimed, from its stored file to its final status, and
/// notifies its initiator. A job that already committed some batches resumes after them.
pub async fn run(
    db: &DatabaseConnection,
    job_id: i64,
    worker: &str,
    options: &RunOptions,
) -> Result<import_job::Model, AppError> {
    let job = find_job(db, job_id).await?;
    if job.status != JobStatus::InProgress || job.worker_id.as_deref() != Some(worker) {
        return Err(AppError::Conflict(format!(
            "Import #{job_id} is not claimed by this worker."
        )));
    }
    let _beat = Heartbeat::start(db, job_id, worker, options.heartbeat_every);
    let mut totals = Totals::from(&job);
    let outcome = if job.attempts > MAX_ATTEMPTS {
        Err(Stop::Failed(format!(
            "it was started {MAX_ATTEMPTS} times without finishing"
        )))
    } else {
        let action: ImportAction = job.action.parse().map_err(|e: String| {
            tracing::error!(job_id, error = %e, "stored action is not an action");
            AppError::Internal
        })?;
        let started = Instant::now();
        let begun = match wait_for_bulk_jobs(db, job_id, worker, options.stale_after).await {
            Ok(()) => bulk::begin(db, &job, action, worker, options.bulk_min_rows).await,
            Err(e) => Err(e),
        };
        match begun {
            Ok(mode) => {
                let bulk = mode.is_bulk();
                let begun = started.elapsed();
                let applied = apply_file(db, &job, worker, action, mode, &mut totals).await;
                let loaded = started.elapsed();
                if bulk && !matches!(applied, Err(Stop::TakenOver)) {
                    // Whatever the outcome: the table must not stay without them.
                    if let Err(e) = bulk::ensure_client_indexes(db, Some((job_id, worker))).await {
                        tracing::error!(job_id, error = %e, "could not rebuild the client indexes after a bulk import; they are rebuilt when a worker starts");
                    }
                }
                tracing::info!(
                    job_id,
                    bulk,
                    begin_ms = begun.as_millis() as u64,
                    load_ms = (loaded - begun).as_millis() as u64,
                    rebuild_ms = (started.elapsed() - loaded).as_millis() as u64,
                    "import run timings"
                );
                applied
            }
            Err(e) => Err(e.into()),
        }
    };
    let stopped = match outcome {
        Ok(()) => None,
        Err(Stop::TakenOver) => {
            // The worker that took the job over finishes it, and rebuilds what bulk
            // mode dropped.
            return Err(RunError::TakenOver.into());
        }
        Err(Stop::Failed(reason)) => Some(reason),
    };
    finish(db, &job, worker, &totals, stopped).await
}

/// How a worker runs a job.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// How often the job is marked alive.
    pub heartbeat_every: Duration,
    /// A client file of at least this many rows (and twice as many as the table holds)
    /// loads in bulk mode.
    pub bulk_min_rows: u64,
    /// A job whose worker has sent no heartbeat for this long is presumed stopped: a
    /// job does not wait for a bulk job in that state.
    pub stale_after: Duration,
}

/// How often a job waiting for a bulk job looks again.
const BULK_WAIT_POLL: Duration = Duration::from_millis(500);

/// Waits while another job runs in bulk mode (it is then the table's only writer), then
/// makes sure the unique indexes a stopped bulk job may have dropped are there.
async fn wait_for_bulk_jobs(
    db: &DatabaseConnection,
    job_id: i64,
    worker: &str,
    stale_after: Duration,
) -> Result<(), RunError> {
    let mut logged = false;
    loop {
        let stale_before = chrono::Utc::now()
            - chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::seconds(30));
        match queue::bulk_to_wait_for(db, job_id, worker, stale_before).await? {
            None => break,
            Some(other) => {
                if !logged {
                    logged = true;
                    tracing::info!(job_id, other, "waiting for a bulk import to finish");
                    info(
                        job_id,
                        format!(
                            "Waiting for import #{other}, which loads in bulk mode, to finish."
                        ),
                    )
                    .insert(db)
                    .await?;
                }
                tokio::time::sleep(BULK_WAIT_POLL).await;
            }
        }
    }
    bulk::ensure_unique_indexes(db).await?;
    Ok(())
}

/// Lets the reader know how many rows the writer wants in its next batch.
#[derive(Clone)]
struct BatchSizer(Arc<AtomicUsize>);

impl BatchSizer {
    fn new() -> Self {
        BatchSizer(Arc::new(AtomicUsize::new(BATCH_ROWS)))
    }

    fn rows(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Aims the next batch at [`BATCH_TARGET`], from the rate of the one just written,
    /// changing by at most a factor of two at a time.
    fn record(&self, rows: usize, took: Duration) {
        if rows == 0 {
            return;
        }
        let per_row = took.as_secs_f64() / rows as f64;
        let ideal = if per_row > 0.0 {
            (BATCH_TARGET.as_secs_f64() / per_row) as usize
        } else {
            MAX_BATCH_ROWS
        };
        let now = self.rows();
        let next = ideal.clamp(now / 2, now.saturating_mul(2));
        self.0.store(
            next.clamp(MIN_BATCH_ROWS, MAX_BATCH_ROWS),
            Ordering::Relaxed,
        );
    }
}

async fn apply_file(
    db: &DatabaseConnection,
    job: &import_job::Model,
    worker: &str,
    action: ImportAction,
    mode: bulk::Mode,
    totals: &mut Totals,
) -> Result<(), Stop> {
    let bulk = mode.is_bulk();
    // A row for a client outside the initiator's desks is a row error.
    let initiator = initiator(db, job).await?;
    let within = initiator
        .as_ref()
        .map_or(Desks::Only(Vec::new()), |u| u.desks.clone());
    let mut applier = match action {
        ImportAction::Users => {
            let mut clients = ClientImport::new(db, job.id, within).await?;
            // On a first attempt into an empty table every row creates a client.
            clients.fresh = totals.processed == 0
                && crate::entities::client::Entity::find()
                    .select_only()
                    .column(crate::entities::client::Column::Id)
                    .limit(1)
                    .into_tuple::<i64>()
                    .one(db)
                    .await?
                    .is_none();
            // Nothing else writes while it runs, the file's emails are checked against
            // each other, and the unique email index is gone until the end.
            clients.emails_new = mode == bulk::Mode::BulkIntoEmpty && clients.fresh;
            Applier::Clients(clients)
        }
        ImportAction::Accounts => Applier::Accounts(AccountImport::new(job.id, within)),
        ImportAction::Ibs => Applier::Ibs(IbImport::new(job.id, within)),
    };
    let Some(encoding) = job.encoding.as_deref().and_then(TextEncoding::from_label) else {
        return Err(Stop::Failed(
            "the file's encoding was not recorded when it was uploaded".into(),
        ));
    };
    let mapping = match job.mapping.as_deref() {
        Some(kept) => Some(Mapping::from_json(action, kept).map_err(|e| {
            Stop::Failed(format!(
                "the column mapping kept with the job is unreadable: {e}"
            ))
        })?),
        None => None,
    };
    let corrections = match job.corrections.as_deref() {
        Some(kept) => Corrections::from_json(kept).map_err(|e| {
            Stop::Failed(format!(
                "the corrections kept with the job are unreadable: {e}"
            ))
        })?,
        None => Corrections::default(),
    };
    let sizer = BatchSizer::new();
    let (pieces_tx, pieces_rx) = mpsc::channel(PIECES_IN_FLIGHT);
    let (tx, mut rx) = mpsc::channel(BATCHES_IN_FLIGHT);
    let reading = Reading {
        action,
        mapping,
        corrections,
        encoding,
        delimiter: job.delimiter.parse().unwrap_or_default(),
        rows: job.total_rows as u64,
        today: job.created_at.date_naive(),
        skip: totals.processed as u64,
        sizer: sizer.clone(),
    };
    let reader = tokio::task::spawn_blocking(move || {
        reading.run(
            StoredPieces {
                rx: pieces_rx,
                piece: Vec::new(),
                at: 0,
            },
            &tx,
        )
    });
    let feeder = tokio::spawn(feed_pieces(db.clone(), job.id, pieces_tx));

    // The first batch carries the opening messages, so they are written exactly once.
    let mut pending = Vec::new();
    let (mut writing, mut waiting, mut batches) = (Duration::ZERO, Duration::ZERO, 0u32);
    // Batches are committed together for up to `commit_every`, with the job's progress:
    // a commit rewrites every index page its rows touched, so in bulk mode, where the
    // pages wait anyway, fewer commits write far less. Readers never wait for a writer;
    // other writers wait at most this long.
    let commit_every = if bulk {
        BULK_COMMIT_EVERY
    } else {
        BATCH_TARGET
    };
    let mut open: Option<Open> = None;
    let mut next = totals.clone();
    let result = async {
        loop {
            // No batch ready: commit now rather than hold the transaction (on SQLite the
            // database's write lock) while the reader catches up.
            if rx.is_empty()
                && let Some(o) = open.take()
            {
                let started = Instant::now();
                o.commit(job, worker, &next).await?;
                *totals = next.clone();
                writing += started.elapsed();
            }
            let asked = Instant::now();
            let Some(piece) = rx.recv().await else { break };
            waiting += asked.elapsed();
            match piece {
                Piece::Unreadable(e) => return Err(Stop::Failed(e)),
                Piece::Opened { intro } => {
                    if totals.processed > 0 {
                        pending.push(info(
                            job.id,
                            format!(
                                "Resumed (attempt {}) after data row {}: the rows before it were committed by an earlier attempt.",
                                job.attempts, totals.processed
                            ),
                        ));
                    } else {
                        pending.extend(intro.into_iter().map(|t| info(job.id, t)));
                        if let Some(earlier) = identical_earlier(db, job, initiator.as_ref()).await? {
                            pending.push(info(
                                job.id,
                                format!(
                                    "An identical file (the same content, byte for byte) was imported before, as import #{} on {}; importing it again changes only what differs.",
                                    earlier.id,
                                    earlier.created_at.format("%Y-%m-%d %H:%M UTC")
                                ),
                            ));
                        }
                    }
                }
                Piece::Batch(batch) => {
                    let started = Instant::now();
                    let size = batch.len();
                    let messages = std::mem::take(&mut pending);
                    if open.is_none() {
                        open = Some(Open::begin(db, job, worker).await?);
                    }
                    if let Some(o) = &open {
                        apply_batch(&o.txn, job, &mut applier, batch, messages, &mut next)
                            .await?;
                    }
                    sizer.record(size, started.elapsed());
                    if let Some(o) = open.take_if(|o| o.since.elapsed() >= commit_every) {
                        o.commit(job, worker, &next).await?;
                        *totals = next.clone();
                    }
                    writing += started.elapsed();
                    batches += 1;
                }
            }
        }
        if let Some(o) = open.take() {
            let started = Instant::now();
            o.commit(job, worker, &next).await?;
            *totals = next.clone();
            writing += started.elapsed();
        }
        Ok(())
    }
    .await;
    // Where the time went: writing batches, or waiting for the reader thread.
    tracing::info!(
        job_id = job.id,
        batches,
        last_batch_rows = sizer.rows(),
        writing_ms = writing.as_millis() as u64,
        waiting_for_rows_ms = waiting.as_millis() as u64,
        "import load timings"
    );
    if let Applier::Clients(clients) = &applier {
        let t = &clients.timings;
        tracing::info!(
            job_id = job.id,
            fresh = clients.fresh,
            look_up_ms = t.look_up.as_millis() as u64,
            usernames_ms = t.usernames.as_millis() as u64,
            insert_ms = t.insert.as_millis() as u64,
            update_ms = t.update.as_millis() as u64,
            record_ms = t.record.as_millis() as u64,
            "client writing timings"
        );
    }
    // Stops the reader and the feeder early when the writer gave up: their next send fails.
    drop(rx);
    feeder.abort();
    if let Err(e) = reader.await {
        tracing::error!(job_id = job.id, error = %e, "the import's reader thread failed");
        if result.is_ok() {
            return Err(Stop::Failed("the file could not be read to its end".into()));
        }
    }
    result
}

/// Stored pieces of a file on their way from the database to the reader thread.
const PIECES_IN_FLIGHT: usize = 2;

/// Reads a job's stored file piece by piece, in order, into `tx`.
async fn feed_pieces(
    db: DatabaseConnection,
    job_id: i64,
    tx: mpsc::Sender<Result<Vec<u8>, String>>,
) {
    for seq in 0.. {
        let piece = match import_file_chunk::Entity::find_by_id((job_id, seq))
            .one(&db)
            .await
        {
            Ok(Some(piece)) => Ok(piece.data),
            Ok(None) => return,
            Err(e) => {
                tracing::error!(job_id, error = %e, "could not read a piece of an import's file");
                Err(format!(
                    "a piece of the stored file could not be read ({e})"
                ))
            }
        };
        let failed = piece.is_err();
        if tx.send(piece).await.is_err() || failed {
            return;
        }
    }
}

/// The stored pieces of a job's file, as one stream of bytes.
struct StoredPieces {
    rx: mpsc::Receiver<Result<Vec<u8>, String>>,
    piece: Vec<u8>,
    at: usize,
}

impl Read for StoredPieces {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.piece.len() {
            match self.rx.blocking_recv() {
                Some(Ok(piece)) => {
                    self.piece = piece;
                    self.at = 0;
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.piece.len() - self.at);
        out[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The reader thread's work: the file's rows, validated, in batches.
struct Reading {
    action: ImportAction,
    mapping: Option<Mapping>,
    corrections: Corrections,
    encoding: TextEncoding,
    delimiter: Delimiter,
    rows: u64,
    today: chrono::NaiveDate,
    /// Rows an earlier attempt committed: read again only to know the file's keys.
    skip: u64,
    sizer: BatchSizer,
}

impl Reading {
    fn run(self, mut source: StoredPieces, tx: &mpsc::Sender<Piece>) {
        let unreadable = |e: String| {
            let _ = tx.blocking_send(Piece::Unreadable(e));
        };
        let mut prefix = Vec::new();
        if let Err(e) = (&mut source)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut prefix)
        {
            return unreadable(e.to_string());
        }
        let delimiter = choose_delimiter(&prefix, self.encoding, self.delimiter);
        let source = std::io::Cursor::new(prefix).chain(source);
        let mut file = match FileRows::open(
            source,
            self.encoding,
            delimiter,
            self.action,
            self.mapping.as_ref(),
            self.today,
        )
        .and_then(|file| file.with_corrections(&self.corrections))
        {
            Ok(file) => file,
            Err(e) => return unreadable(e.to_string()),
        };
        let mut intro = vec![format!(
            "Read as {} with {} separators: {} data rows.",
            self.encoding.label(),
            match delimiter {
                b';' => "semicolon",
                b'\t' => "tab",
                _ => "comma",
            },
            self.rows
        )];
        let header = &file.header;
        if !header.extras.is_empty() {
            intro.push(format!(
                "Kept as extra attributes of each client: {}.",
                header
                    .extras
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !header.ignored.is_empty() {
            intro.push(format!(
                "Ignored as the mapping says: {}.",
                header.ignored.join(", ")
            ));
        }
        if !header.read_only.is_empty() {
            intro.push(format!(
                "Ignored read-only columns of an export: {}.",
                header.read_only.join(", ")
            ));
        }
        if !header.unknown.is_empty() {
            intro.push(format!(
                "Ignored columns this import does not know: {}.",
                header.unknown.join(", ")
            ));
        }
        if tx.blocking_send(Piece::Opened { intro }).is_err() {
            return;
        }
        let mut keys = FileKeys::new(self.rows);
        for _ in 0..self.skip {
            match file.next_row() {
                Ok(Some(row)) => {
                    keys.claim(row);
                }
                Ok(None) => {
                    return unreadable("the stored file has fewer rows than were committed".into());
                }
                Err(e) => return unreadable(e.to_string()),
            }
        }
        loop {
            let wanted = self.sizer.rows();
            let mut batch = Vec::with_capacity(wanted);
            while batch.len() < wanted {
                match file.next_row() {
                    Ok(Some(row)) => batch.push(keys.claim(row)),
                    Ok(None) => break,
                    Err(e) => return unreadable(e.to_string()),
                }
            }
            if batch.is_empty() || tx.blocking_send(Piece::Batch(batch)).is_err() {
                return;
            }
        }
    }
}

/// The job's initiator as the rules of a run see them: role and desks, read afresh on each
/// run (an admin may have limited them since the upload). `None` when the user is gone.
async fn initiator(
    db: &DatabaseConnection,
    job: &import_job::Model,
) -> Result<Option<CurrentUser>, DbErr> {
    let Some(u) = crate::entities::back_office_user::Entity::find_by_id(job.initiated_by)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Ok(role) = u.role.parse::<crate::model::Role>() else {
        return Ok(None);
    };
    Ok(Some(CurrentUser {
        desks: crate::services::scope::desks_of(db, u.id, role).await?,
        id: u.id,
        email: u.email,
        role,
    }))
}

/// The latest successful import of the same file that the job's `initiator` may see (an
/// operator's log never names another operator's import).
async fn identical_earlier(
    db: &DatabaseConnection,
    job: &import_job::Model,
    initiator: Option<&CurrentUser>,
) -> Result<Option<JobHead>, DbErr> {
    let Some(initiator) = initiator else {
        return Ok(None);
    };
    let mut find = import_job::Entity::find();
    if let Some(own) = crate::model::policy::only_jobs_of(initiator) {
        find = find.filter(import_job::Column::InitiatedBy.eq(own));
    }
    find.select_only()
        .column(import_job::Column::Id)
        .column(import_job::Column::CreatedAt)
        .filter(import_job::Column::FileSha256.eq(job.file_sha256.clone()))
        .filter(import_job::Column::Id.ne(job.id))
        .filter(
            import_job::Column::Status.is_in([JobStatus::Success, JobStatus::SuccessWithErrors]),
        )
        .order_by_desc(import_job::Column::Id)
        .into_model::<JobHead>()
        .one(db)
        .await
}

#[derive(Debug, FromQueryResult)]
struct JobHead {
    id: i64,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// A transaction of the writer, open across one or more batches.
struct Open {
    txn: sea_orm::DatabaseTransaction,
    since: Instant,
}

impl Open {
    async fn begin(
        db: &DatabaseConnection,
        job: &import_job::Model,
        worker: &str,
    ) -> Result<Open, RunError> {
        let txn = db.begin().await?;
        // The transaction's first statement is a write: SQLite then takes its write lock
        // up front (waiting its turn) instead of failing a read transaction that tries to
        // write after another connection did. It also stops a worker that lost its job
        // at once.
        fence(&txn, job.id, worker).await?;
        super::writer_cache(&txn).await?;
        Ok(Open {
            txn,
            since: Instant::now(),
        })
    }

    /// Commits what the transaction holds with the job's progress, `next`.
    async fn commit(
        self,
        job: &import_job::Model,
        worker: &str,
        next: &Totals,
    ) -> Result<(), RunError> {
        save_progress(&self.txn, job.id, worker, next, None).await?;
        self.txn.commit().await?;
        Ok(())
    }
}

/// Applies one batch inside `txn`, with its messages, adding what it did to `next`. A
/// validate-only run applies the rows in a savepoint and rolls them back, so it predicts
/// exactly.
async fn apply_batch(
    txn: &sea_orm::DatabaseTransaction,
    job: &import_job::Model,
    applier: &mut Applier,
    batch: Vec<RowOutcome>,
    mut messages: Vec<import_message::ActiveModel>,
    next: &mut Totals,
) -> Result<(), RunError> {
    let size = batch.len() as i64;
    let mut valid = Vec::with_capacity(batch.len());
    for outcome in batch {
        match outcome {
            RowOutcome::Invalid { line, errors } => {
                next.errors += 1;
                messages.extend(
                    errors.into_iter().map(|e| {
                        message(job.id, "error", Some(line), e.column, e.value, e.message)
                    }),
                );
            }
            row => valid.push(row),
        }
    }
    let report = if writes(job) {
        applier.apply(txn, valid).await?
    } else {
        let trial = txn.begin().await?;
        let report = applier.apply(&trial, valid).await?;
        // The run's first updates, field by field, for the review to show what confirming
        // would change.
        if next.updated == 0 && report.updated > 0 {
            let sample = super::changes::first_field_changes(&trial, job.id, CHANGE_SAMPLE).await?;
            messages.extend(sample.into_iter().map(|c| {
                message(
                    job.id,
                    "change",
                    None,
                    Some(c.field.clone()),
                    Some(c.after.clone()),
                    format!("{}: {} `{}` → `{}`", c.record, c.field, c.before, c.after),
                )
            }));
        }
        trial.rollback().await?;
        report
    };
    next.processed += size;
    next.created += report.created as i64;
    next.updated += report.updated as i64;
    next.unchanged += report.unchanged as i64;
    next.errors += report.errors.len() as i64;
    messages.extend(report.errors.into_iter().map(|e| {
        message(
            job.id,
            "error",
            Some(e.line),
            e.column.map(str::to_owned),
            e.value,
            e.message,
        )
    }));
    if !messages.is_empty() {
        insert_all(txn, messages).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_grow_towards_the_target_time_and_stay_in_bounds() {
        let sizer = BatchSizer::new();
        // 5,000 rows in 40 ms: ten times faster than the target, so the next batch
        // doubles (no more at once).
        sizer.record(5_000, Duration::from_millis(40));
        assert_eq!(sizer.rows(), 10_000);
        for _ in 0..10 {
            let rows = sizer.rows();
            sizer.record(rows, Duration::from_millis(1));
        }
        assert_eq!(sizer.rows(), MAX_BATCH_ROWS);
        // Slow batches halve it, down to the floor.
        for _ in 0..20 {
            let rows = sizer.rows();
            sizer.record(rows, Duration::from_secs(10));
        }
        assert_eq!(sizer.rows(), MIN_BATCH_ROWS);
        // At the target rate it stays where it is.
        sizer.record(MIN_BATCH_ROWS * 4, BATCH_TARGET);
        assert_eq!(sizer.rows(), MIN_BATCH_ROWS * 2, "at most doubles");
        sizer.record(MIN_BATCH_ROWS * 2, BATCH_TARGET);
        assert_eq!(sizer.rows(), MIN_BATCH_ROWS * 2);
    }
}
