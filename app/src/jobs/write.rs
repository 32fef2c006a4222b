//! Multi-row inserts of any size. One `INSERT … VALUES` carries at most [`MAX_BINDS`] bound
//! values (SQLite refuses more than 32,766, PostgreSQL more than 65,535), so a long list of
//! rows is written as several statements of as many rows as fit.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, Iterable};

/// The most values one statement binds, under both databases' limits.
pub const MAX_BINDS: usize = 30_000;

/// How many rows of `E` one statement can hold.
pub fn rows_per_statement<E: EntityTrait>() -> usize {
    (MAX_BINDS / E::Column::iter().count().max(1)).max(1)
}

/// Splits `models` into pieces that each fit one statement.
fn pieces<A: ActiveModelTrait>(models: Vec<A>) -> Vec<Vec<A>> {
    let per = rows_per_statement::<A::Entity>();
    let mut out = Vec::with_capacity(models.len().div_ceil(per));
    let mut rest = models.into_iter().peekable();
    while rest.peek().is_some() {
        out.push(rest.by_ref().take(per).collect());
    }
    out
}

/// Inserts every model, in as few statements as the bind limit allows.
pub async fn insert_all<A, C>(db: &C, models: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    for piece in pieces(models) {
        <A::Entity as EntityTrait>::insert_many(piece)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Inserts every model and gives the new primary keys (callers record them, and rely on no
/// order among them).
pub async fn insert_all_returning_keys<A, C>(
    db: &C,
    models: Vec<A>,
) -> Result<
    Vec<<<A::Entity as EntityTrait>::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType>,
    DbErr,
>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    let mut keys = Vec::with_capacity(models.len());
    for piece in pieces(models) {
        keys.extend(
            <A::Entity as EntityTrait>::insert_many(piece)
                .exec_with_returning_keys(db)
                .await?,
        );
    }
    Ok(keys)
}

/// Inserts every model, or on a conflict of `on_conflict` updates the row as it says.
pub async fn upsert_all<A, C>(db: &C, models: Vec<A>, on_conflict: OnConflict) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    for piece in pieces(models) {
        <A::Entity as EntityTrait>::insert_many(piece)
            .on_conflict(on_conflict.clone())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::{client, import_message};

    #[test]
    fn statements_stay_under_both_databases_bind_limits() {
        for per_row in [
            client::Column::iter().count(),
            import_message::Column::iter().count(),
        ] {
            let rows = MAX_BINDS / per_row;
            assert!(rows * per_row <= 32_766, "SQLite's limit");
            assert!((rows + 1) * per_row > MAX_BINDS, "as many rows as fit");
        }
        assert_eq!(
            rows_per_statement::<client::Entity>(),
            MAX_BINDS / client::Column::iter().count()
        );
    }
}
