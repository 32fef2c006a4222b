//! Back-office users (SPEC §4 Admin): create, change role, disable, reset password.

use super::audit::{self, Entry, action};
use super::email_key;
use crate::auth::{Caller, password};
use crate::entities::{back_office_user, session};
use crate::model::{AppError, NewUserPassword, Role, UserView};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

/// The role stored for a user; a value outside the known roles is an internal error.
pub fn stored_role(u: &back_office_user::Model) -> Result<Role, AppError> {
    u.role.parse::<Role>().map_err(|e| {
        tracing::error!(user_id = u.id, error = %e, "stored role is not a known role");
        AppError::Internal
    })
}

fn view_with(u: back_office_user::Model, scope: Vec<String>) -> Result<UserView, AppError> {
    let role = stored_role(&u)?;
    Ok(UserView {
        id: u.id,
        email: u.email,
        role,
        active: u.active,
        created_at: u.created_at,
        last_login_at: u.last_login_at,
        scope,
    })
}

/// User `u` as Admin → Users shows it, with the places it is limited to.
async fn view<C: ConnectionTrait>(
    db: &C,
    u: back_office_user::Model,
) -> Result<UserView, AppError> {
    let scope = super::scope::places_of(db, u.id).await?;
    view_with(u, scope)
}

/// Checks the syntax of an email address and returns it trimmed.
pub fn parse_email(email: &str) -> Result<String, AppError> {
    let email = email.trim();
    if email.is_empty() {
        return Err(AppError::Invalid("Enter an email address.".into()));
    }
    if !email_address::EmailAddress::is_valid(email) {
        return Err(AppError::Invalid(format!(
            "`{email}` is not a valid email address."
        )));
    }
    Ok(email.to_owned())
}

/// Every back-office user, by email.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<UserView>, AppError> {
    let mut places = super::scope::places_by_user(db).await?;
    back_office_user::Entity::find()
        .order_by_asc(back_office_user::Column::Email)
        .all(db)
        .await?
        .into_iter()
        .map(|u| {
            let scope = places.remove(&u.id).unwrap_or_default();
            view_with(u, scope)
        })
        .collect()
}

pub async fn find_by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<back_office_user::Model>, AppError> {
    Ok(back_office_user::Entity::find()
        .filter(Func::lower(Expr::col(back_office_user::Column::Email)).eq(email_key(email)))
        .one(db)
        .await?)
}

async fn get(db: &DatabaseConnection, id: i64) -> Result<back_office_user::Model, AppError> {
    back_office_user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no back-office user with id {id}.")))
}

