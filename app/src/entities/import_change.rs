use crate::jobs::changes::ChangeOp;
use sea_orm::entity::prelude::*;

/// One row an import created or updated, with what it overwrote, so the import can be reverted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_change")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub job_id: i64,
    pub entity: String,
    pub entity_id: i64,
    /// `created` or `updated`.
    pub operation: ChangeOp,
    /// JSON object of the fields the import changed, with their values before it.
    pub previous_values: Option<String>,
    /// JSON object of the same fields with the values the import wrote; for
    /// `created_ids`, the runs `[[first, last], …]` of the rows created.
    pub new_values: Option<String>,
    /// `created_ids`: the last id of the runs (the first is `entity_id`).
    pub last_entity_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
