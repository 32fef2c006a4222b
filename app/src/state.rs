//! What every request handler and server function on the server shares.

use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;

/// Run-time settings that the application layer needs (the process reads them from the
/// environment; see the server crate's `config`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub session_absolute: Duration,
    /// The largest file an import accepts.
    pub import_limits: crate::import::prepare::Limits,
    /// A running import whose worker is silent this long is taken over.
    pub import_stale_after: Duration,
    /// A client file this large (and at least twice as large as the table) loads in bulk mode.
    pub import_bulk_min_rows: u64,
    /// Sign-in attempts allowed per address and per account.
    pub sign_in_limits: crate::auth::throttle::SignInLimits,
    /// The longest a request may take (`REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// How long a request to revert an import waits for it before answering that it goes on.
    pub revert_wait: Duration,
}

impl Settings {
    /// How often a busy session's last-seen time is written back.
    pub fn session_touch_interval(&self) -> Duration {
        (self.session_idle / 8).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// How often a running import says it is alive.
    pub fn import_heartbeat_interval(&self) -> Duration {
        (self.import_stale_after / 4).max(Duration::from_millis(250))
    }

    /// How a worker of this process runs a job.
    pub fn import_run(&self) -> crate::jobs::RunOptions {
        crate::jobs::RunOptions {
            heartbeat_every: self.import_heartbeat_interval(),
            bulk_min_rows: self.import_bulk_min_rows,
            stale_after: self.import_stale_after,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 60 * 60),
            import_limits: crate::import::prepare::Limits::default(),
            import_stale_after: Duration::from_secs(30),
            import_bulk_min_rows: crate::jobs::bulk::BULK_MIN_ROWS,
            sign_in_limits: Default::default(),
            request_timeout: Duration::from_secs(30),
            revert_wait: Duration::from_secs(15),
        }
    }
}

/// The database and settings, provided to server functions as Leptos context.
#[derive(Clone, Debug)]
pub struct AppContext {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    /// Wakes this process's import workers when a job is queued or confirmed.
    pub import_queue: Arc<tokio::sync::Notify>,
    /// Changes of import jobs, for the pages that show them live.
    pub live: Arc<crate::services::live::LiveJobs>,
    /// This process's sign-in limits.
    pub sign_in: Arc<crate::auth::throttle::SignInThrottle>,
    /// This process's allowance of audit entries for anonymous refusals.
    pub anonymous_refusals: Arc<crate::services::audit::AnonymousRefusals>,
}
