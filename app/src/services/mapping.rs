//! The mapping step of the import wizard (SPEC §3.5): what each column of a stored file is
//! proposed to fill, with sample values, and the mappings remembered per action and set of
//! columns.

use crate::auth::Caller;
use crate::entities::{import_job, saved_mapping};
use crate::import::mapping::{Mapping, Proposal, Target, header_key, propose};
use crate::import::prepare::{Limits, check, check_loose};
use crate::model::{
    AppError, ColumnProposal, CurrentUser, Delimiter, ImportAction, JobStatus, MappingProposal,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};

/// Rows of a file read for the samples of its columns.
pub const SAMPLE_ROWS: usize = 20;
/// Samples shown per column.
pub const SHOWN_SAMPLES: usize = 3;

/// The header line and the first [`SAMPLE_ROWS`] rows of a stored file.
fn header_and_samples(
    bytes: &[u8],
    delimiter: Delimiter,
) -> Result<(Vec<String>, Vec<Vec<String>>), AppError> {
    let facts = check_loose(
        || Ok(bytes),
        bytes.len() as u64,
        delimiter,
        Limits::NONE,
        SAMPLE_ROWS,
    )?;
    Ok((facts.header, facts.samples))
}

/// The proposal for a file of `action` with `header` and `samples`, using the mapping
/// saved for its columns when there is one.
pub fn proposal(
    action: ImportAction,
    header: &[String],
    samples: &[Vec<String>],
    saved: Option<&Mapping>,
) -> MappingProposal {
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    let proposals: Vec<Proposal> = propose(action, &names, samples, saved);
    let columns = proposals
        .into_iter()
        .enumerate()
        .map(|(i, p)| ColumnProposal {
            samples: samples
                .iter()
                .filter_map(|r| r.get(i))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .take(SHOWN_SAMPLES)
                .map(str::to_owned)
                .collect(),
            target: p.target.render(action),
            reason: p.reason.describe(),
            column: p.column,
        })
        .collect();
    MappingProposal {
        columns,
        saved: saved.is_some(),
    }
}

/// The mapping saved for files of `action` with these columns.
pub async fn saved_for<C: ConnectionTrait>(
    db: &C,
    action: ImportAction,
    header: &[String],
) -> Result<Option<Mapping>, DbErr> {
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    let found = saved_mapping::Entity::find()
        .filter(saved_mapping::Column::Action.eq(action.as_str()))
        .filter(saved_mapping::Column::HeaderKey.eq(header_key(&names)))
        .one(db)
        .await?;
    // A saved mapping that no longer reads (a field renamed since) is not proposed.
    Ok(found.and_then(|m| Mapping::from_json(action, &m.mapping).ok()))
}

/// Remembers `mapping` for files of `action` with these columns, replacing the one saved
/// before.
pub async fn remember<C: ConnectionTrait>(
    db: &C,
    user: &CurrentUser,
    action: ImportAction,
    header: &[String],
    mapping: &Mapping,
) -> Result<(), DbErr> {
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    saved_mapping::Entity::insert(saved_mapping::ActiveModel {
        action: Set(action.as_str().to_owned()),
        header_key: Set(header_key(&names)),
        mapping: Set(mapping.to_json(action)),
        saved_by: Set(Some(user.id)),
        saved_at: Set(chrono::Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            saved_mapping::Column::Action,
            saved_mapping::Column::HeaderKey,
        ])
        .update_columns([
            saved_mapping::Column::Mapping,
            saved_mapping::Column::SavedBy,
            saved_mapping::Column::SavedAt,
        ])
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// The action of a stored job.
fn action_of(job: &import_job::Model) -> Result<ImportAction, AppError> {
    job.action
        .parse()
        .map_err(|_| AppError::Invalid(format!("Unknown action `{}`.", job.action)))
}

/// The header and samples of job `job`'s stored file, read off the async workers.
async fn stored_header(
    db: &DatabaseConnection,
    job: &import_job::Model,
) -> Result<(Vec<u8>, Vec<String>, Vec<Vec<String>>), AppError> {
    let bytes = crate::jobs::file_bytes(db, job.id).await?;
    let asked: Delimiter = job.delimiter.parse().unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        header_and_samples(&bytes, asked).map(|(header, samples)| (bytes, header, samples))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "reading a file's samples failed");
        AppError::Internal
    })?
}

/// What the mapping step of job `job` shows: the proposal for its file, from the mapping
/// saved for its columns when there is one.
pub async fn for_job(
    db: &DatabaseConnection,
    job: &import_job::Model,
) -> Result<MappingProposal, AppError> {
    let action = action_of(job)?;
    let (_, header, samples) = stored_header(db, job).await?;
    let saved = saved_for(db, action, &header).await?;
    Ok(proposal(action, &header, &samples, saved.as_ref()))
}

/// The operator's choice for job `job_id`, which waits for its mapping: one target per
/// column of the file, in order. The file is checked under it (a missing required field,
/// a field chosen twice are refused, saying which); then the mapping is kept with the job
/// and remembered for files with these columns, and the job is queued for its review run
/// (validate-only: nothing is written before the operator confirms).
pub async fn choose(
    db: &DatabaseConnection,
    caller: &Caller,
    user: &CurrentUser,
    job_id: i64,
    targets: &[String],
) -> Result<(), AppError> {
    let job = crate::jobs::visible(db, caller, user, job_id, true).await?;
    if job.status != JobStatus::AwaitingMapping {
        return Err(AppError::Conflict(format!(
            "Import #{job_id} is {}: its columns were mapped already.",
            job.status.label()
        )));
    }
    let action = action_of(&job)?;
    let (bytes, header, _) = stored_header(db, &job).await?;
    if targets.len() != header.len() {
        return Err(AppError::Invalid(format!(
            "The file has {} columns; {} were mapped. Reload the page and map every column.",
            header.len(),
            targets.len()
        )));
    }
    let mut mapping = Mapping::default();
    for (column, target) in header.iter().zip(targets) {
        let target = Target::parse(action, target)
            .map_err(|e| AppError::Invalid(format!("Column `{}`: {e}", column.trim())))?;
        mapping.columns.push((column.trim().to_owned(), target));
    }
    let asked: Delimiter = job.delimiter.parse().unwrap_or_default();
    let checked = mapping.clone();
    tokio::task::spawn_blocking(move || {
        check(
            || Ok(&bytes[..]),
            bytes.len() as u64,
            action,
            asked,
            Some(&checked),
            Limits::NONE,
        )
        .map(|_| ())
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "checking a mapping failed");
        AppError::Internal
    })??;
    let txn = db.begin().await?;
    let moved = import_job::Entity::update_many()
        .col_expr(
            import_job::Column::Mapping,
            Expr::value(mapping.to_json(action)),
        )
        .col_expr(import_job::Column::Status, Expr::value(JobStatus::New))
        .filter(import_job::Column::Id.eq(job_id))
        .filter(import_job::Column::Status.eq(JobStatus::AwaitingMapping))
        .exec(&txn)
        .await?;
    if moved.rows_affected == 0 {
        return Err(AppError::Conflict(format!(
            "Import #{job_id} was mapped meanwhile."
        )));
    }
    remember(&txn, user, action, &header, &mapping).await?;
    crate::jobs::audit_job(
        &txn,
        caller,
        crate::services::audit::action::IMPORT_MAPPED,
        &job,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
