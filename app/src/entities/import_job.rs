use crate::model::JobStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_job")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub action: String,
    pub delimiter: String,
    pub encoding: Option<String>,
    pub file_name: String,
    pub file_size: i64,
    pub file_sha256: String,
    pub status: JobStatus,
    pub validate_only: bool,
    pub initiated_by: i64,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created_rows: i64,
    pub updated_rows: i64,
    pub unchanged_rows: i64,
    pub error_rows: i64,
    pub attempts: i32,
    pub worker_id: Option<String>,
    pub heartbeat_at: Option<DateTimeUtc>,
    pub reverted_at: Option<DateTimeUtc>,
    pub reverted_by: Option<i64>,
    pub confirmed_at: Option<DateTimeUtc>,
    pub confirmed_by: Option<i64>,
    /// Runs in bulk mode: the non-unique `client` indexes are dropped while it loads.
    pub bulk: bool,
    /// The column mapping chosen for the file (`[column, target]` pairs, see
    /// `import::mapping`); none: the header rules of SPEC §3.1.
    pub mapping: Option<String>,
    /// The operator's corrections made while reviewing it (see `import::corrections`).
    pub corrections: Option<String>,
    /// The key its upload form was sent with: the same form sent again finds this job.
    pub submission: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::back_office_user::Entity",
        from = "Column::InitiatedBy",
        to = "super::back_office_user::Column::Id"
    )]
    Initiator,
}

impl ActiveModelBehavior for ActiveModel {}
