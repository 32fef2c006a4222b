//! Configuration from the environment (SPEC §7), with a `.env` file read when present.

use leptos::config::{Env, LeptosOptions};
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the process needs to start, read once at start-up.
#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL`: an SQLite file under `data/` by default.
    pub database_url: String,
    /// `LEPTOS_SITE_ADDR` and the other `LEPTOS_*` settings.
    pub leptos: LeptosOptions,
    /// `ADMIN_EMAIL` / `ADMIN_PASSWORD`: the first admin of an empty database.
    pub admin_email: String,
    pub admin_password: Option<String>,
    /// `COOKIE_SECURE`: send the session cookie over HTTPS only (default true).
    pub cookie_secure: bool,
    /// `SESSION_IDLE_TIMEOUT` / `SESSION_ABSOLUTE_TIMEOUT`, e.g. `30m`, `12h`.
    pub session_idle: Duration,
    pub session_absolute: Duration,
    /// `IMPORT_MAX_BYTES` / `IMPORT_MAX_ROWS`: the largest file an import accepts.
    pub import_limits: app::import::prepare::Limits,
    /// `IMPORT_WORKERS`: import jobs this process runs at once (default 2).
    pub import_workers: usize,
    /// `IMPORT_STALE_AFTER`: a running job whose worker sent no heartbeat for this long is
    /// taken over by another worker (default 30s).
    pub import_stale_after: Duration,
    /// `IMPORT_BULK_MIN_ROWS`: a client file of at least this many rows, and at least twice as
    /// many as the table holds, loads in bulk mode (default 100000).
    pub import_bulk_min_rows: u64,
    /// `SIGN_IN_PER_ADDRESS` / `SIGN_IN_PER_ACCOUNT`: sign-in attempts allowed per remote
    /// address and per email, as `attempts/window` (defaults 30/1m and 5/5m).
    pub sign_in_limits: app::auth::throttle::SignInLimits,
    /// `REQUEST_TIMEOUT`: the longest a request may take before it is answered with 503
    /// (default 30s); downloads of exports and uploads of files are allowed four times as long.
    pub request_timeout: Duration,
    /// How long a request to revert waits for the revert, which goes on after it has
    /// answered (half the request timeout).
    pub revert_wait: Duration,
    /// `HEADER_TIMEOUT`: a connection whose request headers have not all arrived within this
    /// is closed (default 10s).
    pub header_timeout: Duration,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/crm.db?mode=rwc";
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@example.com";
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A setting that is present but unusable.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Parses `90`, `90s`, `30m`, `12h` or `7d`.
pub fn parse_duration(name: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| ConfigError {
        name,
        reason: format!("`{text}` is not a duration such as 90s, 30m, 12h or 7d"),
    })?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        other => {
            return Err(ConfigError {
                name,
                reason: format!("unknown unit `{other}` in `{text}`: use s, m, h or d"),
            });
        }
    };
    if secs == 0 {
        return Err(ConfigError {
            name,
            reason: "must be longer than zero".into(),
        });
    }
    Ok(Duration::from_secs(secs))
}

fn parse_count(name: &'static str, text: &str) -> Result<u64, ConfigError> {
    match text.trim().replace('_', "").parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError {
            name,
            reason: format!("`{text}` is not a whole number greater than 0"),
        }),
    }
}

fn parse_bool(name: &'static str, text: &str) -> Result<bool, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(ConfigError {
            name,
            reason: format!("`{other}` is not true or false"),
        }),
    }
}

