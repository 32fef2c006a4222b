//! `server [serve]`, `server migrate`, `server user create --email E --role R` (SPEC §6).

// Leptos views nest deeply in their types.
#![recursion_limit = "256"]

use app::model::{AppError, Delimiter, ImportAction, Role};
use clap::{Parser, Subcommand};
use server::config::Config;
use server::{Application, StartupError, open_database};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: an import allocates and frees every cell of every
/// row on one thread and the next on another, and glibc spent a third of the import's
/// own time consolidating and unlinking free chunks (a million-row import on PostgreSQL:
/// 18.4 s of user time with glibc, 7–10 s with mimalloc; README "Benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option ids (`mi_option_e` in `mimalloc.h` of the bundled v3 sources): the
/// crate leaves these unnamed and documents passing them by number. A test checks them
/// against their documented defaults.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Freed memory goes back to the system at once, and arena memory is committed as it is
/// used: with mimalloc's defaults (a one-second purge delay, arenas committed up front) the
/// same import peaked at 188 MB instead of glibc's 120 MB; with these set here, 136–144 MB.
/// mimalloc reserves its first arena before `main`, so the same two settings given in the
/// environment (`MIMALLOC_PURGE_DELAY=0 MIMALLOC_ARENA_EAGER_COMMIT=0`, mimalloc's own
/// variables, which win over these) bring it to 106 MB.
///
/// Transparent huge pages are turned off for the process (unless `MIMALLOC_ALLOW_THP` is
/// given): mimalloc asks the kernel for them on its arenas, and a 2 MiB page stays whole
/// in memory while any of it is used, so an import's short-lived batches kept 60 MB of
/// half-empty huge pages (a million-row SQLite import, run alone with each setting: 215 MB
/// peak with them, 180 MB without; with the smaller key table too, the benchmark's 200 MB
/// became 131 MB, README "Benchmark").
fn tune_allocator() {
    for (option, name, value) in [
        (MI_OPTION_PURGE_DELAY, "MIMALLOC_PURGE_DELAY", 0),
        (
            MI_OPTION_ARENA_EAGER_COMMIT,
            "MIMALLOC_ARENA_EAGER_COMMIT",
            0,
        ),
        (MI_OPTION_ALLOW_THP, "MIMALLOC_ALLOW_THP", 0),
    ] {
        if std::env::var_os(name).is_none() {
            // SAFETY: sets an allocator option; called before any other thread exists.
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        disable_huge_pages();
    }
}

/// The first arena was reserved (and advised to use huge pages) before `main`: the
/// process-wide switch covers it too.
#[cfg(target_os = "linux")]
fn disable_huge_pages() {
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag of the process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn disable_huge_pages() {}

#[derive(Parser)]
#[command(
    name = "server",
    about = "Broker back office: web server and administration"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage back-office users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import a file with the same engine as the web, as the given user, and print the summary.
    Import {
        /// import-users, import-accounts or import-ibs.
        #[arg(long, value_parser = |s: &str| s.parse::<ImportAction>())]
        action: ImportAction,
        /// The CSV, TSV or TXT file.
        #[arg(long)]
        file: std::path::PathBuf,
        /// The email of the back-office user the import is done as.
        #[arg(long = "as")]
        as_user: String,
        /// Check the file and report what would happen, writing nothing.
        #[arg(long)]
        validate_only: bool,
        /// auto, comma, semicolon or tab.
        #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<Delimiter>())]
        delimiter: Delimiter,
        /// How the file's columns are used, as JSON: `{"file column": "field" | "extra:NAME"
        /// | "ignore"}`. Columns it does not name follow the header rules.
        #[arg(long)]
        mapping: Option<String>,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token that acts as the user (with the user's role). It is printed once.
    Create {
        /// The email of the user the token acts as.
        #[arg(long)]
        user: String,
        /// What the token is for, e.g. "nightly CRM sync".
        #[arg(long)]
        name: String,
        /// Days the token works for; without it, until it is revoked.
        #[arg(long)]
        days: Option<u32>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input when it is piped in;
    /// otherwise one is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn password_from_stdin() -> std::io::Result<Option<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut text = String::new();
    stdin.lock().read_to_string(&mut text)?;
    let line = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_owned();
    Ok((!line.is_empty()).then_some(line))
}

async fn run(cli: Cli) -> Result<(), StartupError> {
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(config).await?;
            let addr = app.local_addr();
            tracing::info!("listening on http://{addr}");
            println!("Back office listening on http://{addr}");
            app.run()
                .await
                .map_err(|source| StartupError::Listen { addr, source })?;
        }
        Command::Migrate => {
            open_database(&config).await?;
            println!("Database is up to date.");
        }
        Command::User {
            command: UserCommand::Create { email, role },
        } => {
            let db = open_database(&config).await?;
            let password = password_from_stdin().map_err(|e| {
                StartupError::App(app::model::AppError::Invalid(format!(
                    "cannot read the password from standard input: {e}"
                )))
            })?;
            let system = app::auth::Caller::default();
            let (user, generated) =
                app::services::users::create(&db, &system, &email, role, password).await?;
            println!(
                "Created {} user {} (id {}).",
                user.role, user.email, user.id
            );
            if let Some(generated) = generated {
                println!("Password (shown only once): {}", generated.password);
            }
        }
        Command::Import {
            action,
            file,
            as_user,
            validate_only,
            delimiter,
            mapping,
        } => {
            let mapping = mapping
                .map(|m| app::import::mapping::Mapping::from_json(action, &m))
                .transpose()
                .map_err(AppError::Invalid)?;
            let db = open_database(&config).await?;
            import_file(
                &db,
                &config,
                action,
                &file,
                &as_user,
                FileOptions {
                    validate_only,
                    delimiter,
                    mapping,
                },
            )
            .await?;
        }
        Command::Token {
            command: TokenCommand::Create { user, name, days },
        } => {
            let db = open_database(&config).await?;
            let system = app::auth::Caller::default();
            let issued = app::services::tokens::create(&db, &system, &user, &name, days).await?;
            let until = issued
                .token
                .expires_at
                .map(|t| format!(", valid until {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            println!(
                "Created API token {} (`{}`) for {}{until}.",
                issued.token.id, issued.token.name, user
            );
            println!("Token (shown only once): {}", issued.secret);
        }
    }
    Ok(())
}

/// How `server import` reads its file.
struct FileOptions {
    validate_only: bool,
    delimiter: Delimiter,
    mapping: Option<app::import::mapping::Mapping>,
}

/// `server import`: creates the job, runs it here, and prints what it did.
async fn import_file(
    db: &sea_orm::DatabaseConnection,
    config: &Config,
    action: ImportAction,
    path: &std::path::Path,
    as_user: &str,
    options: FileOptions,
) -> Result<(), StartupError> {
    let FileOptions {
        validate_only,
        delimiter,
        mapping,
    } = options;
    let user = app::services::users::find_by_email(db, as_user)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| {
            AppError::NotFound(format!("There is no active back-office user `{as_user}`."))
        })?;
    let user = app::services::scope::current_user(db, user).await?;
    let cannot_read =
        |e: std::io::Error| AppError::Invalid(format!("Cannot read {}: {e}", path.display()));
    // Refuse an oversized file before reading it.
    let size = std::fs::metadata(path).map_err(cannot_read)?.len();
    let limit = config.import_limits.max_bytes;
    if size > limit {
        return Err(AppError::Invalid(
            app::import::FileError::TooLarge { size, limit }.to_string(),
        )
        .into());
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let caller = app::auth::Caller {
        user: Some(user.clone()),
        remote_addr: None,
    };
    let upload = app::jobs::NewImport {
        title: format!("{file_name} (command line)"),
        description: None,
        action,
        delimiter,
        file_name,
        // Read a piece at a time: a file of millions of rows is never held in memory.
        file: app::jobs::UploadFile::Path(path.to_path_buf()),
        validate_only,
        mapping,
        review_mapping: false,
        map_if_unmatched: false,
        submission: None,
    };
    let worker = format!("{}-cli", app::jobs::workers::process_name());
    let job = app::jobs::create(
        db,
        &caller,
        &user,
        upload,
        config.import_limits,
        Some(&worker),
    )
    .await?;
    let options = app::jobs::RunOptions {
        heartbeat_every: (config.import_stale_after / 4).max(std::time::Duration::from_millis(250)),
        bulk_min_rows: config.import_bulk_min_rows,
        stale_after: config.import_stale_after,
    };
    let shown = Progress::start(db, job.id, job.total_rows);
    let job = app::jobs::run(db, job.id, &worker, &options).await;
    shown.stop();
    let job = job?;
    println!(
        "Import #{}: {} — {} rows: {} created, {} updated, {} unchanged, {} errors.",
        job.id,
        job.status,
        job.total_rows,
        job.created_rows,
        job.updated_rows,
        job.unchanged_rows,
        job.error_rows
    );
    let first = app::services::browse::ListQuery::new(None, Some(1), Some(20));
    let errors = app::services::import_views::messages(db, job.id, Some("error"), &first).await?;
    for e in &errors.items {
        println!(
            "  line {}{}: {}",
            e.line.map_or("?".into(), |l| l.to_string()),
            e.column
                .as_ref()
                .map_or(String::new(), |c| format!(", {c}")),
            e.message
        );
    }
    if errors.total > errors.items.len() as u64 {
        println!("  … and more: see the import's error report.");
    }
    Ok(())
}

/// The progress bar of `server import` on a terminal: the rows the job has saved as
/// processed, read from its row four times a second, with the pace and the time left.
/// Nothing is drawn when standard error is not a terminal (a script, a log).
struct Progress(Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)>);

impl Progress {
    fn start(db: &sea_orm::DatabaseConnection, job_id: i64, total_rows: i64) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(u64::try_from(total_rows).unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{wide_bar} {human_pos}/{human_len} rows · {per_sec} · {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        // Drawn at once: a short import is over before the first reading.
        bar.tick();
        let (db, shown) = (db.clone(), bar.clone());
        let task = tokio::spawn(async move {
            use sea_orm::EntityTrait;
            loop {
                let job = app::entities::import_job::Entity::find_by_id(job_id)
                    .one(&db)
                    .await;
                if let Ok(Some(job)) = job {
                    shown.set_position(u64::try_from(job.processed_rows).unwrap_or(0));
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        });
        Progress(Some((bar, task)))
    }

    /// Takes the bar off the terminal, before the summary is printed.
    fn stop(self) {
        if let Some((bar, task)) = self.0 {
            task.abort();
            bar.finish_and_clear();
        }
    }
}

/// One malloc arena for what C code (SQLite) allocates through glibc's malloc. glibc gives
/// every thread that allocates while another holds the lock an arena of its own, up to
/// eight per core, and keeps what each arena freed: SQLite's page caches live on the
/// threads of their connections, and a million-row SQLite import held 50 MB in the main
/// arena and 41 MB more in a second one, for 47 MB in use (run alone with each setting, huge
/// pages off: 150 MB peak with one arena, 180 MB without). SQLite allocates its caches once,
/// so the one lock is not contended. Set before the runtime starts any thread; a
/// `MALLOC_ARENA_MAX` in the environment (glibc's own setting) is left to win.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    tune_allocator();
    limit_malloc_arenas();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(start()),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mimalloc_option_ids_are_the_documented_ones() {
        // The defaults of `mimalloc.h`: eager commit of arenas 2 ("on overcommit
        // systems"), purge delay 1,000 ms, huge pages allowed (1; the option next to it,
        // the minimal purge size, is 0). A renumbered enum would read another option.
        // SAFETY: reads allocator options.
        let (eager, delay, thp, after_thp) = unsafe {
            (
                libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY),
                libmimalloc_sys::mi_option_get(MI_OPTION_ALLOW_THP),
                libmimalloc_sys::mi_option_get(MI_OPTION_ALLOW_THP + 1),
            )
        };
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert_eq!((thp, after_thp), (1, 0));
        }
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            assert_eq!(eager, 2);
        }
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(delay, 1_000);
        }
    }
}
