//! The projects and desks a back-office user is limited to (SPEC §2, §8): resolved to the
//! desks the user sees, exports and imports into on every request, and set by admins.
//!
//! A scope is a set of places, each a whole project (`p:ID`, desks added to it later
//! included) or one desk (`d:ID`). No place at all means no limit. Admins are never limited.

use super::audit::{self, Entry, action};
use crate::auth::Caller;
use crate::entities::{back_office_user, client, desk, project, user_scope};
use crate::model::{AppError, CurrentUser, Desks, Role};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use std::collections::HashMap;

/// The user `u` as a request sees it: role and desks.
pub async fn current_user<C: ConnectionTrait>(
    db: &C,
    u: back_office_user::Model,
) -> Result<CurrentUser, AppError> {
    let role = super::users::stored_role(&u)?;
    Ok(CurrentUser {
        desks: desks_of(db, u.id, role).await?,
        id: u.id,
        email: u.email,
        role,
    })
}

/// User `user_id` as a request would see them now; `None` when disabled or gone.
pub async fn standing(
    db: &DatabaseConnection,
    user_id: i64,
) -> Result<Option<CurrentUser>, AppError> {
    match back_office_user::Entity::find_by_id(user_id)
        .one(db)
        .await?
    {
        Some(u) if u.active => Ok(Some(current_user(db, u).await?)),
        _ => Ok(None),
    }
}

