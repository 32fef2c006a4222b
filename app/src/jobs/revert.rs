//! Undoing an import (SPEC §3.3) from what it recorded in `import_change`: rows it created
//! are deleted and fields it changed get their previous values back, newest change first.
//!
//! Left alone, and listed: a row that a later import (not itself reverted) changed again,
//! and a created client that rows made since depend on (accounts, IB memberships,
//! referrals: deleting the client would take them with it). Created rows are deleted a
//! run of ids at a time, so a million-row import reverts in a few statements per run.

use super::apply::extras;
use super::changes::{AccountField, ChangeOp, ClientField, Entity, read_runs};
use crate::entities::{account, client, import_change, import_job};
use crate::model::JobStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, Statement, TransactionTrait,
};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Change records read at a time.
const CHUNK: u64 = 500;

/// What a revert did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevertReport {
    pub deleted: u64,
    pub restored: u64,
    /// One sentence per row that was left as it is, and why.
    pub not_reverted: Vec<String>,
    /// Whether the client table's non-unique indexes were dropped and built again instead
    /// of being updated row by row (a revert of most of the table, on SQLite).
    pub rebuilt_indexes: bool,
}

/// Reverts job `job_id` inside `txn`. Changes made by later jobs that were themselves
/// reverted do not count as "changed again".
pub async fn revert(txn: &DatabaseTransaction, job_id: i64) -> Result<RevertReport, DbErr> {
    let reverted_jobs: HashSet<i64> = import_job::Entity::find()
        .select_only()
        .column(import_job::Column::Id)
        .filter(import_job::Column::Id.gt(job_id))
        .filter(import_job::Column::Status.eq(JobStatus::Reverted))
        .into_tuple::<i64>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    // SQLite deletes a row's entries from every index as it deletes the row; past a point
    // it is cheaper to drop the non-unique ones in this transaction and build them again
    // at its end (the schema changes with the transaction, so a failed revert leaves them
    // as they were). PostgreSQL leaves index entries of deleted rows to its vacuum: there,
    // a rebuild would only add work.
    let created = created_clients(txn, job_id).await?;
    let rebuild = large_enough(txn.get_database_backend(), created)
        && most_of(created, client::Entity::find().count(txn).await?);
    if rebuild {
        super::writer_cache(txn).await?;
        super::bulk::drop_client_indexes(txn).await?;
    }
    let mut report = RevertReport {
        rebuilt_indexes: rebuild,
        ..Default::default()
    };
    let mut before: Option<i64> = None;
    loop {
        let mut query = import_change::Entity::find()
            .filter(import_change::Column::JobId.eq(job_id))
            .order_by_desc(import_change::Column::Id)
            .limit(CHUNK);
        if let Some(id) = before {
            query = query.filter(import_change::Column::Id.lt(id));
        }
        let changes = query.all(txn).await?;
        let Some(last) = changes.last() else { break };
        before = Some(last.id);
        for change in changes {
            let entity = Entity::parse(&change.entity).ok_or_else(|| {
                DbErr::Custom(format!("unknown entity `{}` in a change", change.entity))
            })?;
            match change.operation {
                ChangeOp::CreatedIds => {
                    for (first, last) in read_runs(change.new_values.as_deref())? {
                        delete_run(
                            txn,
                            job_id,
                            entity,
                            (first, last),
                            &reverted_jobs,
                            &mut report,
                        )
                        .await?;
                    }
                }
                ChangeOp::Created | ChangeOp::Updated => {
                    revert_row(
                        txn,
                        job_id,
                        entity,
                        change.operation,
                        &change,
                        &reverted_jobs,
                        &mut report,
                    )
                    .await?;
                }
            }
        }
    }
    if rebuild {
        super::bulk::create_client_indexes(txn).await?;
    }
    Ok(report)
}

/// A revert on SQLite that deletes at least this many clients, half the table or more,
/// rebuilds the table's non-unique indexes instead of updating them row by row.
const REBUILD_AFTER: u64 = 100_000;

/// Whether deleting `created` clients is enough to weigh rebuilding the indexes: on SQLite,
/// from [`REBUILD_AFTER`].
fn large_enough(backend: DbBackend, created: u64) -> bool {
    backend == DbBackend::Sqlite && created >= REBUILD_AFTER
}

/// Whether `created` rows are half of a table of `rows` or more.
fn most_of(created: u64, rows: u64) -> bool {
    created.saturating_mul(2) >= rows
}

/// How many ids the runs of `created_ids` records hold.
fn ids_in_runs(records: &[Option<String>]) -> Result<u64, DbErr> {
    let mut n = 0u64;
    for runs in records {
        for (first, last) in read_runs(runs.as_deref())? {
            n += (last - first + 1) as u64;
        }
    }
    Ok(n)
}

