//! On SQLite, the server's `lower()` now folds the case of every alphabet, as PostgreSQL's
//! does (`server/src/sqlite_fold.rs`). The indexes on `lower(...)` that an older server
//! computed with SQLite's own, ASCII-only `lower()` are rebuilt with it: without this, a
//! name such as `Шестаков` would sit in the index under `Шестаков` and a search for
//! `шестаков` would walk past it. Should two clients (or users) now fold to the same email,
//! the rebuild of the unique index stops the migration and SQLite names the index; the
//! database is left as it was. PostgreSQL has nothing to rebuild.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000012_unicode_lower"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT name FROM sqlite_master \
                 WHERE type = 'index' AND lower(sql) LIKE '%lower(%' ORDER BY name",
            ))
            .await?;
        for row in rows {
            let name: String = row.try_get("", "name")?;
            db.execute_unprepared(&format!("REINDEX \"{}\"", name.replace('"', "\"\"")))
                .await?;
        }
        Ok(())
    }

    /// Nothing to undo: the indexes stay as they are, computed by the `lower()` of the
    /// server that runs.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