impl Config {
    /// Reads the environment (after loading `.env` if there is one).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let site_addr: SocketAddr = var("LEPTOS_SITE_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|e| ConfigError {
                name: "LEPTOS_SITE_ADDR",
                reason: format!("{e}"),
            })?;
        let env = match var("LEPTOS_ENV")
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("PROD") | Some("PRODUCTION") => Env::PROD,
            _ => Env::DEV,
        };
        let leptos = LeptosOptions::builder()
            .output_name(var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|| "crm".into()))
            .site_root(var("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()))
            .site_pkg_dir(var("LEPTOS_SITE_PKG_DIR").unwrap_or_else(|| "pkg".into()))
            .site_addr(site_addr)
            .env(env)
            .build();
        let request_timeout = var("REQUEST_TIMEOUT")
            .map(|v| parse_duration("REQUEST_TIMEOUT", &v))
            .transpose()?
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        Ok(Config {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            leptos,
            admin_email: var("ADMIN_EMAIL").unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.into()),
            admin_password: var("ADMIN_PASSWORD"),
            cookie_secure: var("COOKIE_SECURE")
                .map(|v| parse_bool("COOKIE_SECURE", &v))
                .transpose()?
                .unwrap_or(true),
            session_idle: var("SESSION_IDLE_TIMEOUT")
                .map(|v| parse_duration("SESSION_IDLE_TIMEOUT", &v))
                .transpose()?
                .unwrap_or(Duration::from_secs(30 * 60)),
            session_absolute: var("SESSION_ABSOLUTE_TIMEOUT")
                .map(|v| parse_duration("SESSION_ABSOLUTE_TIMEOUT", &v))
                .transpose()?
                .unwrap_or(Duration::from_secs(12 * 3600)),
            import_limits: {
                let default = app::import::prepare::Limits::default();
                app::import::prepare::Limits {
                    max_bytes: var("IMPORT_MAX_BYTES")
                        .map(|v| parse_count("IMPORT_MAX_BYTES", &v))
                        .transpose()?
                        .unwrap_or(default.max_bytes),
                    max_rows: var("IMPORT_MAX_ROWS")
                        .map(|v| parse_count("IMPORT_MAX_ROWS", &v))
                        .transpose()?
                        .unwrap_or(default.max_rows),
                }
            },
            import_workers: var("IMPORT_WORKERS")
                .map(|v| parse_count("IMPORT_WORKERS", &v))
                .transpose()?
                .map_or(2, |n| n as usize),
            import_stale_after: var("IMPORT_STALE_AFTER")
                .map(|v| parse_duration("IMPORT_STALE_AFTER", &v))
                .transpose()?
                .unwrap_or(Duration::from_secs(30)),
            import_bulk_min_rows: var("IMPORT_BULK_MIN_ROWS")
                .map(|v| parse_count("IMPORT_BULK_MIN_ROWS", &v))
                .transpose()?
                .unwrap_or(app::jobs::bulk::BULK_MIN_ROWS),
            sign_in_limits: {
                let default = app::auth::throttle::SignInLimits::default();
                let allowance = |name: &'static str, default| {
                    var(name)
                        .map(|v| {
                            app::auth::throttle::Allowance::parse(&v)
                                .map_err(|reason| ConfigError { name, reason })
                        })
                        .transpose()
                        .map(|v| v.unwrap_or(default))
                };
                app::auth::throttle::SignInLimits {
                    per_address: allowance("SIGN_IN_PER_ADDRESS", default.per_address)?,
                    per_account: allowance("SIGN_IN_PER_ACCOUNT", default.per_account)?,
                }
            },
            request_timeout,
            revert_wait: request_timeout / 2,
            header_timeout: var("HEADER_TIMEOUT")
                .map(|v| parse_duration("HEADER_TIMEOUT", &v))
                .transpose()?
                .unwrap_or(Duration::from_secs(10)),
        })
    }

    pub fn site_addr(&self) -> SocketAddr {
        self.leptos.site_addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("X", "90").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("X", "30m").unwrap(),
            Duration::from_secs(1800)
        );
        assert_eq!(
            parse_duration("X", "12h").unwrap(),
            Duration::from_secs(43_200)
        );
        assert_eq!(
            parse_duration("X", "7d").unwrap(),
            Duration::from_secs(604_800)
        );
        let err = parse_duration("SESSION_IDLE_TIMEOUT", "5 weeks").unwrap_err();
        assert_eq!(
            err.to_string(),
            "SESSION_IDLE_TIMEOUT: unknown unit `weeks` in `5 weeks`: use s, m, h or d"
        );
        assert!(parse_duration("X", "0m").is_err());
        assert!(parse_duration("X", "m").is_err());
    }

    #[test]
    fn counts_are_positive_whole_numbers() {
        assert_eq!(parse_count("X", "1_000_000").unwrap(), 1_000_000);
        assert!(parse_count("X", "0").is_err());
        assert!(parse_count("X", "5MB").is_err());
    }

    #[test]
    fn booleans_are_spelled_out() {
        assert!(parse_bool("X", "Yes").unwrap());
        assert!(!parse_bool("X", "0").unwrap());
        assert!(parse_bool("X", "maybe").is_err());
    }
}
