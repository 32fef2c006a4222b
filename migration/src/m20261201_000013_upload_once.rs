//! An upload form sends a key of its own with the file (`submission`): a second submission
//! of the same form (a double click, a resent request) finds the job of the first instead
//! of creating another. One key per user: the unique index makes two concurrent requests
//! with it end in one job.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000013_upload_once"
    }
}

#[derive(DeriveIden)]
enum ImportJob {
    Table,
    InitiatedBy,
    Submission,
}

const INDEX: &str = "ux_import_job_submission";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .add_column(ColumnDef::new(ImportJob::Submission).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(ImportJob::Table)
                    .col(ImportJob::InitiatedBy)
                    .col(ImportJob::Submission)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(ImportJob::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .drop_column(ImportJob::Submission)
                    .to_owned(),
            )
            .await
    }
}
