//! An import's file moves out of `import_job` into `import_file_chunk`, in pieces of at
//! most 1 MiB. Every progress update rewrites the job's row, and on SQLite a row is
//! rewritten whole: with the file inside it, each batch copied the whole file again.
//! Pieces also let the file be read back a piece at a time.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000003_import_file_chunks"
    }
}

#[derive(DeriveIden)]
enum ImportJob {
    Table,
    Id,
    FileData,
}

#[derive(DeriveIden)]
enum ImportFileChunk {
    Table,
    JobId,
    Seq,
    Data,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ImportFileChunk::Table)
                    .col(
                        ColumnDef::new(ImportFileChunk::JobId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ImportFileChunk::Seq).integer().not_null())
                    .col(ColumnDef::new(ImportFileChunk::Data).blob().not_null())
                    .primary_key(
                        Index::create()
                            .col(ImportFileChunk::JobId)
                            .col(ImportFileChunk::Seq),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ImportFileChunk::Table, ImportFileChunk::JobId)
                            .to(ImportJob::Table, ImportJob::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Files stored so far become one piece each.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO import_file_chunk (job_id, seq, data) \
                 SELECT id, 0, file_data FROM import_job",
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .drop_column(ImportJob::FileData)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .add_column(
                        ColumnDef::new(ImportJob::FileData)
                            .blob()
                            .not_null()
                            .default(Vec::<u8>::new()),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ImportFileChunk::Table).to_owned())
            .await
    }
}
