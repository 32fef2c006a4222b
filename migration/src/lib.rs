//! Database schema of the back office, as SeaORM migrations that run unchanged on SQLite
//! and PostgreSQL. `Migrator::up` runs at every start; each change is a file of its own.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_tables;
mod m20261121_000002_import_confirmation;
mod m20261121_000003_import_file_chunks;
mod m20261122_000004_client_search_indexes;
mod m20261127_000005_import_speed;
mod m20261127_000006_client_placement_checks;

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
        ]
    }
}
