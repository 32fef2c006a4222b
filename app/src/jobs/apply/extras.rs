//! Extra attributes of clients (SPEC §2): named text values from a file's columns that
//! fill no field, one row of `client_attribute` per client and name. An import writes
//! them with the client's other fields and records their previous values in the same
//! change record, under `extra:NAME`, so that a revert restores them with the rest.

use super::clients::statement_rows;
use crate::entities::client_attribute;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    Value as DbValue,
};
use std::collections::HashMap;

/// The prefix of an extra attribute's key in a change record.
pub const CHANGE_PREFIX: &str = "extra:";

/// Clients' ids looked up in one statement.
const IDS_PER_LOOKUP: usize = 1_000;

/// The extra attributes of the clients `ids`, by client and name.
pub async fn of_clients<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<HashMap<i64, HashMap<String, String>>, DbErr> {
    let mut found: HashMap<i64, HashMap<String, String>> = HashMap::new();
    for chunk in ids.chunks(IDS_PER_LOOKUP) {
        for a in client_attribute::Entity::find()
            .filter(client_attribute::Column::ClientId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            found
                .entry(a.client_id)
                .or_default()
                .insert(a.name, a.value);
        }
    }
    Ok(found)
}

/// Sets each `(client, name, value)`: inserted, or the value replaced. No two of them may
/// name the same client and attribute.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    values: &[(i64, String, String)],
) -> Result<(), DbErr> {
    if values.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    const UPSERT: &str = " ON CONFLICT (client_id, name) DO UPDATE SET value = excluded.value";
    if backend == DbBackend::Postgres {
        // One statement of three arrays, whatever the number of values.
        let sql = format!(
            "INSERT INTO client_attribute (client_id, name, value) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]){UPSERT}"
        );
        let ids: Vec<i64> = values.iter().map(|v| v.0).collect();
        let names: Vec<String> = values.iter().map(|v| v.1.clone()).collect();
        let texts: Vec<String> = values.iter().map(|v| v.2.clone()).collect();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [ids.into(), names.into(), texts.into()],
        ))
        .await?;
        return Ok(());
    }
    let mut rest = values;
    while !rest.is_empty() {
        let (piece, after) = rest.split_at(statement_rows(rest.len()));
        rest = after;
        let mut sql = String::from("INSERT INTO client_attribute (client_id, name, value) VALUES ");
        let mut bound: Vec<DbValue> = Vec::with_capacity(piece.len() * 3);
        for (i, (id, name, value)) in piece.iter().enumerate() {
            sql.push_str(if i == 0 { "(?,?,?)" } else { ",(?,?,?)" });
            bound.extend([(*id).into(), name.clone().into(), value.clone().into()]);
        }
        sql.push_str(UPSERT);
        db.execute_raw(Statement::from_sql_and_values(backend, sql, bound))
            .await?;
    }
    Ok(())
}

/// Removes attribute `name` of client `id`, if it has it.
pub async fn remove<C: ConnectionTrait>(db: &C, id: i64, name: &str) -> Result<(), DbErr> {
    client_attribute::Entity::delete_many()
        .filter(client_attribute::Column::ClientId.eq(id))
        .filter(client_attribute::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(())
}
