//! Reading import jobs as their users see them (SPEC §3.4, §5): lists, one job, its
//! messages, the error report and the original file. The stored file is read only for the
//! last two, never for a list.

use crate::entities::{back_office_user, import_job, import_message};
use crate::import::decode;
use crate::import::parse::Row;
use crate::import::stream::{Next, RecordReader, TextReader};
use crate::model::{AppError, CurrentUser, JobRecord, JobStatus, MessageRecord, Page, UserRef};
use crate::services::browse::ListQuery;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use std::collections::BTreeMap;

/// A job without its file.
#[derive(Clone, Debug, FromQueryResult)]
pub struct JobRow {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub action: String,
    pub status: JobStatus,
    pub validate_only: bool,
    pub bulk: bool,
    pub initiated_by: i64,
    pub initiator_email: String,
    pub file_name: String,
    pub file_size: i64,
    pub encoding: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub reverted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created_rows: i64,
    pub updated_rows: i64,
    pub unchanged_rows: i64,
    pub error_rows: i64,
    pub mapping: Option<String>,
}

impl From<JobRow> for JobRecord {
    fn from(j: JobRow) -> Self {
        let iso = |d: Option<chrono::DateTime<chrono::Utc>>| d.map(|d| d.to_rfc3339());
        JobRecord {
            id: j.id,
            title: j.title,
            description: j.description,
            action: j.action,
            status: j.status,
            validate_only: j.validate_only,
            bulk: j.bulk,
            created_at: j.created_at.to_rfc3339(),
            started_at: iso(j.started_at),
            finished_at: iso(j.finished_at),
            confirmed_at: iso(j.confirmed_at),
            reverted_at: iso(j.reverted_at),
            initiated_by: UserRef {
                id: j.initiated_by,
                email: j.initiator_email,
            },
            file_name: j.file_name,
            file_size: j.file_size,
            encoding: j.encoding,
            total_rows: j.total_rows,
            processed_rows: j.processed_rows,
            created: j.created_rows,
            updated: j.updated_rows,
            unchanged: j.unchanged_rows,
            errors: j.error_rows,
            mapping: j
                .mapping
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
        }
    }
}

fn job_rows() -> sea_orm::Select<import_job::Entity> {
    use import_job::Column as J;
    import_job::Entity::find()
        .select_only()
        .columns([
            J::Id,
            J::Title,
            J::Description,
            J::Action,
            J::Status,
            J::ValidateOnly,
            J::Bulk,
            J::InitiatedBy,
            J::FileName,
            J::FileSize,
            J::Encoding,
            J::CreatedAt,
            J::StartedAt,
            J::FinishedAt,
            J::ConfirmedAt,
            J::RevertedAt,
            J::TotalRows,
            J::ProcessedRows,
            J::CreatedRows,
            J::UpdatedRows,
            J::UnchangedRows,
            J::ErrorRows,
            J::Mapping,
        ])
        .column_as(back_office_user::Column::Email, "initiator_email")
        .join(JoinType::InnerJoin, import_job::Relation::Initiator.def())
}

/// What a list of jobs is narrowed to.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub action: Option<String>,
    pub initiated_by: Option<i64>,
}

/// The jobs `user` may see, newest first: an operator sees their own.
pub async fn list(
    db: &DatabaseConnection,
    user: &CurrentUser,
    filter: &JobFilter,
    q: &ListQuery,
) -> Result<Page<JobRecord>, AppError> {
    let mut find = job_rows();
    if let Some(own) = crate::model::policy::only_jobs_of(user) {
        find = find.filter(import_job::Column::InitiatedBy.eq(own));
    }
    if let Some(s) = &filter.status {
        find = find.filter(import_job::Column::Status.eq(*s));
    }
    if let Some(a) = &filter.action {
        find = find.filter(import_job::Column::Action.eq(a.as_str()));
    }
    if let Some(u) = filter.initiated_by {
        find = find.filter(import_job::Column::InitiatedBy.eq(u));
    }
    let total = find.clone().count(db).await?;
    let items = find
        .order_by_desc(import_job::Column::Id)
        .offset(q.offset())
        .limit(q.per_page)
        .into_model::<JobRow>()
        .all(db)
        .await?
        .into_iter()
        .map(JobRecord::from)
        .collect();
    Ok(q.page_of(items, total))
}

/// One job, as a record, for a user who may see it (the caller checked).
pub async fn record(db: &DatabaseConnection, job_id: i64) -> Result<JobRecord, AppError> {
    job_rows()
        .filter(import_job::Column::Id.eq(job_id))
        .into_model::<JobRow>()
        .one(db)
        .await?
        .map(JobRecord::from)
        .ok_or_else(|| AppError::NotFound(format!("There is no import #{job_id}.")))
}

/// A job's messages in the order they were written (errors in file order), optionally
/// of one level.
pub async fn messages(
    db: &DatabaseConnection,
    job_id: i64,
    level: Option<&str>,
    q: &ListQuery,
) -> Result<Page<MessageRecord>, AppError> {
    let mut find = import_message::Entity::find().filter(import_message::Column::JobId.eq(job_id));
    if let Some(level) = level {
        find = find.filter(import_message::Column::Level.eq(level));
    }
    let total = find.clone().count(db).await?;
    if level == Some("error") {
        find = find.order_by_asc(import_message::Column::Line);
    }
    let items = find
        .order_by_asc(import_message::Column::Id)
        .offset(q.offset())
        .limit(q.per_page)
        .all(db)
        .await?
        .into_iter()
        .map(|m| MessageRecord {
            line: m.line,
            column: m.column,
            value: m.value,
            level: m.level,
            message: m.message,
        })
        .collect();
    Ok(q.page_of(items, total))
}

