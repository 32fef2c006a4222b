//! PostgreSQL checks a client's project and desk once per statement instead of once per
//! row. A row-level foreign key runs a trigger, a look-up and a lock for every client
//! inserted or updated: a tenth of a million-row import's time. Two statement-level
//! triggers read the statement's new rows (its transition table) and look up each distinct
//! project and desk once, locking them as a foreign key does (`FOR KEY SHARE`), so that a
//! project or desk deleted meanwhile waits for the statement's transaction; deleting a
//! project or desk that clients still use is refused by a row-level trigger on that small
//! table. Both raise the error a foreign key raises (SQLSTATE 23503, with the constraint's
//! name), so callers see no difference. SQLite keeps its foreign keys: its checks are
//! look-ups of a primary key in the same process.
//!
//! The checks see what is committed when they run (the application's transactions are
//! `READ COMMITTED`), as a foreign key's do.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000006_client_placement_checks"
    }
}

const UP: &[&str] = &[
    "ALTER TABLE client DROP CONSTRAINT client_project_id_fkey, \
     DROP CONSTRAINT client_desk_id_fkey",
    r#"CREATE FUNCTION client_placement_exists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    PERFORM 1 FROM project WHERE id IN (SELECT DISTINCT project_id FROM new_clients)
        FOR KEY SHARE;
    SELECT n.project_id INTO missing FROM new_clients n
        WHERE NOT EXISTS (SELECT 1 FROM project p WHERE p.id = n.project_id) LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "client" violates foreign key constraint "client_project_id_fkey"',
            DETAIL = format('Key (project_id)=(%s) is not present in table "project".', missing),
            TABLE = 'client', CONSTRAINT = 'client_project_id_fkey';
    END IF;
    PERFORM 1 FROM desk WHERE id IN (SELECT DISTINCT desk_id FROM new_clients)
        FOR KEY SHARE;
    SELECT n.desk_id INTO missing FROM new_clients n
        WHERE NOT EXISTS (SELECT 1 FROM desk d WHERE d.id = n.desk_id) LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "client" violates foreign key constraint "client_desk_id_fkey"',
            DETAIL = format('Key (desk_id)=(%s) is not present in table "desk".', missing),
            TABLE = 'client', CONSTRAINT = 'client_desk_id_fkey';
    END IF;
    RETURN NULL;
END
$$"#,
    "CREATE TRIGGER client_placement_on_insert AFTER INSERT ON client \
     REFERENCING NEW TABLE AS new_clients \
     FOR EACH STATEMENT EXECUTE FUNCTION client_placement_exists()",
    "CREATE TRIGGER client_placement_on_update AFTER UPDATE ON client \
     REFERENCING NEW TABLE AS new_clients \
     FOR EACH STATEMENT EXECUTE FUNCTION client_placement_exists()",
    r#"CREATE FUNCTION client_placement_unused() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    column_name text := TG_TABLE_NAME || '_id';
    used boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM client WHERE %I = $1)', column_name)
        INTO used USING OLD.id;
    IF used THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('update or delete on table "%s" violates foreign key constraint "client_%s_fkey" on table "client"', TG_TABLE_NAME, column_name),
            DETAIL = format('Key (id)=(%s) is still referenced from table "client".', OLD.id),
            TABLE = 'client', CONSTRAINT = format('client_%s_fkey', column_name);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$"#,
    "CREATE TRIGGER project_used_by_clients BEFORE DELETE OR UPDATE OF id ON project \
     FOR EACH ROW EXECUTE FUNCTION client_placement_unused()",
    "CREATE TRIGGER desk_used_by_clients BEFORE DELETE OR UPDATE OF id ON desk \
     FOR EACH ROW EXECUTE FUNCTION client_placement_unused()",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER desk_used_by_clients ON desk",
    "DROP TRIGGER project_used_by_clients ON project",
    "DROP FUNCTION client_placement_unused()",
    "DROP TRIGGER client_placement_on_update ON client",
    "DROP TRIGGER client_placement_on_insert ON client",
    "DROP FUNCTION client_placement_exists()",
    "ALTER TABLE client \
     ADD CONSTRAINT client_project_id_fkey FOREIGN KEY (project_id) REFERENCES project (id) ON DELETE RESTRICT, \
     ADD CONSTRAINT client_desk_id_fkey FOREIGN KEY (desk_id) REFERENCES desk (id) ON DELETE RESTRICT",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(manager, DOWN).await
    }
}
