//! Checking credentials (SPEC §8): one generic answer and similar time whether the email
//! is unknown or the password wrong, and growing delays for repeated failures per account.

use super::audit::{self, Entry, action};
use super::email_key;
use crate::auth::throttle::{Limit, SignInThrottle, Ticket};
use crate::auth::{Caller, password};
use crate::entities::{audit_event, back_office_user};
use crate::model::{AppError, CurrentUser};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use std::time::Duration;

/// Failures for one email within this window count towards its delay.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures allowed before the delay starts.
pub const FREE_FAILURES: u64 = 3;
/// The longest delay added to one attempt.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// How long an attempt waits after `failures` recent failures for the same email:
/// nothing for the first few, then 1 s, 2 s, 4 s … up to [`MAX_DELAY`].
pub fn delay_after(failures: u64) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = std::cmp::min(failures - FREE_FAILURES, 16) as u32;
    Duration::from_secs(1u64 << exp).min(MAX_DELAY)
}

/// Recent failed attempts for this email since its last successful sign-in.
async fn recent_failures(db: &DatabaseConnection, key: &str) -> Result<u64, AppError> {
    let since = chrono::Utc::now() - FAILURE_WINDOW;
    let last_success = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action::SIGN_IN_SUCCEEDED))
        .filter(audit_event::Column::Subject.eq(key))
        .filter(audit_event::Column::At.gt(since))
        .order_by_desc(audit_event::Column::At)
        .one(db)
        .await?;
    let since = last_success.map(|e| e.at).unwrap_or(since);
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action::SIGN_IN_FAILED))
        .filter(audit_event::Column::Subject.eq(key))
        .filter(audit_event::Column::At.gt(since))
        .count(db)
        .await?)
}

/// The longest email a sign-in looks at (RFC 5321's longest address); a longer one is
/// refused before any work.
pub const MAX_EMAIL_LENGTH: usize = 254;
/// The longest password a sign-in hashes.
pub const MAX_PASSWORD_LENGTH: usize = 1024;

/// Takes the attempt from the address's and the account's allowances, or refuses it with 429;
/// the first refusal of a burst is written to the audit log.
async fn admit<'a>(
    db: &DatabaseConnection,
    throttle: &'a SignInThrottle,
    caller: &Caller,
    key: &str,
) -> Result<Ticket<'a>, AppError> {
    let refusal = match throttle.admit(caller.remote_addr.as_deref(), key) {
        Ok(ticket) => return Ok(ticket),
        Err(refusal) => refusal,
    };
    if refusal.first_of_burst {
        let (subject, by) = match refusal.limit {
            Limit::Address => (
                caller
                    .remote_addr
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
                "this address",
            ),
            Limit::Account => (key.to_owned(), "this account"),
        };
        audit::record_best_effort(
            db,
            caller,
            Entry {
                action: action::SIGN_IN_THROTTLED,
                subject: Some(subject),
                details: Some(format!(
                    "too many sign-in attempts for {by}; further ones refused for {} s",
                    refusal.retry_after
                )),
            },
        )
        .await;
    }
    Err(AppError::TooManyRequests {
        message: format!(
            "Too many sign-in attempts. Please wait {} and try again.",
            wait_text(refusal.retry_after)
        ),
        retry_after: refusal.retry_after,
    })
}

