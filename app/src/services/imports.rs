//! Import jobs (SPEC §3.3): a file is checked and stored as a job, then run in batches;
//! each batch commits its rows together with the job's progress and messages.

use super::audit::{self, Entry, action};
use crate::auth::Caller;
use crate::entities::{import_job, import_message, notification};
use crate::import::FileError;
use crate::import::apply::{AccountImport, ApplyError, BatchReport, ClientImport, IbImport};
use crate::import::prepare::{Limits, PreparedFile, RowOutcome, prepare};
use crate::model::{AppError, CurrentUser, Delimiter, ImportAction};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use sha2::{Digest, Sha256};

/// Rows per transaction.
pub const BATCH_ROWS: usize = 500;

/// The statuses of a job, as stored.
pub mod status {
    pub const NEW: &str = "new";
    pub const IN_PROGRESS: &str = "in_progress";
    pub const AWAITING_CONFIRMATION: &str = "awaiting_confirmation";
    pub const SUCCESS: &str = "success";
    pub const SUCCESS_WITH_ERRORS: &str = "success_with_errors";
    pub const FAILED: &str = "failed";
}

/// An upload, before it becomes a job.
pub struct NewImport {
    pub title: String,
    pub description: Option<String>,
    pub action: ImportAction,
    pub delimiter: Delimiter,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub validate_only: bool,
}

