//! Indexes for searching and sorting clients with a million rows (SPEC §4, §9): the start
//! of an email, first or last name (ignoring case) or phone, and the sort by name.
//!
//! Searches compare in byte order (`lower(x) >= 'ann' AND lower(x) < 'ano'`), which is
//! exactly "starts with" and can walk an index. SQLite compares bytes already; on
//! PostgreSQL the expressions, and so the indexes, use the `C` collation for the same
//! reason.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000004_client_search_indexes"
    }
}

/// (name, SQLite expression, PostgreSQL expression). SQLite's unique index on
/// `lower(email)` already serves the email search there.
const INDEXES: [(&str, Option<&str>, &str); 4] = [
    ("ix_client_email_prefix", None, "lower(email) COLLATE \"C\""),
    (
        "ix_client_first_name_prefix",
        Some("lower(first_name)"),
        "lower(first_name) COLLATE \"C\"",
    ),
    (
        "ix_client_last_name_prefix",
        Some("lower(last_name)"),
        "lower(last_name) COLLATE \"C\"",
    ),
    (
        "ix_client_phone_prefix",
        Some("phone"),
        "phone COLLATE \"C\"",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        for (name, sqlite, pg) in INDEXES {
            let expr = if postgres { Some(pg) } else { sqlite };
            if let Some(expr) = expr {
                db.execute_unprepared(&format!("CREATE INDEX {name} ON client ({expr}, id)"))
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