/// How many clients job `job_id` recorded as created, from its runs of ids.
async fn created_clients<C: ConnectionTrait>(txn: &C, job_id: i64) -> Result<u64, DbErr> {
    let records: Vec<Option<String>> = import_change::Entity::find()
        .select_only()
        .column(import_change::Column::NewValues)
        .filter(import_change::Column::JobId.eq(job_id))
        .filter(import_change::Column::Entity.eq(Entity::Client.as_str()))
        .filter(import_change::Column::Operation.eq(ChangeOp::CreatedIds.as_str()))
        .into_tuple()
        .all(txn)
        .await?;
    ids_in_runs(&records)
}

fn describe(entity: Entity, id: i64) -> String {
    format!("{} #{id}", entity.label())
}

/// For each id of `entity` in `first..=last`, the newest later import (not reverted)
/// that changed it.
async fn changed_later<C: ConnectionTrait>(
    txn: &C,
    job_id: i64,
    entity: Entity,
    (first, last): (i64, i64),
    reverted_jobs: &HashSet<i64>,
) -> Result<HashMap<i64, i64>, DbErr> {
    let rows: Vec<(i64, i64)> = import_change::Entity::find()
        .select_only()
        .column(import_change::Column::EntityId)
        .column(import_change::Column::JobId)
        .filter(import_change::Column::Entity.eq(entity.as_str()))
        .filter(import_change::Column::EntityId.between(first, last))
        .filter(import_change::Column::JobId.gt(job_id))
        .into_tuple()
        .all(txn)
        .await?;
    let mut found = HashMap::new();
    for (id, job) in rows {
        if !reverted_jobs.contains(&job) {
            found.entry(id).or_insert(job);
        }
    }
    Ok(found)
}

/// Clients in `first..=last` that rows made since refer to.
async fn clients_depended_on<C: ConnectionTrait>(
    txn: &C,
    (first, last): (i64, i64),
) -> Result<BTreeSet<i64>, DbErr> {
    let backend = txn.get_database_backend();
    let (a, b) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?1", "?2"),
    };
    let sql = format!(
        "SELECT client_id AS id FROM account WHERE client_id BETWEEN {a} AND {b} \
         UNION SELECT client_id FROM introducing_broker WHERE client_id BETWEEN {a} AND {b} \
         UNION SELECT client_id FROM referral WHERE client_id BETWEEN {a} AND {b} \
         UNION SELECT ib_client_id FROM referral WHERE ib_client_id BETWEEN {a} AND {b}"
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [first.into(), last.into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get::<i64>("", "id")).collect()
}

/// Deletes the rows of `entity` one job created with ids `first..=last`, except those
/// that must be left alone.
async fn delete_run(
    txn: &DatabaseTransaction,
    job_id: i64,
    entity: Entity,
    (first, last): (i64, i64),
    reverted_jobs: &HashSet<i64>,
    report: &mut RevertReport,
) -> Result<(), DbErr> {
    let later = changed_later(txn, job_id, entity, (first, last), reverted_jobs).await?;
    let depended = if entity == Entity::Client {
        clients_depended_on(txn, (first, last)).await?
    } else {
        BTreeSet::new()
    };
    let mut kept: BTreeSet<i64> = later.keys().copied().collect();
    let mut later_sorted: Vec<(i64, i64)> = later.into_iter().collect();
    later_sorted.sort_unstable();
    for (id, other) in later_sorted {
        report.not_reverted.push(format!(
            "{} was not reverted: import #{other} changed it afterwards.",
            describe(entity, id)
        ));
    }
    for id in depended {
        if kept.insert(id) {
            report.not_reverted.push(format!(
                "{} was not reverted: other records made since depend on it.",
                describe(entity, id)
            ));
        }
    }
    let backend = txn.get_database_backend();
    let table = entity.table();
    // Rows of the run that are gone already (deleted by hand since) are listed too; they
    // are found only when the count says some are missing.
    let present: i64 = count_in(txn, table, (first, last)).await?;
    let expected = last - first + 1;
    if present < expected {
        let ids: BTreeSet<i64> = ids_in(txn, table, (first, last)).await?;
        for id in first..=last {
            if !ids.contains(&id) {
                report.not_reverted.push(format!(
                    "{} was not reverted: it no longer exists.",
                    describe(entity, id)
                ));
            }
        }
    }
    // Deleted between the kept ids, one range at a time.
    let mut from = first;
    for stop in kept.iter().copied().chain([last + 1]) {
        if stop > from {
            let done = txn
                .execute_raw(in_range(backend, "DELETE FROM", table, (from, stop - 1)))
                .await?;
            report.deleted += done.rows_affected();
        }
        from = stop + 1;
    }
    Ok(())
}

