//! The corrections an operator makes while reviewing an import (SPEC §2, §3.5): cells
//! changed and lines dropped, kept with the job as JSON. The stored file stays as uploaded;
//! every run of the job reads it through these corrections.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000010_import_corrections"
    }
}

#[derive(DeriveIden)]
enum ImportJob {
    Table,
    Corrections,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .add_column(ColumnDef::new(ImportJob::Corrections).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .drop_column(ImportJob::Corrections)
                    .to_owned(),
            )
            .await
    }
}
