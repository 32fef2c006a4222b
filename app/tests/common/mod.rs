//! What the app crate's database tests share: a fresh database with the schema (in
//! memory on SQLite, a database of its own on PostgreSQL), a back-office user, and files
//! run through the engine's stages and applied as one job.

#![allow(dead_code)]

use app::entities::import_job;
use app::import::prepare::{Limits, RowOutcome, prepare_mapped};
use app::jobs::apply::{AccountImport, Applier, ApplyError, BatchReport, ClientImport, IbImport};
use app::model::{Delimiter, Desks, ImportAction};
use chrono::NaiveDate;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, TransactionTrait,
};
use std::time::Duration;

/// An apply error as an `.expected` file writes it: `line N Column: message`.
pub fn describe(e: &ApplyError) -> String {
    match e.column {
        Some(c) => format!("line {} {c}: {}", e.line, e.message),
        None => format!("line {}: {}", e.line, e.message),
    }
}

/// The databases an `applied` case runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the PostgreSQL run creates its databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database with the schema and a back-office user to own import jobs: in memory
/// on SQLite; on PostgreSQL a database of its own, dropped by [`Fixture::close`].
pub struct Fixture {
    pub db: DatabaseConnection,
    pub admin: i64,
    /// The PostgreSQL database's name.
    postgres: Option<String>,
}

