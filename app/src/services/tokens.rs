//! API tokens (SPEC §2 `api_token`, §5): a script acts as the token's owner, with the
//! owner's role. Only the SHA-256 of a token is stored; the token is shown once.

use super::audit::{self, Entry, action};
use crate::auth::Caller;
use crate::entities::{api_token, back_office_user};
use crate::model::{AppError, CurrentUser, TokenView};
use rand::RngCore;
use sea_orm::TransactionTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use sha2::{Digest, Sha256};

/// Every token starts with this, so a leaked one is recognisable in logs and scanners.
pub const PREFIX: &str = "crm_";

/// The stored form of a token.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// A new token, and the token itself (to be shown once).
pub struct IssuedToken {
    pub token: api_token::Model,
    pub secret: String,
}

/// The longest a token can be issued for.
pub const MAX_DAYS: u32 = 3650;

/// Issues a token named `name` for the user with `owner_email`, valid for `days` days or,
/// without them, until it is revoked.
pub async fn create(
    db: &DatabaseConnection,
    caller: &Caller,
    owner_email: &str,
    name: &str,
    days: Option<u32>,
) -> Result<IssuedToken, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Invalid(
            "Give the token a name that says what uses it.".into(),
        ));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AppError::Invalid(
            "A token's name is one line of at most 200 characters.".into(),
        ));
    }
    if days.is_some_and(|d| !(1..=MAX_DAYS).contains(&d)) {
        return Err(AppError::Invalid(format!(
            "A token is valid for 1 to {MAX_DAYS} days, or until it is revoked."
        )));
    }
    let now = chrono::Utc::now();
    let expires_at = days.map(|d| now + chrono::Duration::days(i64::from(d)));
    let owner = super::users::find_by_email(db, owner_email)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "There is no back-office user `{}`.",
                owner_email.trim()
            ))
        })?;
    let secret = generate();
    let txn = db.begin().await?;
    let token = api_token::ActiveModel {
        user_id: Set(owner.id),
        name: Set(name.to_owned()),
        token_hash: Set(digest(&secret)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::TOKEN_CREATED,
            subject: Some(owner.email),
            details: Some(match expires_at {
                Some(end) => format!("{name}, valid until {}", end.format("%Y-%m-%d %H:%M UTC")),
                None => name.to_owned(),
            }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(IssuedToken { token, secret })
}

/// Every token, newest first, with its owner.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<TokenView>, AppError> {
    use sea_orm::QueryOrder;
    Ok(api_token::Entity::find()
        .find_also_related(back_office_user::Entity)
        .order_by_desc(api_token::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|(t, owner)| TokenView {
            id: t.id,
            name: t.name,
            owner_email: owner.map(|o| o.email).unwrap_or_default(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            expires_at: t.expires_at,
        })
        .collect())
}

/// Revokes a token: it stops working at once.
pub async fn revoke(db: &DatabaseConnection, caller: &Caller, id: i64) -> Result<(), AppError> {
    let token = api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no API token with id {id}.")))?;
    if token.revoked_at.is_some() {
        return Ok(());
    }
    let name = token.name.clone();
    let mut active: api_token::ActiveModel = token.into();
    active.revoked_at = Set(Some(chrono::Utc::now()));
    let txn = db.begin().await?;
    active.update(&txn).await?;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::TOKEN_REVOKED,
            subject: Some(name),
            details: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The user a bearer token acts as: `None` for an unknown, revoked or expired token, or a
/// disabled owner. Marks the token as used (at most once a minute).
pub async fn authenticate(
    db: &DatabaseConnection,
    secret: &str,
) -> Result<Option<CurrentUser>, AppError> {
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    let Some((token, Some(owner))) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(digest(secret)))
        .filter(api_token::Column::RevokedAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(api_token::Column::ExpiresAt.is_null())
                .add(api_token::Column::ExpiresAt.gt(chrono::Utc::now())),
        )
        .find_also_related(back_office_user::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if !owner.active {
        return Ok(None);
    }
    let now = chrono::Utc::now();
    if token
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::seconds(60))
    {
        let mut active: api_token::ActiveModel = token.into();
        active.last_used_at = Set(Some(now));
        active.update(db).await?;
    }
    Ok(Some(super::scope::current_user(db, owner).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_only_as_a_digest() {
        let a = generate();
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 64);
        assert_ne!(a, generate());
        let d = digest(&a);
        assert_eq!(d.len(), 64);
        assert!(!d.contains(&a[PREFIX.len()..]));
        assert_eq!(digest("crm_x"), digest("crm_x"));
    }
}
