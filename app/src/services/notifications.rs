//! The bell (SPEC §3.4): what a user was told about their imports, and marking it read.

use crate::entities::{import_job, notification};
use crate::model::{AppError, NotificationRecord, Notifications};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::HashMap;

/// How many of the latest notifications the bell lists.
pub const LATEST: u64 = 10;

pub async fn for_user(db: &DatabaseConnection, user_id: i64) -> Result<Notifications, AppError> {
    let mine = notification::Entity::find().filter(notification::Column::UserId.eq(user_id));
    let unread = mine
        .clone()
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await?;
    let latest = mine
        .order_by_desc(notification::Column::Id)
        .limit(LATEST)
        .all(db)
        .await?;
    let job_ids: Vec<i64> = latest.iter().filter_map(|n| n.job_id).collect();
    let jobs: HashMap<i64, (i64, String)> = import_job::Entity::find()
        .select_only()
        .columns([
            import_job::Column::Id,
            import_job::Column::ErrorRows,
            import_job::Column::Title,
        ])
        .filter(import_job::Column::Id.is_in(job_ids))
        .into_tuple::<(i64, i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, errors, title)| (id, (errors, title)))
        .collect();
    Ok(Notifications {
        unread,
        latest: latest
            .into_iter()
            .map(|n| NotificationRecord {
                job_errors: n.job_id.and_then(|j| jobs.get(&j)).map_or(0, |j| j.0),
                job_title: n.job_id.and_then(|j| jobs.get(&j)).map(|j| j.1.clone()),
                id: n.id,
                job_id: n.job_id,
                text: n.text,
                created_at: n.created_at.to_rfc3339(),
                read: n.read_at.is_some(),
            })
            .collect(),
    })
}

/// Marks one of the user's notifications read, or all of them when `id` is `None`.
pub async fn mark_read(
    db: &DatabaseConnection,
    user_id: i64,
    id: Option<i64>,
) -> Result<u64, AppError> {
    let mut update = notification::Entity::update_many()
        .col_expr(
            notification::Column::ReadAt,
            Expr::value(Some(chrono::Utc::now())),
        )
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null());
    if let Some(id) = id {
        update = update.filter(notification::Column::Id.eq(id));
    }
    Ok(update.exec(db).await?.rows_affected)
}
