use sea_orm::entity::prelude::*;

/// The column mapping last chosen for files of an action with a given set of columns
/// (`header_key`, see `import::mapping::header_key`), proposed for the next such file.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_mapping")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub action: String,
    pub header_key: String,
    /// `[column, target]` pairs, as `import::mapping::Mapping::to_json` writes them.
    pub mapping: String,
    pub saved_by: Option<i64>,
    pub saved_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
