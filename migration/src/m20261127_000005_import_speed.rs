//! The schema for fast imports (SPEC §9):
//! - PostgreSQL: one unique index on `lower(email) COLLATE "C"` serves both the
//!   case-insensitive uniqueness of emails and searches by prefix (which compare in byte
//!   order); the separate prefix index of migration 000004 goes. SQLite compares bytes
//!   already, so its one index did both from the start.
//! - PostgreSQL: stored file pieces are kept uncompressed (`STORAGE EXTERNAL`): they are
//!   written once and read whole, and compressing a million-row file costs seconds.
//! - `import_change.last_entity_id`: a record of the rows one batch created holds runs of
//!   ids from `entity_id` to `last_entity_id`, so the records that hold a given row are
//!   found through the index on `(entity, entity_id)`.
//! - `import_job.bulk`: whether the job runs in bulk mode (its non-unique `client`
//!   indexes dropped while it loads and rebuilt at its end), so the pages can say so and a
//!   worker that takes the job over knows it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000005_import_speed"
    }
}

#[derive(DeriveIden)]
enum ImportJob {
    Table,
    Bulk,
}

#[derive(DeriveIden)]
enum ImportChange {
    Table,
    LastEntityId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            for sql in [
                "DROP INDEX IF EXISTS ix_client_email_prefix",
                "DROP INDEX IF EXISTS ux_client_email",
                "CREATE UNIQUE INDEX ux_client_email ON client ((lower(email) COLLATE \"C\"))",
                "ALTER TABLE import_file_chunk ALTER COLUMN data SET STORAGE EXTERNAL",
            ] {
                db.execute_unprepared(sql).await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .add_column(
                        ColumnDef::new(ImportJob::Bulk)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportChange::Table)
                    .add_column(
                        ColumnDef::new(ImportChange::LastEntityId)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImportChange::Table)
                    .drop_column(ImportChange::LastEntityId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .drop_column(ImportJob::Bulk)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            for sql in [
                "ALTER TABLE import_file_chunk ALTER COLUMN data SET STORAGE EXTENDED",
                "DROP INDEX IF EXISTS ux_client_email",
                "CREATE UNIQUE INDEX ux_client_email ON client (lower(email))",
                "CREATE INDEX ix_client_email_prefix ON client ((lower(email) COLLATE \"C\"), id)",
            ] {
                db.execute_unprepared(sql).await?;
            }
        }
        Ok(())
    }
}
