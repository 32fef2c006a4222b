//! A validate-only import keeps its flag when it is confirmed; who confirmed it and when
//! are recorded beside it, and the real run is the same job (SPEC §3.3).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000002_import_confirmation"
    }
}

#[derive(DeriveIden)]
enum ImportJob {
    Table,
    ConfirmedAt,
    ConfirmedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .add_column(
                        ColumnDef::new(ImportJob::ConfirmedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .add_column(ColumnDef::new(ImportJob::ConfirmedBy).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [ImportJob::ConfirmedBy, ImportJob::ConfirmedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ImportJob::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
