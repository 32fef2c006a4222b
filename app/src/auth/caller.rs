use crate::entities::back_office_user;
use crate::model::{AppError, CurrentUser};
use crate::state::Settings;
use sea_orm::{DatabaseConnection, EntityTrait};
use tower_sessions::Session;

/// Who made a request: the signed-in user, if any, and the address it came from.
/// Resolved once per request by the server's middleware and read by every handler.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub user: Option<CurrentUser>,
    pub remote_addr: Option<String>,
}

/// The keys this application keeps in a session.
pub struct SessionKeys;

impl SessionKeys {
    pub const USER_ID: &'static str = super::session_store::USER_ID_KEY;
    /// Unix seconds of the sign-in, for the absolute timeout.
    pub const SIGNED_IN_AT: &'static str = "signed_in_at";
    /// Unix seconds of the last request seen, for the idle timeout.
    pub const SEEN_AT: &'static str = "seen_at";
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Starts a signed-in session for `user_id` under a new session id (SPEC §8: no fixation).
pub async fn start_session(session: &Session, user_id: i64) -> Result<(), AppError> {
    let now = now_secs();
    session.cycle_id().await.map_err(internal)?;
    session
        .insert(SessionKeys::USER_ID, user_id)
        .await
        .map_err(internal)?;
    session
        .insert(SessionKeys::SIGNED_IN_AT, now)
        .await
        .map_err(internal)?;
    session
        .insert(SessionKeys::SEEN_AT, now)
        .await
        .map_err(internal)?;
    Ok(())
}

fn internal(e: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %e, "session store failed");
    AppError::Internal
}

/// The signed-in user of this session, or `None` when nobody is signed in, the session
/// has been idle or alive too long, or the user was disabled or deleted. An ended session
/// is removed from the store at once.
pub async fn resolve_session_user(
    session: &Session,
    db: &DatabaseConnection,
    settings: &Settings,
) -> Result<Option<CurrentUser>, AppError> {
    let Some(user_id) = session
        .get::<i64>(SessionKeys::USER_ID)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    let now = now_secs();
    let signed_in_at = session
        .get::<i64>(SessionKeys::SIGNED_IN_AT)
        .await
        .map_err(internal)?
        .unwrap_or(0);
    let seen_at = session
        .get::<i64>(SessionKeys::SEEN_AT)
        .await
        .map_err(internal)?
        .unwrap_or(0);
    let too_old = now - signed_in_at > settings.session_absolute.as_secs() as i64;
    let idle = now - seen_at > settings.session_idle.as_secs() as i64;
    if too_old || idle {
        session.flush().await.map_err(internal)?;
        return Ok(None);
    }
    let user = back_office_user::Entity::find_by_id(user_id)
        .one(db)
        .await?;
    let Some(user) = user.filter(|u| u.active) else {
        session.flush().await.map_err(internal)?;
        return Ok(None);
    };
    // Touch the session at most every few seconds: each touch is a database write, and
    // it also slides the cookie's expiry forward.
    if now - seen_at >= settings.session_touch_interval().as_secs() as i64 {
        session
            .insert(SessionKeys::SEEN_AT, now)
            .await
            .map_err(internal)?;
    }
    Ok(Some(crate::services::scope::current_user(db, user).await?))
}
