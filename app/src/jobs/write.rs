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
        // A client row binds 19 values and a message 8: 1,578 and 3,750 rows fill 29,982 and
        // 30,000 of the 30,000 binds a statement is given, under SQLite's 32,766 (and
        // PostgreSQL's 65,535); one row more would pass 30,000.
        assert_eq!(client::Column::iter().count(), 19);
        assert_eq!(rows_per_statement::<client::Entity>(), 1_578);
        assert_eq!(import_message::Column::iter().count(), 8);
        assert_eq!(rows_per_statement::<import_message::Entity>(), 3_750);
        for (rows, per_row) in [(1_578, 19), (3_750, 8)] {
            assert!(rows * per_row <= 32_766, "SQLite's limit");
            assert!((rows + 1) * per_row > MAX_BINDS, "as many rows as fit");
        }
    }

    #[test]
    fn models_are_split_into_statements_that_fit() {
        let message = || import_message::ActiveModel {
            message: sea_orm::ActiveValue::Set("m".into()),
            ..Default::default()
        };
        let sizes = |n: usize| -> Vec<usize> {
            pieces((0..n).map(|_| message()).collect())
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(3_750), [3_750]);
        assert_eq!(sizes(3_751), [3_750, 1]);
        assert_eq!(sizes(7_600), [3_750, 3_750, 100]);
    }
}
