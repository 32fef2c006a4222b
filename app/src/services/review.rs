//! The review step of the import wizard (SPEC §3.5): while a validate-only job awaits
//! confirmation, the operator corrects a failing cell or drops a line. A correction is
//! checked at once with the same rules as the import; kept ones are stored with the job
//! (the file stays as uploaded), logged, and the job is validated again through them, so
//! its counts and errors are those of the corrected file.

use crate::auth::Caller;
use crate::entities::import_job;
use crate::import::corrections::{Correction, Corrections};
use crate::import::decode::TextEncoding;
use crate::import::mapping::{Mapping, label};
use crate::import::prepare::{FileRows, RowOutcome, SNIFF_BYTES, choose_delimiter};
use crate::model::{AppError, CurrentUser, Delimiter, ImportAction, JobStatus};
use crate::services::audit::action;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, QueryFilter, TransactionTrait};

/// A job under review, with its file and how it is read.
struct UnderReview {
    job: import_job::Model,
    action: ImportAction,
    mapping: Option<Mapping>,
    corrections: Corrections,
    bytes: Vec<u8>,
}

/// Job `job_id`, which `user` may change and which awaits confirmation of its review.
async fn under_review(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
) -> Result<UnderReview, AppError> {
    let job = crate::jobs::visible(db, caller, user, job_id, true).await?;
    if job.status != JobStatus::AwaitingConfirmation || job.confirmed_at.is_some() {
        return Err(AppError::Conflict(format!(
            "Import #{job_id} is {}: only an import awaiting confirmation can be corrected.",
            job.status.label()
        )));
    }
    let action: ImportAction = job.action.parse().map_err(AppError::Invalid)?;
    let unreadable = |e: String| {
        tracing::error!(job_id, error = %e, "a job under review cannot be read");
        AppError::Internal
    };
    let mapping = job
        .mapping
        .as_deref()
        .map(|m| Mapping::from_json(action, m))
        .transpose()
        .map_err(unreadable)?;
    let corrections = job
        .corrections
        .as_deref()
        .map(Corrections::from_json)
        .transpose()
        .map_err(unreadable)?
        .unwrap_or_default();
    let bytes = crate::jobs::file_bytes(db, job.id).await?;
    Ok(UnderReview {
        job,
        action,
        mapping,
        corrections,
        bytes,
    })
}

/// A line of the file read through `corrections`: its outcome and its fields (none for a
/// line that could not be read as a row), with the file's header names.
struct Found {
    outcome: RowOutcome,
    fields: Option<Vec<String>>,
    names: Vec<String>,
    /// The field each file column fills, by index, as its label.
    labels: Vec<Option<&'static str>>,
}

fn find_line(r: &UnderReview, corrections: &Corrections, line: u64) -> Result<Found, AppError> {
    let encoding = r
        .job
        .encoding
        .as_deref()
        .and_then(TextEncoding::from_label)
        .ok_or(AppError::Internal)?;
    let asked: Delimiter = r.job.delimiter.parse().unwrap_or_default();
    let delimiter = choose_delimiter(&r.bytes[..r.bytes.len().min(SNIFF_BYTES)], encoding, asked);
    let mut file = FileRows::open(
        &r.bytes[..],
        encoding,
        delimiter,
        r.action,
        r.mapping.as_ref(),
        r.job.created_at.date_naive(),
    )
    .and_then(|f| f.with_corrections(corrections))
    .map_err(AppError::from)?;
    let labels = (0..file.names.len())
        .map(|i| {
            crate::import::header::columns(r.action)
                .iter()
                .find(|c| file.header.position(c.key) == Some(i))
                .map(|c| label(r.action, c.key))
        })
        .collect();
    loop {
        let outcome = file
            .next_row()
            .map_err(|e| AppError::Invalid(format!("The file cannot be read: {e}")))?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "Line {line} is not a data row of the file (or it was dropped)."
                ))
            })?;
        if outcome.line() == line {
            let fields = (file.raw().line == line).then(|| file.raw().fields.clone());
            return Ok(Found {
                outcome,
                fields,
                names: file.names.clone(),
                labels,
            });
        }
    }
}

