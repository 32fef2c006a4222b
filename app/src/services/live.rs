//! Live import status (SPEC §3.4): one poller per process reads the jobs that may have
//! changed from the shared database and hands every change to this process's open event
//! streams. Reading the database, rather than listening to this process's own workers,
//! is what lets a page on one instance follow a job that another instance runs.

use super::import_views;
use crate::model::{CurrentUser, JobRecord};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How far back a poll looks for finished jobs, beyond the previous poll: room for
/// clocks of several instances that disagree a little, and for commits still in flight.
const LOOK_BACK: Duration = Duration::from_secs(30);

/// Event streams one user may have open on one server process at once (a page a browser
/// tab); more are refused, so that one account cannot pile up connections.
pub const MAX_STREAMS_PER_USER: usize = 8;

/// The changes of this process's view of the import jobs.
#[derive(Debug)]
pub struct LiveJobs {
    changes: broadcast::Sender<JobRecord>,
    /// Open event streams per user.
    streams: std::sync::Mutex<HashMap<i64, usize>>,
}

impl Default for LiveJobs {
    fn default() -> Self {
        LiveJobs {
            changes: broadcast::channel(1024).0,
            streams: Default::default(),
        }
    }
}

/// One open event stream of a user; closing it (dropping this) frees its place.
#[derive(Debug)]
pub struct StreamPlace {
    live: Arc<LiveJobs>,
    user_id: i64,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut streams = self.live.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = streams.get_mut(&self.user_id) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                streams.remove(&self.user_id);
            }
        }
    }
}

impl LiveJobs {
    /// A place for one more event stream of `user_id`, or `None` when the user already has
    /// [`MAX_STREAMS_PER_USER`] open.
    pub fn open_stream(self: &Arc<Self>, user_id: i64) -> Option<StreamPlace> {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let open = streams.entry(user_id).or_default();
        if *open >= MAX_STREAMS_PER_USER {
            return None;
        }
        *open += 1;
        Some(StreamPlace {
            live: Arc::clone(self),
            user_id,
        })
    }

    /// A stream of every job change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobRecord> {
        self.changes.subscribe()
    }

    /// Polls every `every` while anybody listens, until the process ends.
    pub fn start(self: &Arc<Self>, db: DatabaseConnection, every: Duration) {
        let live = Arc::clone(self);
        tokio::spawn(async move {
            let mut last: HashMap<i64, JobRecord> = HashMap::new();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if live.changes.receiver_count() == 0 {
                    continue;
                }
                let since = chrono::Utc::now()
                    - chrono::Duration::from_std(LOOK_BACK + every).unwrap_or_default();
                match import_views::recently_active(&db, since).await {
                    Ok(jobs) => live.publish(&mut last, jobs),
                    Err(e) => tracing::warn!(error = %e, "could not read import status"),
                }
            }
        });
    }

    /// Sends the jobs that differ from what was sent before, and forgets the ones that
    /// have gone quiet.
    fn publish(&self, last: &mut HashMap<i64, JobRecord>, jobs: Vec<JobRecord>) {
        let mut seen = HashMap::with_capacity(jobs.len());
        for job in jobs {
            if last.get(&job.id) != Some(&job) {
                // Nobody listening is not an error: the next subscriber starts fresh.
                let _ = self.changes.send(job.clone());
            }
            seen.insert(job.id, job);
        }
        *last = seen;
    }
}

/// Whether `user` may follow `job`: operators follow their own imports, others all.
pub fn may_follow(user: &CurrentUser, job: &JobRecord) -> bool {
    crate::model::policy::may_see_job(user, job.initiated_by.id)
}

/// What an event stream was opened with: it stops when that no longer signs its user in.
#[derive(Clone, Debug)]
pub enum StreamCredential {
    /// The id of the browser's session (a sign-out deletes it).
    Session(String),
    /// An API token (revoked, expired, or its owner disabled: it stops working).
    Token(String),
}

impl StreamCredential {
    /// Whether the credential still signs its user in, as far as the stream is concerned.
    pub async fn holds(&self, db: &DatabaseConnection) -> Result<bool, crate::model::AppError> {
        use sea_orm::EntityTrait;
        Ok(match self {
            StreamCredential::Session(id) => {
                crate::entities::session::Entity::find_by_id(id.clone())
                    .one(db)
                    .await?
                    .is_some()
            }
            StreamCredential::Token(secret) => {
                super::tokens::authenticate(db, secret).await?.is_some()
            }
        })
    }
}