pub use crate::import::value::neutralise;

/// The error report: every failed row of the file as it was, after a `line` and an
/// `error` column, UTF-8 with a byte-order mark so spreadsheet programs read it right.
pub async fn error_report(
    db: &DatabaseConnection,
    job: &import_job::Model,
) -> Result<Vec<u8>, AppError> {
    let mut reasons: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for m in import_message::Entity::find()
        .filter(import_message::Column::JobId.eq(job.id))
        .filter(import_message::Column::Level.eq("error"))
        .order_by_asc(import_message::Column::Id)
        .all(db)
        .await?
    {
        let Some(line) = m.line else { continue };
        let text = match m.column {
            Some(c) => format!("{c}: {}", m.message),
            None => m.message,
        };
        reasons.entry(line as u64).or_default().push(text);
    }
    let bytes = crate::jobs::file_bytes(db, job.id).await?;
    let asked: crate::model::Delimiter = job.delimiter.parse().unwrap_or_default();
    // A failed row is reported as the import read it: with the review's corrections.
    let corrections = job
        .corrections
        .as_deref()
        .map(crate::import::corrections::Corrections::from_json)
        .transpose()
        .map_err(|e| {
            tracing::error!(job_id = job.id, error = %e, "unreadable corrections");
            AppError::Internal
        })?
        .unwrap_or_default();
    // Reading a whole file is CPU work of up to seconds: off the async workers.
    tokio::task::spawn_blocking(move || write_error_report(&bytes, asked, &reasons, &corrections))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the error report's task failed");
            AppError::Internal
        })?
}

/// The error report of a stored file, given the reasons of each failed line.
fn write_error_report(
    bytes: &[u8],
    asked: crate::model::Delimiter,
    reasons: &BTreeMap<u64, Vec<String>>,
    corrections: &crate::import::corrections::Corrections,
) -> Result<Vec<u8>, AppError> {
    let internal = |e: csv::Error| {
        tracing::error!(error = %e, "could not write an error report");
        AppError::Internal
    };
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let encoding = decode::inspect(bytes).map_err(AppError::from)?;
    let delimiter = crate::import::prepare::choose_delimiter(
        &bytes[..bytes.len().min(crate::import::prepare::SNIFF_BYTES)],
        encoding,
        asked,
    );
    let mut reader = RecordReader::new(TextReader::new(bytes, encoding), delimiter);
    let header = reader.header().unwrap_or_default();
    let fixes = corrections.resolve(&header).unwrap_or_default();
    let mut head = vec!["line".to_owned(), "error".to_owned()];
    head.extend(header.iter().map(|h| neutralise(h).into_owned()));
    out.write_record(&head).map_err(internal)?;
    let mut row = Row::default();
    loop {
        let (line, fields) = match reader.read_into(&mut row) {
            Ok(Next::End) | Err(_) => break,
            Ok(Next::Row) => (row.line, &row.fields[..]),
            Ok(Next::Invalid(e)) => (e.line, &[][..]),
        };
        let Some(why) = reasons.get(&line) else {
            continue;
        };
        let mut fields = fields.to_vec();
        if let Some(fix) = fixes.get(line) {
            for (index, value) in &fix.cells {
                if let Some(field) = fields.get_mut(*index) {
                    field.clone_from(value);
                }
            }
        }
        let mut record = vec![line.to_string(), neutralise(&why.join("; ")).into_owned()];
        record.extend(fields.iter().map(|f| neutralise(f).into_owned()));
        out.write_record(&record).map_err(internal)?;
    }
    out.into_inner().map_err(|e| {
        tracing::error!(error = %e, "could not finish an error report");
        AppError::Internal
    })
}

/// Jobs that may have changed lately: those still queued or running, and those that
/// finished, were confirmed or were reverted at or after `since`.
pub async fn recently_active(
    db: &DatabaseConnection,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<JobRecord>, AppError> {
    use sea_orm::Condition;
    Ok(job_rows()
        .filter(
            Condition::any()
                .add(import_job::Column::Status.is_in([JobStatus::New, JobStatus::InProgress]))
                .add(import_job::Column::CreatedAt.gte(since))
                .add(import_job::Column::FinishedAt.gte(since))
                .add(import_job::Column::ConfirmedAt.gte(since))
                .add(import_job::Column::RevertedAt.gte(since)),
        )
        .order_by_asc(import_job::Column::Id)
        .into_model::<JobRow>()
        .all(db)
        .await?
        .into_iter()
        .map(JobRecord::from)
        .collect())
}

/// The users who started an import, for the list's user filter.
pub async fn initiators(db: &DatabaseConnection) -> Result<Vec<UserRef>, AppError> {
    let ids: Vec<i64> = import_job::Entity::find()
        .select_only()
        .column(import_job::Column::InitiatedBy)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    Ok(back_office_user::Entity::find()
        .filter(back_office_user::Column::Id.is_in(ids))
        .order_by_asc(back_office_user::Column::Email)
        .all(db)
        .await?
        .into_iter()
        .map(|u| UserRef {
            id: u.id,
            email: u.email,
        })
        .collect())
}
