//! The server process: configuration, database, HTTP router and the command line.

// Leptos views nest deeply in their types.
#![recursion_limit = "256"]

pub mod access;
pub mod api;
pub mod config;
pub mod db;
pub mod serve;
pub mod sqlite_fold;
pub mod web;

use app::state::{AppContext, Settings};
use config::Config;
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    App(#[from] app::model::AppError),
}

/// Connects to the database and applies pending migrations.
pub async fn open_database(config: &Config) -> Result<DatabaseConnection, StartupError> {
    let db = db::connect(&config.database_url).await?;
    db::migrate(&db).await?;
    Ok(db)
}

/// A server instance, bound to its address and ready to run.
pub struct Application {
    pub db: DatabaseConnection,
    listener: TcpListener,
    router: axum::Router,
    ctx: AppContext,
    import_workers: usize,
    header_timeout: Duration,
}

impl Application {
    /// Opens the database (migrating it), creates the first admin on an empty database,
    /// and binds the listening socket (port 0 picks a free port).
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let db = open_database(&config).await?;
        if let Some(generated) = app::services::users::ensure_first_admin(
            &db,
            &config.admin_email,
            config.admin_password.clone(),
        )
        .await?
        {
            println!(
                "\n  First admin created: {}\n  Password (shown only once): {}\n",
                generated.email, generated.password
            );
        }
        let addr = config.site_addr();
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Listen { addr, source })?;
        let settings = Settings {
            session_idle: config.session_idle,
            session_absolute: config.session_absolute,
            import_limits: config.import_limits,
            import_stale_after: config.import_stale_after,
            import_bulk_min_rows: config.import_bulk_min_rows,
            sign_in_limits: config.sign_in_limits,
            request_timeout: config.request_timeout,
            revert_wait: config.revert_wait,
        };
        let mut leptos_options = config.leptos.clone();
        if let Ok(bound) = listener.local_addr() {
            leptos_options.site_addr = bound;
        }
        let ctx = AppContext {
            db: db.clone(),
            settings: Arc::new(settings),
            import_queue: Arc::new(tokio::sync::Notify::new()),
            live: Arc::default(),
            sign_in: Arc::new(app::auth::throttle::SignInThrottle::new(
                config.sign_in_limits,
            )),
            anonymous_refusals: Arc::default(),
        };
        let state = web::AppState {
            leptos_options,
            ctx: ctx.clone(),
        };
        let router = web::router(state, config.cookie_secure);
        Ok(Self {
            db,
            listener,
            router,
            ctx,
            import_workers: config.import_workers,
            header_timeout: config.header_timeout,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Starts the import workers and serves until the process receives Ctrl-C or SIGTERM.
    pub async fn run(self) -> std::io::Result<()> {
        app::jobs::workers::start(
            self.db.clone(),
            self.ctx.settings.clone(),
            self.ctx.import_queue.clone(),
            self.import_workers,
        )
        .await
        .map_err(std::io::Error::other)?;
        self.ctx
            .live
            .start(self.db.clone(), Duration::from_millis(500));
        let store = app::auth::session_store::DbSessionStore::new(self.db.clone());
        let throttle = self.ctx.sign_in.clone();
        let anonymous_refusals = self.ctx.anonymous_refusals.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                throttle.forget_idle();
                anonymous_refusals.forget_idle();
            }
        });
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                if let Err(e) = store.delete_expired().await {
                    tracing::warn!(error = %e, "could not delete expired sessions");
                }
            }
        });
        serve::serve(
            self.listener,
            self.router,
            self.header_timeout,
            shutdown_signal(),
        )
        .await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