/// The desks user `user_id` with `role` is limited to.
pub async fn desks_of<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    role: Role,
) -> Result<Desks, sea_orm::DbErr> {
    if role == Role::Admin {
        return Ok(Desks::All);
    }
    let places = user_scope::Entity::find()
        .filter(user_scope::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    if places.is_empty() {
        return Ok(Desks::All);
    }
    let (whole, single): (Vec<_>, Vec<_>) = places.into_iter().partition(|p| p.desk_id.is_none());
    let mut desks: Vec<i64> = desk::Entity::find()
        .filter(
            Condition::any()
                .add(desk::Column::ProjectId.is_in(whole.iter().map(|p| p.project_id)))
                .add(desk::Column::Id.is_in(single.iter().filter_map(|p| p.desk_id))),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    desks.sort_unstable();
    Ok(Desks::Only(desks))
}

/// The clients on `desks` (no condition when every desk is).
pub fn on_desks(desks: &Desks) -> Condition {
    match desks {
        Desks::All => Condition::all(),
        Desks::Only(ids) => Condition::all().add(client::Column::DeskId.is_in(ids.iter().copied())),
    }
}

/// Rows whose `column` names a client on `desks` (no condition when every desk is).
pub fn of_clients_within(column: impl ColumnTrait, desks: &Desks) -> Condition {
    match desks {
        Desks::All => Condition::all(),
        Desks::Only(_) => Condition::all().add(
            column.in_subquery(
                Query::select()
                    .column(client::Column::Id)
                    .from(client::Entity)
                    .cond_where(on_desks(desks))
                    .to_owned(),
            ),
        ),
    }
}

/// Every user's places (`p:ID`, `d:ID`), for Admin → Users.
pub async fn places_by_user(
    db: &DatabaseConnection,
) -> Result<HashMap<i64, Vec<String>>, AppError> {
    let mut by_user: HashMap<i64, Vec<String>> = HashMap::new();
    for p in user_scope::Entity::find()
        .order_by_asc(user_scope::Column::Id)
        .all(db)
        .await?
    {
        by_user.entry(p.user_id).or_default().push(key(&p));
    }
    Ok(by_user)
}

/// The places (`p:ID`, `d:ID`) user `user_id` is limited to.
pub async fn places_of<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<String>, AppError> {
    Ok(user_scope::Entity::find()
        .filter(user_scope::Column::UserId.eq(user_id))
        .order_by_asc(user_scope::Column::Id)
        .all(db)
        .await?
        .iter()
        .map(key)
        .collect())
}

fn key(p: &user_scope::Model) -> String {
    match p.desk_id {
        Some(d) => format!("d:{d}"),
        None => format!("p:{}", p.project_id),
    }
}

/// A place of a scope as a form sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Project(i64),
    Desk(i64),
}

fn parse_place(key: &str) -> Result<Place, AppError> {
    let bad = || AppError::Invalid(format!("`{key}` is not a project or a desk."));
    let (kind, id) = key.split_once(':').ok_or_else(bad)?;
    let id = id.parse::<i64>().map_err(|_| bad())?;
    match kind {
        "p" => Ok(Place::Project(id)),
        "d" => Ok(Place::Desk(id)),
        _ => Err(bad()),
    }
}

/// Limits user `user_id` to `places` (`p:ID` for a whole project, `d:ID` for a desk); no
/// place removes the limit. Admins cannot be limited. Takes effect on the user's next
/// request, and is audited.
pub async fn set(
    db: &DatabaseConnection,
    caller: &Caller,
    user_id: i64,
    places: &[String],
) -> Result<Vec<String>, AppError> {
    let user = back_office_user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!("There is no back-office user with id {user_id}."))
        })?;
    if !places.is_empty() && super::users::stored_role(&user)? == Role::Admin {
        return Err(AppError::Invalid(format!(
            "`{}` is an admin, and admins see every desk: change the role first.",
            user.email
        )));
    }
    let mut parsed = Vec::new();
    for key in places {
        let place = parse_place(key.trim())?;
        if !parsed.contains(&place) {
            parsed.push(place);
        }
    }
    let projects: HashMap<i64, String> = project::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let desks: HashMap<i64, desk::Model> = desk::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for place in &parsed {
        let (project_id, desk_id) = match *place {
            Place::Project(id) => (id, None),
            Place::Desk(id) => (
                desks
                    .get(&id)
                    .map(|d| d.project_id)
                    .ok_or_else(|| AppError::NotFound(format!("There is no desk with ID {id}.")))?,
                Some(id),
            ),
        };
        let project = projects.get(&project_id).ok_or_else(|| {
            AppError::NotFound(format!("There is no project with ID {project_id}."))
        })?;
        labels.push(match desk_id.and_then(|d| desks.get(&d)) {
            Some(d) => format!("{project} / {}", d.name),
            None => project.clone(),
        });
        rows.push(user_scope::ActiveModel {
            user_id: Set(user_id),
            project_id: Set(project_id),
            desk_id: Set(desk_id),
            ..Default::default()
        });
    }
    let txn = db.begin().await?;
    user_scope::Entity::delete_many()
        .filter(user_scope::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    if !rows.is_empty() {
        user_scope::Entity::insert_many(rows).exec(&txn).await?;
    }
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::USER_SCOPE_CHANGED,
            subject: Some(user.email.clone()),
            details: Some(if labels.is_empty() {
                "every desk".to_owned()
            } else {
                labels.join(", ")
            }),
        },
    )
    .await?;
    txn.commit().await?;
    places_of(db, user_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_a_project_or_a_desk_by_id() {
        assert_eq!(parse_place("p:3").ok(), Some(Place::Project(3)));
        assert_eq!(parse_place("d:12").ok(), Some(Place::Desk(12)));
        for bad in ["", "p", "p:", "x:1", "d:one", "3"] {
            assert!(
                matches!(parse_place(bad), Err(AppError::Invalid(m)) if m.contains(bad)),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_limited_user_is_allowed_only_their_desks() {
        assert!(Desks::All.allows(7));
        assert!(Desks::Only(vec![1, 7]).allows(7));
        assert!(!Desks::Only(vec![1, 2]).allows(7));
        assert!(!Desks::Only(vec![]).allows(1));
        assert!(Desks::Only(vec![]).is_limited() && !Desks::All.is_limited());
    }
}