/// Stores `corrections` (with `correction` added) and queues the job to be validated
/// again through them; `log` is written to its log.
async fn keep(
    db: &DatabaseConnection,
    caller: &Caller,
    r: UnderReview,
    correction: Correction,
    log: String,
) -> Result<(), AppError> {
    let dropped = correction.column.is_none();
    let mut corrections = r.corrections;
    corrections.0.push(correction);
    let txn = db.begin().await?;
    let mut update = crate::jobs::lifecycle::run_again().col_expr(
        import_job::Column::Corrections,
        Expr::value(Some(corrections.to_json())),
    );
    if dropped {
        update = update.col_expr(
            import_job::Column::TotalRows,
            Expr::col(import_job::Column::TotalRows).sub(1),
        );
    }
    let done = update
        .filter(import_job::Column::Id.eq(r.job.id))
        .filter(import_job::Column::Status.eq(JobStatus::AwaitingConfirmation))
        .filter(match &r.job.corrections {
            Some(kept) => import_job::Column::Corrections.eq(kept.clone()),
            None => import_job::Column::Corrections.is_null(),
        })
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "Import #{} changed meanwhile; reload its page.",
            r.job.id
        )));
    }
    // The review's row errors are found again by the new validation; its log stays.
    crate::jobs::lifecycle::forget_row_errors(&txn, r.job.id).await?;
    sea_orm::ActiveModelTrait::insert(crate::jobs::info(r.job.id, log), &txn).await?;
    crate::jobs::audit_job(&txn, caller, action::IMPORT_CORRECTED, &r.job).await?;
    txn.commit().await?;
    Ok(())
}

/// Sets `column` (a column of the file, as its header names it) of `line` to `value`.
/// Refused, saying why, when the new value still breaks the rules of its field.
pub async fn correct(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
    line: u64,
    column: &str,
    value: &str,
) -> Result<(), AppError> {
    if value.chars().count() > 1_000 || value.contains('\0') {
        return Err(AppError::Invalid(
            "A value may hold at most 1,000 characters and no NUL.".into(),
        ));
    }
    let r = under_review(db, caller, user, job_id).await?;
    let now = chrono::Utc::now().to_rfc3339();
    let mut correction = Correction {
        line,
        column: Some(column.trim().to_owned()),
        old: None,
        new: Some(value.to_owned()),
        by: user.email.clone(),
        at: now,
    };
    let mut tried = r.corrections.clone();
    tried.0.push(correction.clone());
    let wanted = column.trim().to_owned();
    // Reading the file is CPU work: off the async workers.
    let (r, checked) = tokio::task::spawn_blocking(move || {
        let checked = (|| {
            let before = find_line(&r, &r.corrections, line)?;
            // The file's column of that name, or the one that fills the field of that name.
            let index = before
                .names
                .iter()
                .position(|n| n.trim() == wanted)
                .or_else(|| {
                    before
                        .labels
                        .iter()
                        .position(|l| *l == Some(wanted.as_str()))
                })
                .ok_or_else(|| AppError::Invalid(format!("The file has no column `{wanted}`.")))?;
            let Some(fields) = &before.fields else {
                return Err(AppError::Invalid(format!(
                    "Line {line} cannot be read as a row of the file; drop it instead."
                )));
            };
            let old = fields.get(index).cloned().unwrap_or_default();
            let after = find_line(&r, &tried, line)?;
            Ok(((old, before.labels[index]), after))
        })();
        (r, checked)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "checking a correction failed");
        AppError::Internal
    })?;
    let (before, after) = checked?;
    let (old, field) = before;
    if let (RowOutcome::Invalid { errors, .. }, Some(field)) = (&after.outcome, field)
        && let Some(e) = errors.iter().find(|e| e.column.as_deref() == Some(field))
    {
        return Err(AppError::Invalid(format!(
            "Line {line}, {field}: {}.",
            e.message
        )));
    }
    correction.old = Some(old.clone());
    let log = format!(
        "Line {line}, {}: `{old}` → `{value}` (corrected by {}).",
        column.trim(),
        user.email
    );
    keep(db, caller, r, correction, log).await
}

/// Drops `line`: it is left out of the import.
pub async fn drop_line(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
    line: u64,
) -> Result<(), AppError> {
    let r = under_review(db, caller, user, job_id).await?;
    let (r, found) = tokio::task::spawn_blocking(move || {
        let found = find_line(&r, &r.corrections, line).map(|_| ());
        (r, found)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "checking a dropped line failed");
        AppError::Internal
    })?;
    found?;
    let correction = Correction {
        line,
        column: None,
        old: None,
        new: None,
        by: user.email.clone(),
        at: chrono::Utc::now().to_rfc3339(),
    };
    let log = format!("Line {line} dropped (by {}).", user.email);
    keep(db, caller, r, correction, log).await
}