fn wait_text(secs: u64) -> String {
    match secs {
        0..=1 => "a second".into(),
        2..=59 => format!("{secs} seconds"),
        60..=119 => "a minute".into(),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

/// A password check that failed, in the audit log under the email tried: what the
/// per-account slow-down counts.
async fn record_failure(
    db: &DatabaseConnection,
    caller: &Caller,
    key: String,
    reason: &str,
) -> Result<(), AppError> {
    audit::record(
        db,
        caller,
        Entry {
            action: action::SIGN_IN_FAILED,
            subject: Some(key),
            details: Some(reason.to_owned()),
        },
    )
    .await?;
    Ok(())
}

/// Checks an email and password. On success the user's last sign-in time is updated; every
/// attempt that is let through to the password check is written to the audit log with the
/// email tried as its subject (refusals by the limits once a burst).
pub async fn attempt(
    db: &DatabaseConnection,
    throttle: &SignInThrottle,
    caller: &Caller,
    email: &str,
    password_given: &str,
) -> Result<CurrentUser, AppError> {
    if email.len() > MAX_EMAIL_LENGTH || password_given.len() > MAX_PASSWORD_LENGTH {
        return Err(AppError::InvalidCredentials);
    }
    let key = email_key(email);
    let ticket = admit(db, throttle, caller, &key).await?;
    let delay = delay_after(recent_failures(db, &key).await?);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let user = back_office_user::Entity::find()
        .filter(Func::lower(Expr::col(back_office_user::Column::Email)).eq(key.clone()))
        .one(db)
        .await?;

    let matches = password::verify_off_thread(
        password_given.to_owned(),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;

    let refusal = match &user {
        None => Some("unknown email"),
        Some(_) if !matches => Some("wrong password"),
        Some(u) if !u.active => Some("user is disabled"),
        Some(_) => None,
    };
    if let Some(reason) = refusal {
        record_failure(db, caller, key, reason).await?;
        return Err(AppError::InvalidCredentials);
    }
    let Some(user) = user else {
        return Err(AppError::InvalidCredentials);
    };
    ticket.succeeded();
    let mut active: back_office_user::ActiveModel = user.clone().into();
    active.last_login_at = Set(Some(chrono::Utc::now()));
    active.update(db).await?;

    let signed_in = super::scope::current_user(db, user).await?;
    let as_user = Caller {
        user: Some(signed_in.clone()),
        remote_addr: caller.remote_addr.clone(),
    };
    audit::record(
        db,
        &as_user,
        Entry {
            action: action::SIGN_IN_SUCCEEDED,
            subject: Some(key),
            details: None,
        },
    )
    .await?;
    Ok(signed_in)
}

/// A signed-in user changes their own password. The current password is checked as a
/// sign-in checks one (the same per-account allowance and audit entries, so the form cannot
/// be used to guess it), the new one must not be weak, and every other session of the user
/// ends; `keep_session` is the one the change was made from.
pub async fn change_password(
    db: &DatabaseConnection,
    throttle: &SignInThrottle,
    caller: &Caller,
    keep_session: &str,
    current: &str,
    new: &str,
) -> Result<u64, AppError> {
    use crate::entities::session;
    use sea_orm::TransactionTrait;
    let Some(me) = caller.user.as_ref() else {
        return Err(AppError::Unauthorized);
    };
    if new.len() > MAX_PASSWORD_LENGTH {
        return Err(AppError::Invalid(format!(
            "The new password is longer than {MAX_PASSWORD_LENGTH} characters."
        )));
    }
    if let Some(weak) = password::weakness(new) {
        return Err(AppError::Invalid(weak));
    }
    if new == current {
        return Err(AppError::Invalid(
            "The new password is the same as the current one.".into(),
        ));
    }
    let key = email_key(&me.email);
    let ticket = admit(db, throttle, caller, &key).await?;
    let user = back_office_user::Entity::find_by_id(me.id)
        .one(db)
        .await?
        .filter(|u| u.active)
        .ok_or(AppError::Unauthorized)?;
    let matches = current.len() <= MAX_PASSWORD_LENGTH
        && password::verify_off_thread(current.to_owned(), Some(user.password_hash.clone()))
            .await?;
    if !matches {
        record_failure(db, caller, key, "wrong current password when changing it").await?;
        return Err(AppError::Invalid(
            "The current password is not right.".into(),
        ));
    }
    ticket.succeeded();
    let phc = password::hash_off_thread(new.to_owned()).await?;
    let txn = db.begin().await?;
    let mut active: back_office_user::ActiveModel = user.into();
    active.password_hash = Set(phc);
    active.update(&txn).await?;
    let ended = session::Entity::delete_many()
        .filter(session::Column::UserId.eq(me.id))
        .filter(session::Column::Id.ne(keep_session))
        .exec(&txn)
        .await?
        .rows_affected;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::USER_PASSWORD_CHANGED,
            subject: Some(me.email.clone()),
            details: Some(format!("{ended} other session(s) ended")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures_and_are_capped() {
        assert_eq!(delay_after(0), Duration::ZERO);
        assert_eq!(delay_after(FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(delay_after(FREE_FAILURES), Duration::from_secs(1));
        assert_eq!(delay_after(FREE_FAILURES + 1), Duration::from_secs(2));
        assert_eq!(delay_after(FREE_FAILURES + 3), Duration::from_secs(8));
        assert_eq!(delay_after(1_000), MAX_DELAY);
    }

    #[test]
    fn waits_are_told_in_words() {
        assert_eq!(wait_text(1), "a second");
        assert_eq!(wait_text(45), "45 seconds");
        assert_eq!(wait_text(60), "a minute");
        assert_eq!(wait_text(121), "3 minutes");
    }
}
