//! Taking an upload in: the file is checked (SPEC §3.2) and stored, in pieces, with its
//! new job, in one transaction; a refused file creates no job.

use super::status;
use crate::auth::Caller;
use crate::entities::{import_file_chunk, import_job};
use crate::import::FileError;
use crate::import::prepare::{Limits, prepare};
use crate::model::{AppError, CurrentUser, Delimiter, ImportAction};
use crate::services::audit::action;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, TransactionTrait,
};
use sha2::{Digest, Sha256};

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
        match e {
            FileError::TooLarge { .. } | FileError::TooManyRows { .. } => {
                AppError::TooLarge(e.to_string())
            }
            e => AppError::Invalid(e.to_string()),
        }
    }
}

/// Checks the file and stores it as a new job. A file refused here creates no job.
/// With `run_here`, the job is created already claimed by that worker (the command line
/// runs its import itself); otherwise it waits for the server's workers.
pub async fn create(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    upload: NewImport,
    limits: Limits,
    run_here: Option<&str>,
) -> Result<import_job::Model, AppError> {
    let title = upload.title.trim();
    if title.is_empty() {
        return Err(AppError::Invalid("Give the import a title.".into()));
    }
    let prepared = prepare(&upload.bytes, upload.action, upload.delimiter, limits)?;
    let (encoding, rows) = (prepared.encoding.label(), prepared.rows);
    drop(prepared);
    let now = chrono::Utc::now();
    let job = import_job::ActiveModel {
        title: Set(title.to_owned()),
        description: Set(upload.description.filter(|d| !d.trim().is_empty())),
        action: Set(upload.action.as_str().to_owned()),
        delimiter: Set(upload.delimiter.as_str().to_owned()),
        encoding: Set(Some(encoding.to_owned())),
        file_name: Set(upload.file_name),
        file_size: Set(upload.bytes.len() as i64),
        file_sha256: Set(hex::encode(Sha256::digest(&upload.bytes))),
        status: Set(match run_here {
            Some(_) => status::IN_PROGRESS,
            None => status::NEW,
        }
        .into()),
        worker_id: Set(run_here.map(str::to_owned)),
        heartbeat_at: Set(run_here.map(|_| now)),
        started_at: Set(run_here.map(|_| now)),
        attempts: Set(i32::from(run_here.is_some())),
        validate_only: Set(upload.validate_only),
        bulk: Set(false),
        initiated_by: Set(user.id),
        created_at: Set(now),
        total_rows: Set(rows as i64),
        ..Default::default()
    };
    // The job and its file are stored together, or not at all.
    let txn = db.begin().await?;
    let job = job.insert(&txn).await?;
    for (seq, piece) in upload.bytes.chunks(FILE_CHUNK_BYTES).enumerate() {
        import_file_chunk::ActiveModel {
            job_id: Set(job.id),
            seq: Set(seq as i32),
            data: Set(piece.to_vec()),
        }
        .insert(&txn)
        .await?;
    }
    super::audit_job(&txn, caller, action::IMPORT_CREATED, &job).await?;
    txn.commit().await?;
    Ok(job)
}

/// The largest piece of a file stored in one row.
pub const FILE_CHUNK_BYTES: usize = 1 << 20;

/// A job's file, exactly as it was uploaded, read a piece at a time (never two copies).
pub async fn file_bytes(db: &DatabaseConnection, job_id: i64) -> Result<Vec<u8>, DbErr> {
    let mut bytes = Vec::new();
    for seq in 0.. {
        let Some(piece) = import_file_chunk::Entity::find_by_id((job_id, seq))
            .one(db)
            .await?
        else {
            break;
        };
        bytes.extend_from_slice(&piece.data);
    }
    Ok(bytes)
}
