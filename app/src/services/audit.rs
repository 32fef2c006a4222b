//! The audit log (SPEC §2 `audit_event`): who did what, to what, from where.

use crate::auth::Caller;
use crate::entities::audit_event;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

/// The actions written to the audit log.
pub mod action {
    pub const SIGN_IN_SUCCEEDED: &str = "sign_in.succeeded";
    pub const SIGN_IN_FAILED: &str = "sign_in.failed";
    pub const SIGN_IN_THROTTLED: &str = "sign_in.throttled";
    pub const SIGN_OUT: &str = "sign_out";
    pub const FORBIDDEN: &str = "access.forbidden";
    pub const CROSS_SITE_REFUSED: &str = "access.cross_site_refused";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_ROLE_CHANGED: &str = "user.role_changed";
    pub const USER_DISABLED: &str = "user.disabled";
    pub const USER_ENABLED: &str = "user.enabled";
    pub const USER_PASSWORD_RESET: &str = "user.password_reset";
    pub const USER_PASSWORD_CHANGED: &str = "user.password_changed";
    pub const USER_SCOPE_CHANGED: &str = "user.scope_changed";
    pub const TOKEN_CREATED: &str = "api_token.created";
    pub const IMPORT_CREATED: &str = "import.created";
    pub const IMPORT_MAPPED: &str = "import.mapped";
    pub const IMPORT_CORRECTED: &str = "import.corrected";
    pub const IMPORT_CONFIRMED: &str = "import.confirmed";
    pub const IMPORT_DISCARDED: &str = "import.discarded";
    pub const IMPORT_REVERTED: &str = "import.reverted";
    pub const PROGRAM_CREATED: &str = "ib_program.created";
    pub const PROGRAM_RENAMED: &str = "ib_program.renamed";
    pub const PROJECT_CREATED: &str = "project.created";
    pub const DESK_CREATED: &str = "desk.created";
    pub const TOKEN_REVOKED: &str = "api_token.revoked";

    /// Every action, for the audit log's filter.
    pub const ALL: [&str; 25] = [
        SIGN_IN_SUCCEEDED,
        SIGN_IN_FAILED,
        SIGN_IN_THROTTLED,
        SIGN_OUT,
        FORBIDDEN,
        CROSS_SITE_REFUSED,
        USER_CREATED,
        USER_ROLE_CHANGED,
        USER_DISABLED,
        USER_ENABLED,
        USER_PASSWORD_RESET,
        USER_PASSWORD_CHANGED,
        USER_SCOPE_CHANGED,
        TOKEN_CREATED,
        TOKEN_REVOKED,
        IMPORT_CREATED,
        IMPORT_MAPPED,
        IMPORT_CORRECTED,
        IMPORT_CONFIRMED,
        IMPORT_DISCARDED,
        IMPORT_REVERTED,
        PROGRAM_CREATED,
        PROGRAM_RENAMED,
        PROJECT_CREATED,
        DESK_CREATED,
    ];
}

/// One entry of the audit log, before it is written.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub subject: Option<String>,
    pub details: Option<String>,
}

/// Writes an entry attributed to `caller`.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    entry: Entry<'_>,
) -> Result<(), DbErr> {
    audit_event::ActiveModel {
        at: Set(chrono::Utc::now()),
        actor_id: Set(caller.user.as_ref().map(|u| u.id)),
        actor_email: Set(caller.user.as_ref().map(|u| u.email.clone())),
        action: Set(entry.action.to_owned()),
        subject: Set(entry.subject),
        details: Set(entry.details),
        remote_addr: Set(caller.remote_addr.clone()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Writes an entry, logging rather than failing when the write itself fails: used on
/// paths (a refused request) whose answer must not change because the log is down.
pub async fn record_best_effort<C: ConnectionTrait>(db: &C, caller: &Caller, entry: Entry<'_>) {
    let action = entry.action;
    if let Err(e) = record(db, caller, entry).await {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
}

/// Entries for refusals of requests nobody is signed in for (a cross-site post): at most this
/// many a minute per remote address, so that an anonymous flood cannot grow the log without
/// bound. The requests are refused all the same; only their entries are skipped.
pub const ANONYMOUS_REFUSALS_PER_MINUTE: u32 = 20;

/// This process's allowance of anonymous refusal entries, per address.
pub struct AnonymousRefusals(governor::DefaultKeyedRateLimiter<String>);

impl Default for AnonymousRefusals {
    fn default() -> Self {
        let per_minute = std::num::NonZeroU32::new(ANONYMOUS_REFUSALS_PER_MINUTE)
            .unwrap_or(std::num::NonZeroU32::MIN);
        Self(governor::RateLimiter::keyed(governor::Quota::per_minute(
            per_minute,
        )))
    }
}

impl std::fmt::Debug for AnonymousRefusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnonymousRefusals")
            .field("addresses", &self.0.len())
            .finish()
    }
}

impl AnonymousRefusals {
    /// Drops the state of addresses whose allowance is whole again.
    pub fn forget_idle(&self) {
        self.0.retain_recent();
        self.0.shrink_to_fit();
    }
}

/// [`record_best_effort`] for the refusal of a request: an anonymous caller's entries are
/// written within [`ANONYMOUS_REFUSALS_PER_MINUTE`] per address; a signed-in caller's always.
pub async fn record_refusal<C: ConnectionTrait>(
    db: &C,
    allowance: &AnonymousRefusals,
    caller: &Caller,
    entry: Entry<'_>,
) {
    if caller.user.is_none() {
        let address = caller.remote_addr.clone().unwrap_or_default();
        if allowance.0.check_key(&address).is_err() {
            tracing::debug!(
                address,
                action = entry.action,
                "refusal not audited: over the allowance"
            );
            return;
        }
    }
    record_best_effort(db, caller, entry).await;
}
