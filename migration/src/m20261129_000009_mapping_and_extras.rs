//! The import wizard's tables (SPEC §2, §3.5): the column mapping a job was run with, the
//! mappings remembered per action and set of columns, and the extra attributes of clients
//! (named text values from columns that fill no field).
//!
//! `client_attribute` is keyed by client and name, and indexed by name and value: the
//! index gives the few names in use (an export's columns) by skipping from one name to
//! the next, and finds a client by the exact value of any attribute (an `External ID`, an
//! `AffiliateID`) with one probe per name.
//! Deleting a client deletes its attributes: through a foreign key on SQLite; on
//! PostgreSQL through the statement-level trigger that migration 000007 made for the
//! other tables of a client, which this migration extends to the new one.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000009_mapping_and_extras"
    }
}

#[derive(DeriveIden)]
enum ImportJob {
    Table,
    Mapping,
}

#[derive(DeriveIden)]
enum SavedMapping {
    Table,
    Id,
    Action,
    HeaderKey,
    Mapping,
    SavedBy,
    SavedAt,
}

#[derive(DeriveIden)]
enum ClientAttribute {
    Table,
    ClientId,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Client {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BackOfficeUser {
    Table,
    Id,
}

/// The tables (besides `referral`'s partner column) whose `client_id` refers to `client`
/// through the statement-level checks, before and after this migration.
const BEFORE: &[&str] = &["account", "introducing_broker", "referral"];
const AFTER: &[&str] = &[
    "account",
    "introducing_broker",
    "referral",
    "client_attribute",
];

/// The trigger function that deletes the rows of `tables` whose client a statement deleted.
fn dependents_delete(tables: &[&str]) -> String {
    let deletes: String = tables
        .iter()
        .rev()
        .map(|t| format!("    DELETE FROM {t} d USING old_clients o WHERE d.client_id = o.id;\n"))
        .collect();
    format!(
        "CREATE OR REPLACE FUNCTION client_dependents_delete() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         BEGIN\n{deletes}    RETURN NULL;\nEND\n$$"
    )
}

/// The trigger function that refuses to change the id of a client rows of `tables` refer to.
fn id_unused(tables: &[&str]) -> String {
    let uses: Vec<String> = tables
        .iter()
        .map(|t| format!("('{t}', EXISTS (SELECT 1 FROM {t} WHERE client_id = OLD.id))"))
        .collect();
    format!(
        r#"CREATE OR REPLACE FUNCTION client_id_unused() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    used_by text;
BEGIN
    IF NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    SELECT t INTO used_by FROM (VALUES {}) AS u(t, used)
        WHERE used LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('update or delete on table "client" violates foreign key constraint "%s_client_id_fkey" on table "%s"', used_by, used_by),
            DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', OLD.id, used_by),
            TABLE = used_by, CONSTRAINT = used_by || '_client_id_fkey';
    END IF;
    RETURN NEW;
END
$$"#,
        uses.join(", ")
    )
}

/// The guard that refuses to `TRUNCATE client` while rows of `tables` refer to it.
fn truncate_guard(tables: &[&str]) -> [String; 2] {
    let names: Vec<String> = tables.iter().map(|t| format!("'{t}'")).collect();
    [
        "DROP TRIGGER client_truncate_guard ON client".to_owned(),
        format!(
            "CREATE TRIGGER client_truncate_guard BEFORE TRUNCATE ON client \
             FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate_while_referenced({})",
            names.join(", ")
        ),
    ]
}

/// PostgreSQL: the foreign key gives way to the statement-level checks of migration
/// 000007, which now cover `client_attribute` too.
fn postgres_up() -> Vec<String> {
    let mut sql = vec![
        "ALTER TABLE client_attribute DROP CONSTRAINT client_attribute_client_id_fkey".to_owned(),
    ];
    for event in ["insert", "update"] {
        sql.push(format!(
            "CREATE TRIGGER client_attribute_client_on_{event} AFTER {} ON client_attribute \
             REFERENCING NEW TABLE AS new_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION client_of_rows_exists()",
            event.to_uppercase()
        ));
    }
    sql.push(dependents_delete(AFTER));
    sql.push(id_unused(AFTER));
    sql.extend(truncate_guard(AFTER));
    sql
}

/// PostgreSQL: the functions and the guard as migration 000007 left them (the table and its
/// triggers go with `DROP TABLE`).
fn postgres_down() -> Vec<String> {
    let mut sql: Vec<String> = truncate_guard(BEFORE).into();
    sql.push(dependents_delete(BEFORE));
    sql.push(id_unused(BEFORE));
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .add_column(ColumnDef::new(ImportJob::Mapping).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SavedMapping::Table)
                    .col(
                        ColumnDef::new(SavedMapping::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SavedMapping::Action).string().not_null())
                    .col(ColumnDef::new(SavedMapping::HeaderKey).text().not_null())
                    .col(ColumnDef::new(SavedMapping::Mapping).text().not_null())
                    .col(ColumnDef::new(SavedMapping::SavedBy).big_integer().null())
                    .col(
                        ColumnDef::new(SavedMapping::SavedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SavedMapping::Table, SavedMapping::SavedBy)
                            .to(BackOfficeUser::Table, BackOfficeUser::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("saved_mapping_action_header_key")
                    .table(SavedMapping::Table)
                    .col(SavedMapping::Action)
                    .col(SavedMapping::HeaderKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClientAttribute::Table)
                    .col(
                        ColumnDef::new(ClientAttribute::ClientId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ClientAttribute::Name).text().not_null())
                    .col(ColumnDef::new(ClientAttribute::Value).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(ClientAttribute::ClientId)
                            .col(ClientAttribute::Name),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("client_attribute_client_id_fkey")
                            .from(ClientAttribute::Table, ClientAttribute::ClientId)
                            .to(Client::Table, Client::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("client_attribute_name_value")
                    .table(ClientAttribute::Table)
                    .col(ClientAttribute::Name)
                    .col(ClientAttribute::Value)
                    .to_owned(),
            )
            .await?;
        crate::on_postgres(manager, &postgres_up()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(manager, &postgres_down()).await?;
        manager
            .drop_table(Table::drop().table(ClientAttribute::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SavedMapping::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJob::Table)
                    .drop_column(ImportJob::Mapping)
                    .to_owned(),
            )
            .await
    }
}