/// Creates a user. Without a password, one is generated and returned (shown once).
pub async fn create(
    db: &DatabaseConnection,
    caller: &Caller,
    email: &str,
    role: Role,
    password_given: Option<String>,
) -> Result<(UserView, Option<NewUserPassword>), AppError> {
    let email = parse_email(email)?;
    if find_by_email(db, &email).await?.is_some() {
        return Err(AppError::Conflict(format!(
            "A back-office user with the email `{email}` already exists."
        )));
    }
    let password_given = password_given.filter(|p| !p.is_empty());
    if let Some(weak) = password_given.as_deref().and_then(password::weakness) {
        return Err(AppError::Invalid(weak));
    }
    let generated = password_given.is_none().then(password::generate);
    let phc = password::hash_off_thread(
        password_given
            .or_else(|| generated.clone())
            .unwrap_or_default(),
    )
    .await?;
    let txn = db.begin().await?;
    let user = back_office_user::ActiveModel {
        email: Set(email.clone()),
        password_hash: Set(phc),
        role: Set(role.as_str().to_owned()),
        active: Set(true),
        created_at: Set(chrono::Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::USER_CREATED,
            subject: Some(email.clone()),
            details: Some(format!("role {role}")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok((
        view(db, user).await?,
        generated.map(|password| NewUserPassword { email, password }),
    ))
}

/// Sets one column of a user in one statement that refuses to leave the back office without
/// an active admin when `removes_admin` (a demotion or a disabling): the user must not be an
/// active admin, or another active admin must exist. On PostgreSQL the active admins' rows
/// are locked first, so that two concurrent demotions of the last two admins cannot each count
/// the other; on SQLite the statement itself holds the database's only write lock. `false`
/// when the rule refused it.
async fn set_keeping_an_admin(
    txn: &DatabaseTransaction,
    id: i64,
    column: back_office_user::Column,
    value: sea_orm::Value,
    removes_admin: bool,
) -> Result<bool, AppError> {
    use back_office_user::Column as U;
    use sea_orm::sea_query::{Alias, Query};
    let backend = txn.get_database_backend();
    if removes_admin && backend == DbBackend::Postgres {
        // In id order, so that two such transactions never lock the rows crosswise.
        back_office_user::Entity::find()
            .filter(U::Role.eq(Role::Admin.as_str()))
            .filter(U::Active.eq(true))
            .order_by_asc(U::Id)
            .lock_exclusive()
            .all(txn)
            .await?;
    }
    let mut update = back_office_user::Entity::update_many()
        .col_expr(column, Expr::value(value))
        .filter(U::Id.eq(id));
    if removes_admin {
        let other = Alias::new("other");
        let another_admin = Query::select()
            .expr(Expr::value(1))
            .from_as(back_office_user::Entity, other.clone())
            .and_where(Expr::col((other.clone(), U::Role)).eq(Role::Admin.as_str()))
            .and_where(Expr::col((other.clone(), U::Active)).eq(true))
            .and_where(Expr::col((other, U::Id)).ne(id))
            .to_owned();
        update = update.filter(
            Condition::any()
                .add(U::Role.ne(Role::Admin.as_str()))
                .add(U::Active.eq(false))
                .add(Expr::exists(another_admin)),
        );
    }
    Ok(update.exec(txn).await?.rows_affected == 1)
}

fn last_admin(email: &str) -> AppError {
    AppError::Conflict(format!(
        "`{email}` is the last active admin; make another user an admin first."
    ))
}

/// Revokes every API token of a user that still works (a password reset or disabling ends
/// what the user's scripts could do too; a re-enabled user is issued new tokens).
async fn revoke_tokens<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, AppError> {
    use crate::entities::api_token;
    Ok(api_token::Entity::update_many()
        .col_expr(
            api_token::Column::RevokedAt,
            Expr::value(Some(chrono::Utc::now())),
        )
        .filter(api_token::Column::UserId.eq(user_id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// Ends every session of a user at once.
pub async fn end_sessions<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<u64, AppError> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn change_role(
    db: &DatabaseConnection,
    caller: &Caller,
    id: i64,
    role: Role,
) -> Result<UserView, AppError> {
    let user = get(db, id).await?;
    if user.role == role.as_str() {
        return view(db, user).await;
    }
    let previous = user.role.clone();
    let txn = db.begin().await?;
    let changed = set_keeping_an_admin(
        &txn,
        id,
        back_office_user::Column::Role,
        role.as_str().into(),
        role != Role::Admin,
    )
    .await?;
    if !changed {
        return Err(last_admin(&user.email));
    }
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::USER_ROLE_CHANGED,
            subject: Some(user.email.clone()),
            details: Some(format!("{previous} → {role}")),
        },
    )
    .await?;
    txn.commit().await?;
    view(db, get(db, id).await?).await
}

/// Disables or re-enables a user. Disabling ends all of the user's sessions immediately.
pub async fn set_active(
    db: &DatabaseConnection,
    caller: &Caller,
    id: i64,
    active_flag: bool,
) -> Result<UserView, AppError> {
    let user = get(db, id).await?;
    if user.active == active_flag {
        return view(db, user).await;
    }
    let txn = db.begin().await?;
    let changed = set_keeping_an_admin(
        &txn,
        id,
        back_office_user::Column::Active,
        active_flag.into(),
        !active_flag,
    )
    .await?;
    if !changed {
        return Err(last_admin(&user.email));
    }
    let (ended, revoked) = if active_flag {
        (0, 0)
    } else {
        (
            end_sessions(&txn, user.id).await?,
            revoke_tokens(&txn, user.id).await?,
        )
    };
    audit::record(
        &txn,
        caller,
        Entry {
            action: if active_flag {
                action::USER_ENABLED
            } else {
                action::USER_DISABLED
            },
            subject: Some(user.email.clone()),
            details: (!active_flag)
                .then(|| format!("{ended} session(s) ended, {revoked} API token(s) revoked")),
        },
    )
    .await?;
    txn.commit().await?;
    view(db, get(db, id).await?).await
}

/// Sets a new generated password, ends the user's sessions and returns the password once.
pub async fn reset_password(
    db: &DatabaseConnection,
    caller: &Caller,
    id: i64,
) -> Result<NewUserPassword, AppError> {
    let user = get(db, id).await?;
    let password = password::generate();
    let phc = password::hash_off_thread(password.clone()).await?;
    let email = user.email.clone();
    let txn = db.begin().await?;
    let mut active: back_office_user::ActiveModel = user.into();
    active.password_hash = Set(phc);
    let user = active.update(&txn).await?;
    end_sessions(&txn, user.id).await?;
    let revoked = revoke_tokens(&txn, user.id).await?;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::USER_PASSWORD_RESET,
            subject: Some(email.clone()),
            details: (revoked > 0).then(|| format!("{revoked} API token(s) revoked")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(NewUserPassword { email, password })
}

/// On an empty database, creates the first admin. Returns the generated password when
/// none was given, so the caller can print it once.
pub async fn ensure_first_admin(
    db: &DatabaseConnection,
    email: &str,
    password_given: Option<String>,
) -> Result<Option<NewUserPassword>, AppError> {
    if back_office_user::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let system = Caller::default();
    let (_, generated) = create(db, &system, email, Role::Admin, password_given).await?;
    Ok(generated)
}