impl Fixture {
    pub async fn new(backend: Backend) -> Self {
        let (db, postgres) = match backend {
            Backend::Sqlite => {
                // Every connection to `sqlite::memory:` is a database of its own: keep
                // exactly one, for the whole test, and never let the pool close it.
                let mut options = ConnectOptions::new("sqlite::memory:");
                options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None::<Duration>)
                    .max_lifetime(None::<Duration>)
                    .sqlx_logging(false)
                    .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| o.foreign_keys(true));
                let db = Database::connect(options)
                    .await
                    .expect("an in-memory SQLite database");
                (db, None)
            }
            Backend::Postgres => {
                static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let name = format!("crm_badfiles_{}_{n}", std::process::id());
                let admin_url = postgres_admin_url();
                let admin = Database::connect(admin_url.as_str())
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is needed: {e}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("a database for the case");
                admin.close().await.ok();
                let (base, _) = admin_url.rsplit_once('/').expect("a database URL");
                let mut options = ConnectOptions::new(format!("{base}/{name}"));
                options.max_connections(2).sqlx_logging(false);
                let db = Database::connect(options)
                    .await
                    .expect("the case's database");
                (db, Some(name))
            }
        };
        Migrator::up(&db, None).await.expect("the migrations");
        let (admin, _) = app::services::users::create(
            &db,
            &app::auth::Caller::default(),
            "admin@example.com",
            app::model::Role::Admin,
            None,
        )
        .await
        .expect("a back-office user");
        Fixture {
            db,
            admin: admin.id,
            postgres,
        }
    }

    /// Closes the database (and drops it, on PostgreSQL).
    pub async fn close(self) {
        self.db.close().await.ok();
        if let Some(name) = self.postgres {
            let admin = Database::connect(postgres_admin_url().as_str())
                .await
                .expect("PostgreSQL");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("drop the case's database");
            admin.close().await.ok();
        }
    }

    /// An import job: the changes an import records point at one.
    pub async fn new_job(&self, action: ImportAction) -> i64 {
        import_job::ActiveModel {
            title: Set("bad files".into()),
            action: Set(action.as_str().into()),
            delimiter: Set("auto".into()),
            file_name: Set("bad-file.csv".into()),
            file_size: Set(0),
            file_sha256: Set(String::new()),
            status: Set(app::model::JobStatus::InProgress),
            validate_only: Set(false),
            bulk: Set(false),
            initiated_by: Set(self.admin),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .expect("an import job")
        .id
    }

    /// Runs a file through the file-level stages and applies its rows as one job in one
    /// batch. Every row must pass the file-level stages: what they refuse is for `rows`.
    pub async fn apply(
        &self,
        action: ImportAction,
        bytes: &[u8],
        delimiter: Delimiter,
        today: NaiveDate,
    ) -> Result<BatchReport, String> {
        self.apply_as_job(action, bytes, delimiter, today)
            .await
            .map(|(_, report)| report)
    }

    /// As [`Fixture::apply`], answering the job too.
    pub async fn apply_as_job(
        &self,
        action: ImportAction,
        bytes: &[u8],
        delimiter: Delimiter,
        today: NaiveDate,
    ) -> Result<(i64, BatchReport), String> {
        self.apply_mapped(action, bytes, delimiter, None, today)
            .await
    }

    /// As [`Fixture::apply_as_job`], reading the header through a column `mapping`
    /// (the JSON an upload gives).
    pub async fn apply_mapped(
        &self,
        action: ImportAction,
        bytes: &[u8],
        delimiter: Delimiter,
        mapping: Option<&str>,
        today: NaiveDate,
    ) -> Result<(i64, BatchReport), String> {
        self.apply_within(action, bytes, delimiter, mapping, Desks::All, today)
            .await
    }

    /// As [`Fixture::apply_mapped`], for a user who works with the clients of `within`
    /// only.
    pub async fn apply_within(
        &self,
        action: ImportAction,
        bytes: &[u8],
        delimiter: Delimiter,
        mapping: Option<&str>,
        within: Desks,
        today: NaiveDate,
    ) -> Result<(i64, BatchReport), String> {
        let rows = rows_of(action, bytes, delimiter, mapping, today)?;
        let job = self.new_job(action).await;
        let database = |e: sea_orm::DbErr| format!("database error: {e}");
        let txn = self.db.begin().await.map_err(database)?;
        // As the job runner applies a batch.
        let mut applier = match action {
            ImportAction::Users => Applier::Clients(
                ClientImport::new(&txn, job, within)
                    .await
                    .map_err(database)?,
            ),
            ImportAction::Accounts => Applier::Accounts(AccountImport::new(job, within)),
            ImportAction::Ibs => Applier::Ibs(IbImport::new(job, within)),
        };
        let report = applier.apply(&txn, rows).await.map_err(database)?;
        txn.commit().await.map_err(database)?;
        Ok((job, report))
    }

    /// Applies users files as the batches of one job, each in its transaction, with one
    /// [`ClientImport`] set up as for a first attempt into an empty table (`fresh`), in
    /// bulk mode when `emails_new`. Answers each batch's report, and whether the import
    /// was still on its fresh path after the last.
    pub async fn apply_fresh_batches(
        &self,
        batches: &[&str],
        emails_new: bool,
        today: NaiveDate,
    ) -> Result<(Vec<BatchReport>, bool), String> {
        let job = self.new_job(ImportAction::Users).await;
        let database = |e: sea_orm::DbErr| format!("database error: {e}");
        let mut import = ClientImport::new(&self.db, job, Desks::All)
            .await
            .map_err(database)?;
        import.fresh = true;
        import.emails_new = emails_new;
        let mut reports = Vec::new();
        for batch in batches {
            let rows = rows_of(
                ImportAction::Users,
                batch.as_bytes(),
                Delimiter::Auto,
                None,
                today,
            )?;
            let txn = self.db.begin().await.map_err(database)?;
            let rows = rows.into_iter().filter_map(RowOutcome::into_client);
            reports.push(import.apply(&txn, rows.collect()).await.map_err(database)?);
            txn.commit().await.map_err(database)?;
        }
        Ok((reports, import.fresh))
    }
}

/// The rows of a file through the file-level stages, which must pass every one of them:
/// what they refuse is for the bad-files catalogue's `rows`.
fn rows_of(
    action: ImportAction,
    bytes: &[u8],
    delimiter: Delimiter,
    mapping: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<RowOutcome>, String> {
    let mapping = mapping
        .map(|m| app::import::mapping::Mapping::from_json(action, m))
        .transpose()?;
    let prepared = prepare_mapped(
        bytes,
        action,
        delimiter,
        mapping.as_ref(),
        Limits::default(),
    )
    .map_err(|e| format!("the file is rejected: {e}"))?;
    let rows: Vec<RowOutcome> = prepared.rows(today).collect();
    let invalid: Vec<String> = rows
        .iter()
        .filter_map(|r| match r {
            RowOutcome::Invalid { line, errors } => Some(format!("line {line}: {errors:?}")),
            _ => None,
        })
        .collect();
    if invalid.is_empty() {
        Ok(rows)
    } else {
        Err(format!(
            "the file-level stages refuse rows: {}",
            invalid.join("; ")
        ))
    }
}