impl From<FileError> for AppError {
    fn from(e: FileError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

/// Checks the file and stores it as a new job. A file refused here creates no job.
pub async fn create(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    upload: NewImport,
    limits: Limits,
) -> Result<import_job::Model, AppError> {
    let title = upload.title.trim();
    if title.is_empty() {
        return Err(AppError::Invalid("Give the import a title.".into()));
    }
    let prepared = prepare(&upload.bytes, upload.action, upload.delimiter, limits)?;
    let (encoding, rows) = (prepared.encoding.label(), prepared.rows);
    drop(prepared);
    let job = import_job::ActiveModel {
        title: Set(title.to_owned()),
        description: Set(upload.description.filter(|d| !d.trim().is_empty())),
        action: Set(upload.action.as_str().to_owned()),
        delimiter: Set(upload.delimiter.as_str().to_owned()),
        encoding: Set(Some(encoding.to_owned())),
        file_name: Set(upload.file_name),
        file_size: Set(upload.bytes.len() as i64),
        file_sha256: Set(hex::encode(Sha256::digest(&upload.bytes))),
        file_data: Set(upload.bytes),
        status: Set(status::NEW.into()),
        validate_only: Set(upload.validate_only),
        initiated_by: Set(user.id),
        created_at: Set(chrono::Utc::now()),
        total_rows: Set(rows as i64),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        caller,
        Entry {
            action: action::IMPORT_CREATED,
            subject: Some(format!("import #{}", job.id)),
            details: Some(job.title.clone()),
        },
    )
    .await?;
    Ok(job)
}

fn message(
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

fn info(job_id: i64, text: String) -> import_message::ActiveModel {
    message(job_id, "info", None, None, None, text)
}

/// The appliers of one job, one per action.
enum Applier {
    Clients(ClientImport),
    Accounts(AccountImport),
    Ibs(IbImport),
}

impl Applier {
    async fn apply<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        rows: Vec<RowOutcome>,
    ) -> Result<BatchReport, DbErr> {
        match self {
            Applier::Clients(a) => {
                a.apply(
                    txn,
                    rows.into_iter()
                        .filter_map(RowOutcome::into_client)
                        .collect(),
                )
                .await
            }
            Applier::Accounts(a) => {
                a.apply(
                    txn,
                    rows.into_iter()
                        .filter_map(RowOutcome::into_account)
                        .collect(),
                )
                .await
            }
            Applier::Ibs(a) => {
                a.apply(
                    txn,
                    rows.into_iter().filter_map(RowOutcome::into_ib).collect(),
                )
                .await
            }
        }
    }
}

/// What a finished run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub processed: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub errors: i64,
}

/// Runs a job from its stored file to its final status, and notifies its initiator.
pub async fn run(
    db: &DatabaseConnection,
    job_id: i64,
    limits: Limits,
) -> Result<import_job::Model, AppError> {
    let job = import_job::Entity::find_by_id(job_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no import #{job_id}.")))?;
    let mut active: import_job::ActiveModel = job.clone().into();
    active.status = Set(status::IN_PROGRESS.into());
    active.started_at = Set(Some(chrono::Utc::now()));
    active.attempts = Set(job.attempts + 1);
    active.update(db).await?;

    let action: ImportAction = job.action.parse().map_err(|e: String| {
        tracing::error!(job_id, error = %e, "stored action is not an action");
        AppError::Internal
    })?;
    let delimiter: Delimiter = job.delimiter.parse().unwrap_or_default();
    // Whatever stops the run, the batches committed so far keep their counts.
    let mut totals = Totals::default();
    let outcome = match prepare(&job.file_data, action, delimiter, limits) {
        Ok(file) => apply_file(db, &job, &file, &mut totals).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(reason) = outcome {
        info(job.id, format!("The import stopped: {reason}"))
            .insert(db)
            .await?;
    }
    finish(db, &job, &totals).await
}

async fn apply_file(
    db: &DatabaseConnection,
    job: &import_job::Model,
    file: &PreparedFile<'_>,
    totals: &mut Totals,
) -> Result<(), String> {
    let mut intro = vec![info(
        job.id,
        format!(
            "Read as {} with {} separators: {} data rows.",
            file.encoding.label(),
            match file.delimiter {
                b';' => "semicolon",
                b'\t' => "tab",
                _ => "comma",
            },
            file.rows
        ),
    )];
    if !file.header.unknown.is_empty() {
        intro.push(info(
            job.id,
            format!(
                "Ignored columns this import does not know: {}.",
                file.header.unknown.join(", ")
            ),
        ));
    }
    let earlier = import_job::Entity::find()
        .filter(import_job::Column::FileSha256.eq(job.file_sha256.clone()))
        .filter(import_job::Column::Id.ne(job.id))
        .filter(import_job::Column::Status.is_in([status::SUCCESS, status::SUCCESS_WITH_ERRORS]))
        .order_by_desc(import_job::Column::Id)
        .one(db)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(earlier) = earlier {
        intro.push(info(
            job.id,
            format!(
                "An identical file (same SHA-256) was imported before, as import #{} on {}; importing it again changes only what differs.",
                earlier.id,
                earlier.created_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ));
    }
    import_message::Entity::insert_many(intro)
        .exec_without_returning(db)
        .await
        .map_err(|e| e.to_string())?;

    let mut applier = match file.action {
        ImportAction::Users => Applier::Clients(
            ClientImport::new(db, job.id)
                .await
                .map_err(|e| e.to_string())?,
        ),
        ImportAction::Accounts => Applier::Accounts(AccountImport::new(job.id)),
        ImportAction::Ibs => Applier::Ibs(IbImport::new(job.id)),
    };
    let today = chrono::Utc::now().date_naive();
    let mut rows = file.rows(today).peekable();
    while rows.peek().is_some() {
        let batch: Vec<RowOutcome> = rows.by_ref().take(BATCH_ROWS).collect();
        run_batch(db, job, &mut applier, batch, totals)
            .await
            .map_err(|e| {
                tracing::error!(job_id = job.id, error = %e, "an import batch failed");
                "a database error stopped the import; the rows before it are saved".to_owned()
            })?;
    }
    Ok(())
}

/// One transaction: the batch's rows, its messages and the job's progress. A validate-only
/// run applies the rows in a savepoint and rolls them back, so it predicts exactly.
async fn run_batch(
    db: &DatabaseConnection,
    job: &import_job::Model,
    applier: &mut Applier,
    batch: Vec<RowOutcome>,
    totals: &mut Totals,
) -> Result<(), DbErr> {
    let size = batch.len() as i64;
    let mut messages = Vec::new();
    let mut valid = Vec::with_capacity(batch.len());
    for outcome in batch {
        match outcome {
            RowOutcome::Invalid { line, errors } => {
                totals.errors += 1;
                messages.extend(
                    errors.into_iter().map(|e| {
                        message(job.id, "error", Some(line), e.column, e.value, e.message)
                    }),
                );
            }
            row => valid.push(row),
        }
    }
    let txn = db.begin().await?;
    let report = if job.validate_only {
        let trial = txn.begin().await?;
        let report = applier.apply(&trial, valid).await?;
        trial.rollback().await?;
        report
    } else {
        applier.apply(&txn, valid).await?
    };
    totals.processed += size;
    totals.created += report.created as i64;
    totals.updated += report.updated as i64;
    totals.unchanged += report.unchanged as i64;
    totals.errors += report.errors.len() as i64;
    messages.extend(report.errors.into_iter().map(
        |ApplyError {
             line,
             column,
             value,
             message: text,
         }| {
            message(
                job.id,
                "error",
                Some(line),
                column.map(str::to_owned),
                value,
                text,
            )
        },
    ));
    if !messages.is_empty() {
        import_message::Entity::insert_many(messages)
            .exec_without_returning(&txn)
            .await?;
    }
    progress(job.id, totals).update(&txn).await?;
    txn.commit().await
}

fn progress(job_id: i64, totals: &Totals) -> import_job::ActiveModel {
    import_job::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(job_id),
        processed_rows: Set(totals.processed),
        created_rows: Set(totals.created),
        updated_rows: Set(totals.updated),
        unchanged_rows: Set(totals.unchanged),
        error_rows: Set(totals.errors),
        heartbeat_at: Set(Some(chrono::Utc::now())),
        ..Default::default()
    }
}

/// The final status (SPEC §3.3), the summary message and the initiator's notification.
async fn finish(
    db: &DatabaseConnection,
    job: &import_job::Model,
    totals: &Totals,
) -> Result<import_job::Model, AppError> {
    let applied = totals.created + totals.updated + totals.unchanged;
    let (final_status, note) = if job.validate_only && applied > 0 {
        (
            status::AWAITING_CONFIRMATION,
            format!(
                "Validation finished: {} would be created, {} updated, {} unchanged; {} errors. Confirm to import.",
                totals.created, totals.updated, totals.unchanged, totals.errors
            ),
        )
    } else if applied == 0 {
        (status::FAILED, "Import failed".to_owned())
    } else if totals.errors > 0 {
        (
            status::SUCCESS_WITH_ERRORS,
            format!("Import finished with {} errors", totals.errors),
        )
    } else {
        let noun = match job.action.as_str() {
            "import-accounts" => "accounts",
            "import-ibs" => "IB rows",
            _ => "clients",
        };
        (
            status::SUCCESS,
            format!(
                "{} {noun} were imported",
                totals.created + totals.updated + totals.unchanged
            ),
        )
    };
    let txn = db.begin().await?;
    let mut done = progress(job.id, totals);
    done.status = Set(final_status.into());
    done.finished_at = Set(Some(chrono::Utc::now()));
    let job = done.update(&txn).await?;
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
        text: Set(note),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(job)
}

/// The first `limit` error messages of a job, in file order.
pub async fn error_messages(
    db: &DatabaseConnection,
    job_id: i64,
    limit: u64,
) -> Result<Vec<import_message::Model>, AppError> {
    use sea_orm::QuerySelect;
    Ok(import_message::Entity::find()
        .filter(import_message::Column::JobId.eq(job_id))
        .filter(import_message::Column::Level.eq("error"))
        .order_by_asc(import_message::Column::Line)
        .order_by_asc(import_message::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
