//! Taking an upload in: the file is checked (SPEC §3.2) and stored, in pieces, with its
//! new job, in one transaction; a refused file creates no job.

use crate::auth::Caller;
use crate::entities::{import_file_chunk, import_job};
use crate::import::FileError;
use crate::import::mapping::{Mapping, mapping_of, propose};
use crate::import::prepare::{FileFacts, Limits, LooseFacts, check, check_loose};
use crate::model::JobStatus;
use crate::model::{AppError, CurrentUser, Delimiter, ImportAction};
use crate::services::audit::action;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, TransactionTrait,
};
use sha2::{Digest, Sha256};
use std::io::Read;

/// An upload, before it becomes a job.
pub struct NewImport {
    pub title: String,
    pub description: Option<String>,
    pub action: ImportAction,
    pub delimiter: Delimiter,
    pub file_name: String,
    pub file: UploadFile,
    pub validate_only: bool,
    /// How the file's columns are used; none: by the header rules of SPEC §3.1.
    pub mapping: Option<Mapping>,
    /// The operator maps the columns first (the wizard, SPEC §3.5): the job waits for its
    /// mapping, with a proposal, and then runs as a review (validate-only).
    pub review_mapping: bool,
    /// Sent from a page's form: when most of the file's columns match no field by their
    /// names, the job goes to the mapping step instead of running, so that the operator sees
    /// it before anything is done. (The API and the command line import the columns that
    /// match, as they always have, and the job's log lists the others.)
    pub map_if_unmatched: bool,
    /// The key the upload form was sent with (see [`submission_key`]): a second upload
    /// with the same key by the same user is the same upload, answered with the first job.
    pub submission: Option<String>,
}

