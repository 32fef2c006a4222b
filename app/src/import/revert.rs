//! Undoing an import (SPEC §3.3) from what it recorded in `import_change`: rows it created
//! are deleted and fields it changed get their previous values back, newest change first.
//! A row that a later import (not itself reverted) changed again is left alone and listed,
//! as is one the database will not let go (still referenced by rows made since).

use crate::entities::{account, client, import_change, import_job, introducing_broker, referral};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Changes read at a time.
const CHUNK: u64 = 500;

/// What a revert did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevertReport {
    pub deleted: u64,
    pub restored: u64,
    /// One sentence per row that was left as it is, and why.
    pub not_reverted: Vec<String>,
}

/// Reverts job `job_id` inside `txn`. Changes made by later jobs that were themselves
/// reverted do not count as "changed again".
pub async fn revert(txn: &DatabaseTransaction, job_id: i64) -> Result<RevertReport, DbErr> {
    let reverted_jobs: HashSet<i64> = import_job::Entity::find()
        .select_only()
        .column(import_job::Column::Id)
        .filter(import_job::Column::Id.gt(job_id))
        .filter(import_job::Column::Status.eq("reverted"))
        .into_tuple::<i64>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let mut report = RevertReport::default();
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
        let later = changed_later(txn, job_id, &changes, &reverted_jobs).await?;
        for change in changes {
            let name = describe(&change);
            if let Some(other) = later
                .iter()
                .find(|(e, id, _)| *e == change.entity && *id == change.entity_id)
            {
                report.not_reverted.push(format!(
                    "{name} was not reverted: import #{} changed it afterwards.",
                    other.2
                ));
                continue;
            }
            // Each row in a savepoint: a refusal leaves the rest of the revert intact.
            let one = txn.begin().await?;
            let undone = match change.operation.as_str() {
                "created" => delete(&one, &change).await.map(|n| {
                    report.deleted += n;
                    n > 0
                }),
                _ => restore(&one, &change)
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
                    report.not_reverted.push(format!(
                        "{name} was not reverted: other records made since depend on it."
                    ));
                }
            }
        }
    }
    Ok(report)
}

fn describe(change: &import_change::Model) -> String {
    let what = match change.entity.as_str() {
        "client" => "Client",
        "account" => "Account",
        "introducing_broker" => "IB membership",
        "referral" => "Referral",
        other => other,
    };
    format!("{what} #{}", change.entity_id)
}

/// `(entity, id, job)` of the given rows that a later import, not reverted, changed.
async fn changed_later<C: ConnectionTrait>(
    txn: &C,
    job_id: i64,
    changes: &[import_change::Model],
    reverted_jobs: &HashSet<i64>,
) -> Result<Vec<(String, i64, i64)>, DbErr> {
    let mut found = Vec::new();
    let entities: HashSet<&str> = changes.iter().map(|c| c.entity.as_str()).collect();
    for entity in entities {
        let ids: Vec<i64> = changes
            .iter()
            .filter(|c| c.entity == entity)
            .map(|c| c.entity_id)
            .collect();
        let rows: Vec<(i64, i64)> = import_change::Entity::find()
            .select_only()
            .column(import_change::Column::EntityId)
            .column(import_change::Column::JobId)
            .filter(import_change::Column::Entity.eq(entity))
            .filter(import_change::Column::EntityId.is_in(ids))
            .filter(import_change::Column::JobId.gt(job_id))
            .into_tuple()
            .all(txn)
            .await?;
        found.extend(
            rows.into_iter()
                .filter(|(_, job)| !reverted_jobs.contains(job))
                .map(|(id, job)| (entity.to_owned(), id, job)),
        );
    }
    Ok(found)
}

async fn delete<C: ConnectionTrait>(txn: &C, change: &import_change::Model) -> Result<u64, DbErr> {
    let id = change.entity_id;
    let deleted = match change.entity.as_str() {
        "client" => client::Entity::delete_by_id(id).exec(txn).await?,
        "account" => account::Entity::delete_by_id(id).exec(txn).await?,
        "introducing_broker" => {
            introducing_broker::Entity::delete_by_id(id)
                .exec(txn)
                .await?
        }
        "referral" => referral::Entity::delete_by_id(id).exec(txn).await?,
        other => return Err(DbErr::Custom(format!("unknown entity `{other}`"))),
    };
    Ok(deleted.rows_affected)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
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
    change: &import_change::Model,
) -> Result<bool, DbErr> {
    let previous = stored(&change.previous_values)?;
    let bad = |field: &str| DbErr::Custom(format!("unreadable previous value of `{field}`"));
    match change.entity.as_str() {
        "client" => {
            let Some(current) = client::Entity::find_by_id(change.entity_id)
                .one(txn)
                .await?
            else {
                return Ok(false);
            };
            let mut m: client::ActiveModel = current.into();
            for (field, v) in &previous {
                match field.as_str() {
                    "email" => m.email = Set(text(v).ok_or_else(|| bad(field))?),
                    "username" => m.username = Set(text(v).ok_or_else(|| bad(field))?),
                    "first_name" => m.first_name = Set(text(v).ok_or_else(|| bad(field))?),
                    "middle_name" => m.middle_name = Set(text(v)),
                    "last_name" => m.last_name = Set(text(v)),
                    "address" => m.address = Set(text(v)),
                    "city" => m.city = Set(text(v)),
                    "postal_code" => m.postal_code = Set(text(v)),
                    "country" => m.country = Set(text(v)),
                    "phone" => m.phone = Set(text(v)),
                    "type" => m.client_type = Set(text(v).ok_or_else(|| bad(field))?),
                    "date_of_birth" => {
                        m.date_of_birth = Set(match v.as_str() {
                            None => None,
                            Some(d) => Some(d.parse().map_err(|_| bad(field))?),
                        })
                    }
                    "created_at" => {
                        m.created_at = Set(v
                            .as_str()
                            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                            .ok_or_else(|| bad(field))?
                            .to_utc())
                    }
                    "verification_level" => {
                        m.verification_level = Set(v
                            .as_i64()
                            .and_then(|n| i32::try_from(n).ok())
                            .ok_or_else(|| bad(field))?)
                    }
                    "active" => m.active = Set(v.as_bool().ok_or_else(|| bad(field))?),
                    "project_id" => m.project_id = Set(v.as_i64().ok_or_else(|| bad(field))?),
                    "desk_id" => m.desk_id = Set(v.as_i64().ok_or_else(|| bad(field))?),
                    _ => return Err(bad(field)),
                }
            }
            m.updated_at = Set(chrono::Utc::now());
            m.update(txn).await?;
        }
        "account" => {
            let Some(current) = account::Entity::find_by_id(change.entity_id)
                .one(txn)
                .await?
            else {
                return Ok(false);
            };
            let mut m: account::ActiveModel = current.into();
            for (field, v) in &previous {
                match field.as_str() {
                    "product_id" => m.product_id = Set(v.as_i64().ok_or_else(|| bad(field))?),
                    "currency" => m.currency = Set(text(v).ok_or_else(|| bad(field))?),
                    _ => return Err(bad(field)),
                }
            }
            m.update(txn).await?;
        }
        other => return Err(DbErr::Custom(format!("`{other}` rows are never updated"))),
    }
    Ok(true)
}
