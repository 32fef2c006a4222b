//! Connecting to SQLite or PostgreSQL and bringing the schema up to date.

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// The file an SQLite URL points at, if it is a file (not `:memory:`).
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

/// Opens a connection pool. An SQLite file and its folder are created when missing and
/// the database runs in WAL mode with foreign keys enforced; its `lower()` folds the case
/// of every alphabet, as PostgreSQL's does (see `sqlite_fold`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let is_sqlite = url.starts_with("sqlite:");
    if let Some(parent) = sqlite_file(url).and_then(|p| std::path::Path::new(p).parent())
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create the folder {}: {e}",
                parent.display()
            ))
        })?;
    }
    let url_sets_ssl_mode = url.contains("sslmode=");
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(if is_sqlite { 8 } else { 16 })
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // A small page cache per connection (SQLite's default is 2 MB): an import's
                // writer and the rebuild of its indexes ask for a large one for their own
                // transaction (see `jobs::WRITER_CACHE`), so only their connections hold one.
                .pragma("cache_size", "-4096")
                // All connections' caches together stay under this (it is one limit for the
                // process): past it SQLite recycles cached pages instead of growing.
                .pragma("soft_heap_limit", "50331648")
                // Each prepared statement stays with its connection; a short list bounds
                // the memory of the many-row statements of imports.
                .statement_cache_capacity(24)
        })
        .map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    let mut handle = conn.lock_handle().await?;
                    crate::sqlite_fold::register(handle.as_raw_handle())
                        .map_err(|e| sea_orm::sqlx::Error::Configuration(e.into()))
                })
            })
        })
        .map_sqlx_postgres_opts(move |o: PgConnectOptions| {
            if tls_left_to_default(url_sets_ssl_mode, std::env::var_os("PGSSLMODE").is_some())
                && is_loopback(o.get_host())
            {
                o.ssl_mode(PgSslMode::Disable)
            } else {
                o
            }
        })
        .map_sqlx_postgres_pool_opts(|pool| {
            pool.after_connect(|_conn, _meta| {
                Box::pin(async {
                    disable_nagle_on_tcp_sockets();
                    Ok(())
                })
            })
        });
    Database::connect(options).await
}

/// Whether the connection's TLS is left to sqlx's default (`prefer`: TLS when the server
/// offers it): neither the URL nor `PGSSLMODE` says.
fn tls_left_to_default(url_sets_ssl_mode: bool, env_sets_ssl_mode: bool) -> bool {
    !url_sets_ssl_mode && !env_sets_ssl_mode
}

/// A PostgreSQL on this machine: its traffic never crosses a network, so TLS protects
/// nothing there, and its handshake (stalled twice by Nagle's algorithm, see below) cost
/// 90 ms a connection — most of a 5,000-row import. Such a connection does not negotiate
/// TLS unless the URL or `PGSSLMODE` asks for it (README, Configuration).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// sqlx 0.9.0 leaves Nagle's algorithm on for its TCP connections (sqlx issue #4335, fixed
/// upstream after that release). PostgreSQL's delayed acknowledgement then holds back
/// many statements by 40 ms: a 100,000-row import took 30 s over TCP and 8 s over a
/// Unix socket. sqlx does not hand out its socket, so after each new connection every TCP
/// socket of this process gets `TCP_NODELAY`, which only ever sends data sooner.
#[cfg(target_os = "linux")]
fn disable_nagle_on_tcp_sockets() {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for fd in fds
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::c_int>().ok())
    {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        let get = |option: libc::c_int, value: &mut libc::c_int, len: &mut libc::socklen_t| {
            // SAFETY: `value` and `len` are valid for writes of one c_int; on an fd that
            // is not a socket (or is closed meanwhile) getsockopt fails and nothing is read.
            unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    option,
                    (value as *mut libc::c_int).cast(),
                    len,
                )
            }
        };
        if get(libc::SO_TYPE, &mut value, &mut len) != 0 || value != libc::SOCK_STREAM {
            continue;
        }
        if get(libc::SO_DOMAIN, &mut value, &mut len) != 0
            || (value != libc::AF_INET && value != libc::AF_INET6)
        {
            continue;
        }
        let on: libc::c_int = 1;
        // SAFETY: `on` lives across the call and its size is passed with it.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn disable_nagle_on_tcp_sockets() {}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

#[cfg(test)]
mod tests {
    use super::{is_loopback, sqlite_file, tls_left_to_default};

    #[test]
    fn only_a_loopback_connection_left_to_the_default_skips_tls() {
        for host in [
            "127.0.0.1",
            "localhost",
            "LOCALHOST",
            "::1",
            "[::1]",
            "127.8.9.10",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "db.example.com",
            "10.0.0.5",
            "192.168.1.2",
            "::2",
            "/var/run/postgresql",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
        assert!(tls_left_to_default(false, false));
        assert!(!tls_left_to_default(true, false));
        assert!(!tls_left_to_default(false, true));
    }

    #[test]
    fn finds_the_file_of_an_sqlite_url() {
        assert_eq!(
            sqlite_file("sqlite://data/crm.db?mode=rwc"),
            Some("data/crm.db")
        );
        assert_eq!(sqlite_file("sqlite:///tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/crm"), None);
    }
}
