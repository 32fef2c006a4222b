//! Database schema of the back office, as SeaORM migrations that run unchanged on SQLite
//! and PostgreSQL. `Migrator::up` runs at every start; each change is a file of its own.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_tables;
mod m20261121_000002_import_confirmation;
mod m20261121_000003_import_file_chunks;
mod m20261122_000004_client_search_indexes;
mod m20261127_000005_import_speed;
mod m20261127_000006_client_placement_checks;
mod m20261128_000007_client_dependents_checks;
mod m20261128_000008_api_token_expiry;
mod m20261129_000009_mapping_and_extras;
mod m20261129_000010_import_corrections;
mod m20261130_000011_user_scope;
mod m20261201_000012_unicode_lower;
mod m20261201_000013_upload_once;

/// Every migration of the schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_tables::Migration),
            Box::new(m20261121_000002_import_confirmation::Migration),
            Box::new(m20261121_000003_import_file_chunks::Migration),
            Box::new(m20261122_000004_client_search_indexes::Migration),
            Box::new(m20261127_000005_import_speed::Migration),
            Box::new(m20261127_000006_client_placement_checks::Migration),
            Box::new(m20261128_000007_client_dependents_checks::Migration),
            Box::new(m20261128_000008_api_token_expiry::Migration),
            Box::new(m20261129_000009_mapping_and_extras::Migration),
            Box::new(m20261129_000010_import_corrections::Migration),
            Box::new(m20261130_000011_user_scope::Migration),
            Box::new(m20261201_000012_unicode_lower::Migration),
            Box::new(m20261201_000013_upload_once::Migration),
        ]
    }
}

/// Runs `statements` in turn on PostgreSQL; on SQLite a migration made of them changes
/// nothing.
async fn on_postgres(
    manager: &SchemaManager<'_>,
    statements: &[impl AsRef<str>],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql.as_ref()).await?;
    }
    Ok(())
}
