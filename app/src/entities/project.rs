use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::desk::Entity")]
    Desk,
}

impl Related<super::desk::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Desk.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