/// `{head} {table} WHERE id BETWEEN first AND last`, with the range bound.
fn in_range(backend: DbBackend, head: &str, table: &str, (first, last): (i64, i64)) -> Statement {
    let (a, b) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?1", "?2"),
    };
    Statement::from_sql_and_values(
        backend,
        format!("{head} {table} WHERE id BETWEEN {a} AND {b}"),
        [first.into(), last.into()],
    )
}

async fn count_in<C: ConnectionTrait>(
    txn: &C,
    table: &str,
    range: (i64, i64),
) -> Result<i64, DbErr> {
    let backend = txn.get_database_backend();
    let row = txn
        .query_one_raw(in_range(backend, "SELECT COUNT(*) AS n FROM", table, range))
        .await?;
    row.map_or(Ok(0), |r| r.try_get::<i64>("", "n"))
}

async fn ids_in<C: ConnectionTrait>(
    txn: &C,
    table: &str,
    range: (i64, i64),
) -> Result<BTreeSet<i64>, DbErr> {
    let backend = txn.get_database_backend();
    let rows = txn
        .query_all_raw(in_range(backend, "SELECT id FROM", table, range))
        .await?;
    rows.iter().map(|r| r.try_get::<i64>("", "id")).collect()
}

/// Reverts one row's record: deletes a row created alone (IB memberships, referrals) or
/// restores an updated one.
async fn revert_row(
    txn: &DatabaseTransaction,
    job_id: i64,
    entity: Entity,
    op: ChangeOp,
    change: &import_change::Model,
    reverted_jobs: &HashSet<i64>,
    report: &mut RevertReport,
) -> Result<(), DbErr> {
    let id = change.entity_id;
    let name = describe(entity, id);
    let later = changed_later(txn, job_id, entity, (id, id), reverted_jobs).await?;
    if let Some(other) = later.get(&id) {
        report.not_reverted.push(format!(
            "{name} was not reverted: import #{other} changed it afterwards."
        ));
        return Ok(());
    }
    // A partner's membership that referrals still name (made by a later import: this one's
    // own came after it and were reverted first) stays: deleting it would take them along.
    if entity == Entity::IntroducingBroker
        && op == ChangeOp::Created
        && membership_referred(txn, id).await?
    {
        report.not_reverted.push(format!(
            "{name} was not reverted: other records made since depend on it."
        ));
        return Ok(());
    }
    // Each row in a savepoint: a refusal leaves the rest of the revert intact.
    let one = txn.begin().await?;
    let undone = match op {
        ChangeOp::Created => delete_one(&one, entity, id).await.map(|n| {
            report.deleted += n;
            n > 0
        }),
        _ => restore(&one, entity, change)
            .await
            .inspect(|done| report.restored += u64::from(*done)),
    };
    match undone {
        Ok(true) => one.commit().await?,
        Ok(false) => {
            one.rollback().await?;
            report
                .not_reverted
                .push(format!("{name} was not reverted: it no longer exists."));
        }
        Err(e) => {
            one.rollback().await?;
            tracing::info!(job_id, error = %e, "a change could not be reverted");
            report
                .not_reverted
                .push(format!("{name} was not reverted: {}", refusal(op, &e)));
        }
    }
    Ok(())
}

/// Why the database refused to undo a row, in the words of the revert's report.
fn refusal(op: ChangeOp, e: &DbErr) -> &'static str {
    match (op, e.sql_err()) {
        (ChangeOp::Created, _) => "other records made since depend on it.",
        (_, Some(SqlErr::ForeignKeyConstraintViolation(_))) => {
            "a record its earlier values refer to (such as its desk) was deleted since."
        }
        (_, Some(SqlErr::UniqueConstraintViolation(_))) => {
            "another record now holds one of its earlier values (such as its username)."
        }
        _ => "the database refused its earlier values.",
    }
}

/// Whether referrals name the partner of membership `id` in its program.
async fn membership_referred<C: ConnectionTrait>(txn: &C, id: i64) -> Result<bool, DbErr> {
    let backend = txn.get_database_backend();
    let sql = format!(
        "SELECT COUNT(*) AS n FROM referral r JOIN introducing_broker m \
         ON r.program_id = m.program_id AND r.ib_client_id = m.client_id WHERE m.id = {}",
        match backend {
            DbBackend::Postgres => "$1",
            _ => "?1",
        }
    );
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0)
        > 0)
}

async fn delete_one<C: ConnectionTrait>(txn: &C, entity: Entity, id: i64) -> Result<u64, DbErr> {
    let backend = txn.get_database_backend();
    Ok(txn
        .execute_raw(in_range(backend, "DELETE FROM", entity.table(), (id, id)))
        .await?
        .rows_affected())
}

