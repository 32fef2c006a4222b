//! The projects and desks a back-office user is limited to (SPEC §2, §8). A user with no
//! row here sees everything; a row with no desk stands for the whole project, desks added
//! to it later included.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000011_user_scope"
    }
}

#[derive(DeriveIden)]
enum UserScope {
    Table,
    Id,
    UserId,
    ProjectId,
    DeskId,
}

#[derive(DeriveIden)]
enum BackOfficeUser {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Project {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Desk {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserScope::Table)
                    .col(
                        ColumnDef::new(UserScope::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(UserScope::UserId).big_integer().not_null())
                    .col(
                        ColumnDef::new(UserScope::ProjectId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UserScope::DeskId).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserScope::Table, UserScope::UserId)
                            .to(BackOfficeUser::Table, BackOfficeUser::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserScope::Table, UserScope::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserScope::Table, UserScope::DeskId)
                            .to(Desk::Table, Desk::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Read on every request of a signed-in user.
        manager
            .create_index(
                Index::create()
                    .name("ix_user_scope_user")
                    .table(UserScope::Table)
                    .col(UserScope::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserScope::Table).to_owned())
            .await
    }
}