/// A submission key as a form sends it: up to 64 letters, digits, `-` or `_`.
pub fn submission_key(key: &str) -> Result<Option<String>, AppError> {
    let key = key.trim();
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > 64
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AppError::Invalid(
            "The form's `submission` key must be at most 64 letters, digits, `-` or `_`.".into(),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// The job `user` already created with the submission key `key`.
async fn submitted_before(
    db: &DatabaseConnection,
    user: &CurrentUser,
    key: Option<&str>,
) -> Result<Option<import_job::Model>, AppError> {
    let Some(key) = key else {
        return Ok(None);
    };
    Ok(import_job::Entity::find()
        .filter(import_job::Column::InitiatedBy.eq(user.id))
        .filter(import_job::Column::Submission.eq(key))
        .one(db)
        .await?)
}

/// Where an upload's bytes are: in memory (a web upload, under the size limit) or in a
/// file on this machine (the command line), which is read a piece at a time.
pub enum UploadFile {
    Bytes(Vec<u8>),
    Path(std::path::PathBuf),
}

impl From<Vec<u8>> for UploadFile {
    fn from(bytes: Vec<u8>) -> Self {
        UploadFile::Bytes(bytes)
    }
}

impl UploadFile {
    /// The file's bytes from the start, as a stream.
    fn open(&self) -> std::io::Result<Box<dyn Read + Send + '_>> {
        Ok(match self {
            UploadFile::Bytes(bytes) => Box::new(&bytes[..]),
            UploadFile::Path(path) => Box::new(std::io::BufReader::with_capacity(
                FILE_CHUNK_BYTES,
                std::fs::File::open(path)?,
            )),
        })
    }

    fn size(&self) -> std::io::Result<u64> {
        match self {
            UploadFile::Bytes(bytes) => Ok(bytes.len() as u64),
            UploadFile::Path(path) => Ok(std::fs::metadata(path)?.len()),
        }
    }
}

fn unreadable(e: std::io::Error) -> AppError {
    AppError::Invalid(format!("The file cannot be read: {e}"))
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

/// The longest title, description and file name an import keeps, in characters.
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 2_000;
pub const MAX_FILE_NAME: usize = 255;

/// Refuses a title, description or file name that is too long or holds control characters
/// (a line break in a file name would reach logs and headers).
fn check_texts(upload: &NewImport) -> Result<(), AppError> {
    let too_long = |what: &str, text: &str, max: usize| {
        let n = text.chars().count();
        (n > max).then(|| {
            AppError::Invalid(format!(
                "The {what} is {n} characters long; the limit is {max}."
            ))
        })
    };
    if let Some(e) = too_long("title", &upload.title, MAX_TITLE)
        .or_else(|| {
            too_long(
                "description",
                upload.description.as_deref().unwrap_or(""),
                MAX_DESCRIPTION,
            )
        })
        .or_else(|| too_long("file name", &upload.file_name, MAX_FILE_NAME))
    {
        return Err(e);
    }
    if upload.title.chars().any(char::is_control) {
        return Err(AppError::Invalid(
            "The title cannot hold line breaks or other control characters.".into(),
        ));
    }
    if upload.file_name.chars().any(char::is_control) {
        return Err(AppError::Invalid(
            "The file name cannot hold line breaks or other control characters; rename the file."
                .into(),
        ));
    }
    Ok(())
}

/// What checking an upload found: with its columns matched, or (for the mapping step)
/// without.
enum Checked {
    Strict(FileFacts),
    Loose(LooseFacts),
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
    let title = upload.title.trim().to_owned();
    if title.is_empty() {
        return Err(AppError::Invalid("Give the import a title.".into()));
    }
    check_texts(&upload)?;
    // The same form sent twice is one upload: the second finds the first's job.
    if let Some(job) = submitted_before(db, user, upload.submission.as_deref()).await? {
        return Ok(job);
    }
    // Checking reads the whole file (twice): on a blocking thread, so that a large file
    // does not hold up the server's other requests.
    let started = std::time::Instant::now();
    let size = upload.file.size().map_err(unreadable)?;
    let (action, delimiter) = (upload.action, upload.delimiter);
    let (facts, upload) = tokio::task::spawn_blocking(move || {
        let mut upload = upload;
        let loose = || {
            check_loose(
                || upload.file.open(),
                size,
                delimiter,
                limits,
                crate::services::mapping::SAMPLE_ROWS,
            )
            .map(Checked::Loose)
        };
        let facts = if upload.review_mapping {
            loose()
        } else {
            match check(
                || upload.file.open(),
                size,
                action,
                delimiter,
                upload.mapping.as_ref(),
                limits,
            ) {
                Ok(facts)
                    if upload.map_if_unmatched
                        && upload.mapping.is_none()
                        && facts.header.mostly_unknown() =>
                {
                    let facts = loose();
                    upload.review_mapping = true;
                    facts
                }
                facts => facts.map(Checked::Strict),
            }
        };
        (facts, upload)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "checking an upload failed");
        AppError::Internal
    })?;
    let facts = facts?;
    let checked = started.elapsed();
    let (encoding, rows) = match &facts {
        Checked::Strict(f) => (f.encoding.label(), f.rows),
        Checked::Loose(f) => (f.encoding.label(), f.rows),
    };
    // The wizard's first proposal: the mapping saved for these columns, or one made from
    // their names and values.
    let mapping = match &facts {
        Checked::Loose(f) => {
            let saved = crate::services::mapping::saved_for(db, action, &f.header).await?;
            let names: Vec<&str> = f.header.iter().map(String::as_str).collect();
            Some(mapping_of(&propose(action, &names, &f.samples, saved.as_ref())).to_json(action))
        }
        Checked::Strict(_) => upload.mapping.as_ref().map(|m| m.to_json(action)),
    };
    let now = chrono::Utc::now();
    let job = import_job::ActiveModel {
        title: Set(title),
        description: Set(upload.description.filter(|d| !d.trim().is_empty())),
        action: Set(upload.action.as_str().to_owned()),
        delimiter: Set(upload.delimiter.as_str().to_owned()),
        encoding: Set(Some(encoding.to_owned())),
        file_name: Set(upload.file_name),
        file_size: Set(size as i64),
        // Known once the file is stored, in the same transaction.
        file_sha256: Set(String::new()),
        status: Set(match run_here {
            Some(_) => JobStatus::InProgress,
            None if upload.review_mapping => JobStatus::AwaitingMapping,
            None => JobStatus::New,
        }),
        worker_id: Set(run_here.map(str::to_owned)),
        heartbeat_at: Set(run_here.map(|_| now)),
        started_at: Set(run_here.map(|_| now)),
        attempts: Set(i32::from(run_here.is_some())),
        validate_only: Set(upload.validate_only || upload.review_mapping),
        bulk: Set(false),
        mapping: Set(mapping),
        submission: Set(upload.submission.clone()),
        initiated_by: Set(user.id),
        created_at: Set(now),
        total_rows: Set(rows as i64),
        ..Default::default()
    };
    // The job and its file are stored together, or not at all.
    let txn = db.begin().await?;
    let job = match job.insert(&txn).await {
        Ok(job) => job,
        // Sent twice at once: the other request stored the job meanwhile.
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            drop(txn);
            return submitted_before(db, user, upload.submission.as_deref())
                .await?
                .ok_or_else(|| AppError::from(e));
        }
        Err(e) => return Err(e.into()),
    };
    let mut source = upload.file.open().map_err(unreadable)?;
    let mut sha = Sha256::new();
    for seq in 0.. {
        let mut piece = Vec::with_capacity(FILE_CHUNK_BYTES);
        (&mut source)
            .take(FILE_CHUNK_BYTES as u64)
            .read_to_end(&mut piece)
            .map_err(unreadable)?;
        if piece.is_empty() {
            break;
        }
        sha.update(&piece);
        import_file_chunk::ActiveModel {
            job_id: Set(job.id),
            seq: Set(seq),
            data: Set(piece),
        }
        .insert(&txn)
        .await?;
    }
    let file_sha256 = hex::encode(sha.finalize());
    import_job::Entity::update_many()
        .col_expr(
            import_job::Column::FileSha256,
            sea_orm::sea_query::Expr::value(file_sha256.clone()),
        )
        .filter(import_job::Column::Id.eq(job.id))
        .exec(&txn)
        .await?;
    let job = import_job::Model { file_sha256, ..job };
    tracing::info!(
        job_id = job.id,
        size,
        check_ms = checked.as_millis() as u64,
        store_ms = (started.elapsed() - checked).as_millis() as u64,
        "import file checked and stored"
    );
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