fn stored(previous: &Option<String>) -> Result<Map<String, Value>, DbErr> {
    match previous
        .as_deref()
        .map(serde_json::from_str::<Map<String, Value>>)
    {
        Some(Ok(map)) => Ok(map),
        Some(Err(e)) => Err(DbErr::Custom(format!("unreadable change record: {e}"))),
        None => Ok(Map::new()),
    }
}

/// Puts back the previous values of the fields an update changed; `false` when the row
/// is gone.
async fn restore<C: ConnectionTrait>(
    txn: &C,
    entity: Entity,
    change: &import_change::Model,
) -> Result<bool, DbErr> {
    let previous = stored(&change.previous_values)?;
    let unknown = |field: &str| DbErr::Custom(format!("unknown field `{field}` in a change"));
    let done = match entity {
        Entity::Client => {
            let mut update = client::Entity::update_many()
                .col_expr(client::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
                .filter(client::Column::Id.eq(change.entity_id));
            let mut attributes = Vec::new();
            for (name, v) in &previous {
                if let Some(attribute) = name.strip_prefix(extras::CHANGE_PREFIX) {
                    attributes.push((attribute, v));
                    continue;
                }
                let field = ClientField::parse(name).ok_or_else(|| unknown(name))?;
                update = update.col_expr(field.column(), Expr::value(field.value(v)?));
            }
            let done = update.exec(txn).await?;
            if done.rows_affected > 0 {
                // An attribute the import added goes; one it changed gets its value back.
                let mut put_back = Vec::new();
                for (attribute, v) in attributes {
                    match v {
                        Value::Null => {
                            extras::remove(txn, change.entity_id, attribute).await?;
                        }
                        Value::String(old) => {
                            put_back.push((change.entity_id, attribute.to_owned(), old.clone()))
                        }
                        _ => return Err(unknown(attribute)),
                    }
                }
                extras::write(txn, &put_back).await?;
            }
            done
        }
        Entity::Account => {
            let mut update =
                account::Entity::update_many().filter(account::Column::Id.eq(change.entity_id));
            for (name, v) in &previous {
                let field = AccountField::parse(name).ok_or_else(|| unknown(name))?;
                update = update.col_expr(field.column(), Expr::value(field.value(v)?));
            }
            update.exec(txn).await?
        }
        other => {
            return Err(DbErr::Custom(format!(
                "`{}` rows are never updated",
                other.as_str()
            )));
        }
    };
    Ok(done.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::back_office_user;
    use crate::jobs::changes::created_records;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, Database};

    #[test]
    fn a_revert_of_most_of_a_large_table_on_sqlite_rebuilds_its_indexes() {
        assert!(!large_enough(DbBackend::Sqlite, REBUILD_AFTER - 1));
        assert!(large_enough(DbBackend::Sqlite, REBUILD_AFTER));
        assert!(!large_enough(DbBackend::Postgres, REBUILD_AFTER * 10));
        assert!(most_of(50, 100));
        assert!(!most_of(49, 100));
        assert!(most_of(u64::MAX, u64::MAX));
        assert_eq!(
            ids_in_runs(&[Some("[[1,3],[7,7]]".into()), Some("[[10,19]]".into())]).unwrap(),
            14
        );
        assert!(ids_in_runs(&[None]).is_err());
    }

    /// The clients a job created, counted from its own `created_ids` records only.
    #[tokio::test]
    async fn created_clients_are_counted_from_the_job_s_own_client_records() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        let user = back_office_user::ActiveModel {
            email: Set("admin@example.com".into()),
            password_hash: Set(String::new()),
            role: Set("admin".into()),
            active: Set(true),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let mut jobs = Vec::new();
        for _ in 0..2 {
            let job = import_job::ActiveModel {
                title: Set("t".into()),
                action: Set("import-users".into()),
                delimiter: Set("auto".into()),
                file_name: Set("f.csv".into()),
                file_size: Set(0),
                file_sha256: Set(String::new()),
                status: Set(JobStatus::Success),
                validate_only: Set(false),
                bulk: Set(false),
                initiated_by: Set(user.id),
                created_at: Set(chrono::Utc::now()),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
            jobs.push(job.id);
        }
        let mut records = created_records(jobs[0], Entity::Client, (1..=3).chain(7..=9));
        records.extend(created_records(jobs[0], Entity::Client, [20]));
        records.extend(created_records(jobs[0], Entity::Account, 1..=50));
        records.extend(created_records(jobs[1], Entity::Client, 100..=199));
        import_change::Entity::insert_many(records)
            .exec(&db)
            .await
            .unwrap();
        assert_eq!(created_clients(&db, jobs[0]).await.unwrap(), 7);
        assert_eq!(created_clients(&db, jobs[1]).await.unwrap(), 100);
    }
}
