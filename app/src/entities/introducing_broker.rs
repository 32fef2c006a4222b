use sea_orm::entity::prelude::*;

/// A client who is a partner in an IB program.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "introducing_broker")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub client_id: i64,
    pub program_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::client::Entity",
        from = "Column::ClientId",
        to = "super::client::Column::Id"
    )]
    Client,
    #[sea_orm(
        belongs_to = "super::ib_program::Entity",
        from = "Column::ProgramId",
        to = "super::ib_program::Column::Id"
    )]
    Program,
}

impl ActiveModelBehavior for ActiveModel {}
