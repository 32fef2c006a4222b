//! Jobs survive their workers: a server killed with SIGKILL in the middle of an import
//! resumes it after the last committed batch when it starts again, and two server
//! processes sharing one PostgreSQL database run each queued job exactly once. These
//! tests drive the real `server` binary.

mod common;

use app::entities::{client, import_change, import_job, import_message};
use app::import::prepare::Limits;
use app::jobs::{self as imports, NewImport};
use app::model::JobStatus;
use app::model::{CurrentUser, Delimiter, ImportAction, Role};
use common::{Backend, fresh_database};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect,
};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `server serve` process, killed when dropped.
struct ServerProcess(Child);

impl ServerProcess {
    fn start(database_url: &str, log: &Path, stale_after: &str) -> Self {
        Self::start_with(database_url, log, stale_after, &[])
    }

    /// As [`ServerProcess::start`], with `env` set last: it may change any setting above.
    fn start_with(database_url: &str, log: &Path, stale_after: &str, env: &[(&str, &str)]) -> Self {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("ADMIN_PASSWORD", "an-admin-password-for-tests")
            .env("IMPORT_WORKERS", "2")
            .env("IMPORT_STALE_AFTER", stale_after)
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("the server binary starts");
        ServerProcess(child)
    }

    /// SIGKILL: no shutdown code runs, as in a power cut.
    fn kill_hard(mut self) {
        self.0.kill().expect("kill -9");
        self.0.wait().ok();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn operator(db: &DatabaseConnection) -> CurrentUser {
    let (user, _) = app::services::users::create(
        db,
        &app::auth::Caller::default(),
        "ops@example.com",
        Role::Operator,
        None,
    )
    .await
    .unwrap();
    CurrentUser {
        id: user.id,
        email: user.email,
        role: user.role,
        desks: app::model::Desks::All,
    }
}

fn clients_file(prefix: &str, rows: usize) -> String {
    let mut csv = String::from("Email,First name,Last name,Country,City\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "{prefix}{i}@example.com,First{i},Last{i},GB,London\n"
        ));
    }
    csv
}

/// An `import-users` upload of `csv`.
fn users_upload(title: &str, csv: String) -> NewImport {
    NewImport {
        title: title.into(),
        description: None,
        action: ImportAction::Users,
        delimiter: Delimiter::Auto,
        file_name: "clients.csv".into(),
        file: csv.into_bytes().into(),
        validate_only: false,
        mapping: None,
        review_mapping: false,
        map_if_unmatched: false,
        submission: None,
    }
}

async fn job(db: &DatabaseConnection, id: i64) -> import_job::Model {
    import_job::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ids of the clients job `id` recorded as created; it must have recorded no other
/// change.
async fn created_clients(db: &DatabaseConnection, id: i64) -> Vec<i64> {
    let recorded: Vec<(String, String)> = import_change::Entity::find()
        .select_only()
        .column(import_change::Column::Entity)
        .column(import_change::Column::Operation)
        .filter(import_change::Column::JobId.eq(id))
        .distinct()
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    assert!(
        recorded
            .iter()
            .all(|(entity, operation)| (entity.as_str(), operation.as_str())
                == ("client", "created_ids")),
        "job {id} recorded {recorded:?}"
    );
    recorded_created(db, id, "client").await
}

/// The definitions of the indexes of `client`, by name, as the database states them.
async fn client_indexes(db: &DatabaseConnection) -> std::collections::BTreeMap<String, String> {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'client'"
        }
        _ => {
            "SELECT name, COALESCE(sql, '') AS def FROM sqlite_master WHERE type = 'index' AND tbl_name = 'client'"
        }
    };
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.try_get::<String>("", "name").unwrap(),
            r.try_get::<String>("", "def").unwrap(),
        )
    })
    .collect()
}

/// A migrated database, its client indexes as the migrations made them, and an operator
/// calling the job functions in this process.
struct InProcess {
    db: DatabaseConnection,
    /// Kept until the test ends: the SQLite file lives in it.
    _dir: Option<tempfile::TempDir>,
    migrated: std::collections::BTreeMap<String, String>,
    user: CurrentUser,
    caller: app::auth::Caller,
}

impl InProcess {
    async fn new(backend: Backend) -> Self {
        let (url, dir) = fresh_database(backend).await;
        let db = server::db::connect(&url).await.unwrap();
        server::db::migrate(&db).await.unwrap();
        let migrated = client_indexes(&db).await;
        let user = operator(&db).await;
        let caller = app::auth::Caller {
            user: Some(user.clone()),
            remote_addr: None,
        };
        InProcess {
            db,
            _dir: dir,
            migrated,
            user,
            caller,
        }
    }

    /// A client import of `rows` generated rows, created claimed by `test-worker`.
    async fn claimed_import(&self, title: &str, prefix: &str, rows: usize) -> import_job::Model {
        imports::create(
            &self.db,
            &self.caller,
            &self.user,
            users_upload(title, clients_file(prefix, rows)),
            Limits::NONE,
            Some("test-worker"),
        )
        .await
        .unwrap()
    }
}

async fn info_messages(db: &DatabaseConnection, id: i64) -> Vec<String> {
    import_message::Entity::find()
        .filter(import_message::Column::JobId.eq(id))
        .filter(import_message::Column::Level.eq("info"))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.message)
        .collect()
}

const ROWS: usize = 40_000;

async fn a_killed_server_resumes_its_import_after_the_last_batch(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let logs = tempfile::tempdir().unwrap();
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let user = operator(&db).await;
    let id = queue(
        &db,
        &user,
        ImportAction::Users,
        clients_file("crash", ROWS),
        false,
    )
    .await;

    // Batches are sized by time, so the committed count is no multiple of a fixed size;
    // that it equals the clients in the table is what shows whole batches only.
    let (done, _, _server) = killed_and_resumed(&url, &db, id, logs.path(), &[], async |j| {
        assert_eq!(
            client::Entity::find().count(&db).await.unwrap() as i64,
            j.processed_rows,
            "the rows of committed batches, and nothing of the batch in flight"
        );
    })
    .await;
    assert_eq!(
        done.status,
        JobStatus::Success,
        "{:?}",
        info_messages(&db, id).await
    );
    assert_eq!(
        (
            done.processed_rows,
            done.created_rows,
            done.updated_rows,
            done.error_rows
        ),
        (ROWS as i64, ROWS as i64, 0, 0)
    );
    assert_eq!(
        client::Entity::find().count(&db).await.unwrap(),
        ROWS as u64
    );
    let distinct = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(DISTINCT lower(email)) FROM client",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(distinct, ROWS as i64, "no client twice");
    assert_eq!(
        created_clients(&db, id).await,
        ids_of(&db, "client").await,
        "every client created is recorded for revert, once"
    );
    drop(dir);
}

/// Runs job `id`'s next step here (the review's validation), as a worker would.
async fn validate_here(db: &DatabaseConnection, id: i64) -> import_job::Model {
    let claimed = imports::claim_next(db, "reviewer", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed, Some(id));
    imports::run(
        db,
        id,
        "reviewer",
        &imports::RunOptions {
            heartbeat_every: Duration::from_secs(5),
            bulk_min_rows: app::jobs::bulk::BULK_MIN_ROWS,
            stale_after: Duration::from_secs(30),
        },
    )
    .await
    .unwrap()
}

/// A reviewed import (a cell corrected near the start and near the end, the last line
/// dropped) is confirmed, and its server is killed half-way: the resumed run reads the
/// file through the same corrections, so each is applied exactly once.
async fn corrections_hold_when_a_confirmed_review_resumes_after_a_crash(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let logs = tempfile::tempdir().unwrap();
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let user = operator(&db).await;
    let caller = app::auth::Caller {
        user: Some(user.clone()),
        remote_addr: None,
    };
    let mut csv = String::from("Email,First name,Country\n");
    for i in 0..ROWS {
        let country = if i == 1 || i == ROWS - 2 {
            "Atlantis"
        } else {
            "GB"
        };
        csv.push_str(&format!("fix{i}@example.com,Fix{i},{country}\n"));
    }
    let mut upload = users_upload("reviewed", csv);
    upload.validate_only = true;
    let id = imports::create(&db, &caller, &user, upload, Limits::NONE, None)
        .await
        .unwrap()
        .id;
    let reviewed = validate_here(&db, id).await;
    assert_eq!(reviewed.status, JobStatus::AwaitingConfirmation);
    assert_eq!(reviewed.error_rows, 2);
    let (near_start, near_end, last) = (3u64, ROWS as u64, ROWS as u64 + 1);
    for line in [near_start, near_end] {
        app::services::review::correct(&db, &caller, &user, id, line, "Country", "FR")
            .await
            .unwrap();
        validate_here(&db, id).await;
    }
    app::services::review::drop_line(&db, &caller, &user, id, last)
        .await
        .unwrap();
    let reviewed = validate_here(&db, id).await;
    assert_eq!(
        (
            reviewed.total_rows,
            reviewed.created_rows,
            reviewed.error_rows
        ),
        (ROWS as i64 - 1, ROWS as i64 - 1, 0)
    );
    imports::confirm(&db, &caller, &user, id).await.unwrap();

    let (done, _, _server) =
        killed_and_resumed(&url, &db, id, logs.path(), &[], async |_| {}).await;
    assert_eq!(
        done.status,
        JobStatus::Success,
        "{:?}",
        info_messages(&db, id).await
    );
    assert_eq!(
        (done.processed_rows, done.created_rows, done.error_rows),
        (ROWS as i64 - 1, ROWS as i64 - 1, 0)
    );
    assert_eq!(
        client::Entity::find().count(&db).await.unwrap(),
        ROWS as u64 - 1
    );
    let country = async |email: String| {
        client::Entity::find()
            .filter(client::Column::Email.eq(email))
            .one(&db)
            .await
            .unwrap()
            .map(|c| c.country)
    };
    assert_eq!(
        country("fix1@example.com".into()).await,
        Some(Some("FR".into()))
    );
    assert_eq!(
        country(format!("fix{}@example.com", ROWS - 2)).await,
        Some(Some("FR".into()))
    );
    assert_eq!(
        country(format!("fix{}@example.com", ROWS - 1)).await,
        None,
        "the dropped line"
    );
    drop(dir);
}

/// Runs queued job `id` in a server (started with `env` besides the usual settings) that
/// is killed once some batches are committed and `check_interrupted` has looked at the
/// database as the kill left it; a second server resumes it. Answers the job as it ended,
/// the rows the first attempt committed, and the second server (still running).
async fn killed_and_resumed(
    url: &str,
    db: &DatabaseConnection,
    id: i64,
    logs: &Path,
    env: &[(&str, &str)],
    check_interrupted: impl AsyncFnOnce(&import_job::Model),
) -> (import_job::Model, i64, ServerProcess) {
    let first = ServerProcess::start_with(url, &logs.join(format!("{id}-first.log")), "2s", env);
    wait_until("the first batches", Duration::from_secs(120), async || {
        job(db, id).await.processed_rows >= 1_000
    })
    .await;
    first.kill_hard();
    let interrupted = job(db, id).await;
    assert_eq!(interrupted.status, JobStatus::InProgress);
    assert!(
        interrupted.processed_rows < interrupted.total_rows,
        "killed too late to test anything: {} of {} rows done",
        interrupted.processed_rows,
        interrupted.total_rows
    );
    check_interrupted(&interrupted).await;
    let opening = |log: &[String]| log.iter().filter(|m| m.starts_with("Read as")).count();
    let opened_before = opening(&info_messages(db, id).await);
    let second = ServerProcess::start_with(url, &logs.join(format!("{id}-second.log")), "2s", env);
    wait_until("the resumed run", Duration::from_secs(300), async || {
        job(db, id).await.status != JobStatus::InProgress
    })
    .await;
    let done = job(db, id).await;
    assert_eq!(done.attempts, 2, "{:?}", info_messages(db, id).await);
    let log = info_messages(db, id).await;
    let resumed = format!(
        "Resumed (attempt 2) after data row {}",
        interrupted.processed_rows
    );
    assert!(log.iter().any(|m| m.starts_with(&resumed)), "{log:#?}");
    assert_eq!(
        opening(&log),
        opened_before,
        "the resumed run does not write the opening messages again: {log:#?}"
    );
    (done, interrupted.processed_rows, second)
}

/// Queues `csv` as `action` for `user`, validate-only if asked.
async fn queue(
    db: &DatabaseConnection,
    user: &CurrentUser,
    action: ImportAction,
    csv: String,
    validate_only: bool,
) -> i64 {
    let caller = app::auth::Caller {
        user: Some(user.clone()),
        remote_addr: None,
    };
    let mut upload = users_upload(action.as_str(), csv);
    upload.action = action;
    upload.validate_only = validate_only;
    imports::create(db, &caller, user, upload, Limits::NONE, None)
        .await
        .unwrap()
        .id
}

/// The ids of the `entity` rows job `id` recorded as created (as runs of ids or one by
/// one), sorted; an id recorded twice shows twice.
async fn recorded_created(db: &DatabaseConnection, id: i64, entity: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for change in import_change::Entity::find()
        .filter(import_change::Column::JobId.eq(id))
        .filter(import_change::Column::Entity.eq(entity))
        .all(db)
        .await
        .unwrap()
    {
        match change.operation.as_str() {
            "created_ids" => {
                let runs: Vec<(i64, i64)> =
                    serde_json::from_str(change.new_values.as_deref().unwrap()).unwrap();
                for (first, last) in runs {
                    ids.extend(first..=last);
                }
            }
            "created" => ids.push(change.entity_id),
            other => panic!("job {id} recorded `{other}` for {entity}"),
        }
    }
    ids.sort_unstable();
    ids
}

/// Every id of `table`, sorted.
async fn ids_of(db: &DatabaseConnection, table: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM {table}"),
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get_by_index::<i64>(0).unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

async fn count_of(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index::<i64>(0)
    .unwrap()
}

/// The error messages of job `id` as (line, column), in line order.
async fn errors_of(db: &DatabaseConnection, id: i64) -> Vec<(Option<i64>, Option<String>)> {
    let mut errors: Vec<(Option<i64>, Option<String>)> = import_message::Entity::find()
        .filter(import_message::Column::JobId.eq(id))
        .filter(import_message::Column::Level.eq("error"))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.line, m.column))
        .collect();
    errors.sort();
    errors
}

/// A validate-only run killed half-way resumes after its last committed batch: it still
/// writes no client, its counts and errors are those of one whole run (the errors of the
/// first attempt's batches once), and confirming it then imports what it said.
async fn a_killed_validate_only_run_resumes_and_still_writes_nothing(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let logs = tempfile::tempdir().unwrap();
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let user = operator(&db).await;
    let mut csv = String::from("Email,First name,Last name,Country,City\n");
    // Bad rows in the first batch and in the last one.
    let bad = [10, ROWS - 10];
    for i in 0..ROWS {
        let country = if bad.contains(&i) { "Atlantis" } else { "GB" };
        csv.push_str(&format!(
            "trial{i}@example.com,First{i},Last{i},{country},Leeds\n"
        ));
    }
    let id = queue(&db, &user, ImportAction::Users, csv, true).await;
    let (done, _, _server) = killed_and_resumed(&url, &db, id, logs.path(), &[], async |_| {
        assert_eq!(client::Entity::find().count(&db).await.unwrap(), 0);
    })
    .await;
    assert_eq!(done.status, JobStatus::AwaitingConfirmation);
    assert_eq!(
        (
            done.processed_rows,
            done.created_rows,
            done.updated_rows,
            done.error_rows
        ),
        (ROWS as i64, ROWS as i64 - 2, 0, 2)
    );
    assert_eq!(client::Entity::find().count(&db).await.unwrap(), 0);
    // Data row i is line i + 2.
    let lines: Vec<(Option<i64>, Option<String>)> = bad
        .iter()
        .map(|i| (Some(*i as i64 + 2), Some("Country".to_owned())))
        .collect();
    assert_eq!(errors_of(&db, id).await, lines);

    let caller = app::auth::Caller {
        user: Some(user.clone()),
        remote_addr: None,
    };
    imports::confirm(&db, &caller, &user, id).await.unwrap();
    wait_until("the confirmed run", Duration::from_secs(300), async || {
        job(&db, id).await.status == JobStatus::SuccessWithErrors
    })
    .await;
    let confirmed = job(&db, id).await;
    assert_eq!(
        (confirmed.created_rows, confirmed.error_rows),
        (ROWS as i64 - 2, 2)
    );
    assert_eq!(
        client::Entity::find().count(&db).await.unwrap(),
        ROWS as u64 - 2
    );
    assert_eq!(errors_of(&db, id).await, lines);
    drop(dir);
}

/// An accounts import and an IB import, each killed half-way, resume after their last
/// committed batch: every account, membership and referral exists once, and each is
/// recorded once for revert.
async fn killed_accounts_and_ib_imports_resume_after_the_last_batch(backend: Backend) {
    const PARTNERS: usize = 120;
    const REFERRALS: usize = 12_000;
    let (url, dir) = fresh_database(backend).await;
    let logs = tempfile::tempdir().unwrap();
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let user = operator(&db).await;
    app::entities::ib_program::ActiveModel {
        id: sea_orm::ActiveValue::Set(7),
        name: sea_orm::ActiveValue::Set("Gold".into()),
        created_at: sea_orm::ActiveValue::Set(chrono::Utc::now()),
    }
    .insert(&db)
    .await
    .unwrap();
    let mut clients = String::from("Email,First name\n");
    for i in 0..REFERRALS {
        clients.push_str(&format!("cl{i}@example.com,C{i}\n"));
    }
    for p in 0..PARTNERS {
        clients.push_str(&format!("ib{p}@example.com,P{p}\n"));
    }
    let id = queue(&db, &user, ImportAction::Users, clients, false).await;
    {
        let _server = ServerProcess::start(&url, &logs.path().join("clients.log"), "2s");
        wait_until("the clients", Duration::from_secs(300), async || {
            job(&db, id).await.status == JobStatus::Success
        })
        .await;
    }

    let mut accounts = String::from("Email,Account number,Product ID,Product currency\n");
    for i in 0..REFERRALS {
        accounts.push_str(&format!("cl{i}@example.com,MT5-{i},3,USD\n"));
    }
    let id = queue(&db, &user, ImportAction::Accounts, accounts, false).await;
    let (done, committed, server) =
        killed_and_resumed(&url, &db, id, logs.path(), &[], async |j| {
            assert_eq!(
                count_of(&db, "SELECT COUNT(*) FROM account").await,
                j.processed_rows,
                "the accounts of committed batches, and nothing of the batch in flight"
            );
        })
        .await;
    drop(server);
    assert!(committed > 0);
    assert_eq!(
        done.status,
        JobStatus::Success,
        "{:?}",
        info_messages(&db, id).await
    );
    assert_eq!(
        (done.processed_rows, done.created_rows, done.error_rows),
        (REFERRALS as i64, REFERRALS as i64, 0)
    );
    assert_eq!(
        count_of(&db, "SELECT COUNT(DISTINCT account_number) FROM account").await,
        REFERRALS as i64
    );
    assert_eq!(
        recorded_created(&db, id, "account").await,
        ids_of(&db, "account").await,
        "every account created is recorded for revert, once"
    );

    let mut ibs = String::from("IB Email,Client Email,IB Type ID\n");
    for i in 0..REFERRALS {
        ibs.push_str(&format!(
            "ib{}@example.com,cl{i}@example.com,7\n",
            i % PARTNERS
        ));
    }
    let id = queue(&db, &user, ImportAction::Ibs, ibs, false).await;
    let (done, _, server) = killed_and_resumed(&url, &db, id, logs.path(), &[], async |j| {
        assert_eq!(
            count_of(&db, "SELECT COUNT(*) FROM referral").await,
            j.processed_rows,
            "the referrals of committed batches, and nothing of the batch in flight"
        );
    })
    .await;
    drop(server);
    assert_eq!(
        done.status,
        JobStatus::Success,
        "{:?}",
        info_messages(&db, id).await
    );
    assert_eq!(
        (done.processed_rows, done.created_rows, done.error_rows),
        (REFERRALS as i64, REFERRALS as i64, 0)
    );
    assert_eq!(
        count_of(&db, "SELECT COUNT(DISTINCT client_id) FROM referral").await,
        REFERRALS as i64
    );
    assert_eq!(
        count_of(&db, "SELECT COUNT(*) FROM introducing_broker").await,
        PARTNERS as i64
    );
    assert_eq!(
        recorded_created(&db, id, "referral").await,
        ids_of(&db, "referral").await,
        "every referral is recorded for revert, once"
    );
    assert_eq!(
        recorded_created(&db, id, "introducing_broker").await,
        ids_of(&db, "introducing_broker").await,
        "every membership is recorded for revert, once"
    );
    drop(dir);
}

/// A bulk-mode import killed half-way: its indexes were dropped and stay missing while
/// it is down; the next start resumes it, the counts are exact and every index is back
/// exactly as the migrations made it.
async fn a_killed_bulk_import_resumes_and_rebuilds_the_indexes(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let logs = tempfile::tempdir().unwrap();
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let migrated = client_indexes(&db).await;
    for index in &app::jobs::bulk::CLIENT_INDEXES {
        assert!(
            migrated.contains_key(index.name),
            "{} after the migrations: {migrated:#?}",
            index.name
        );
    }
    let user = operator(&db).await;
    // Bulk mode commits every few seconds: a file large enough for several commits, also
    // when the load is fast (the first commit must come before the last row).
    const ROWS: usize = 400_000;
    let id = queue(
        &db,
        &user,
        ImportAction::Users,
        clients_file("bulk", ROWS),
        false,
    )
    .await;
    // A worker is presumed dead once its heartbeat is older than the longest write: on
    // SQLite a bulk commit holds the one writer's lock for a few seconds, so 2 s would let
    // the server's other worker take the job over from a live one.
    let bulk = [
        ("IMPORT_BULK_MIN_ROWS", "10000"),
        ("IMPORT_STALE_AFTER", "15s"),
    ];
    let (done, _, _server) = killed_and_resumed(&url, &db, id, logs.path(), &bulk, async |j| {
        assert!(
            j.bulk,
            "a 400,000-row file into an empty table runs in bulk mode"
        );
        let during = client_indexes(&db).await;
        for index in app::jobs::bulk::CLIENT_INDEXES
            .iter()
            .chain(&app::jobs::bulk::UNIQUE_CLIENT_INDEXES)
        {
            assert!(
                !during.contains_key(index.name),
                "{} is dropped in bulk mode into an empty table",
                index.name
            );
        }
        assert_eq!(
            client::Entity::find().count(&db).await.unwrap() as i64,
            j.processed_rows
        );
    })
    .await;
    assert_eq!(
        done.status,
        JobStatus::Success,
        "{:?}",
        info_messages(&db, id).await
    );
    assert_eq!(
        (
            done.processed_rows,
            done.created_rows,
            done.updated_rows,
            done.error_rows
        ),
        (ROWS as i64, ROWS as i64, 0, 0)
    );
    assert_eq!(ids_of(&db, "client").await.len(), ROWS);
    assert_eq!(created_clients(&db, id).await, ids_of(&db, "client").await);
    assert_eq!(
        client_indexes(&db).await,
        migrated,
        "every index back, as it was"
    );
    let log = info_messages(&db, id).await;
    assert_eq!(
        log.iter()
            .filter(|m| m.starts_with("Bulk mode: the client table was empty"))
            .count(),
        1,
        "{log:#?}"
    );
    drop(dir);
}

/// While a job loads in bulk mode it is the client table's only writer: another import
/// waits (and says so in its log) until it has finished, a revert is refused, and a job
/// does not go into bulk mode while another is in progress. A bulk job whose worker
/// stopped does not hold others back, and the unique email index it dropped is built
/// again before they write.
async fn a_bulk_import_is_the_only_writer_while_it_runs(backend: Backend) {
    let setup = InProcess::new(backend).await;
    let (db, migrated) = (setup.db.clone(), setup.migrated.clone());
    let (user, caller) = (&setup.user, &setup.caller);
    let options = imports::RunOptions {
        heartbeat_every: Duration::from_millis(250),
        bulk_min_rows: 100,
        stale_after: Duration::from_secs(5),
    };
    // A finished import, to be reverted later.
    let earlier = setup.claimed_import("earlier", "e", 50).await;
    let earlier = imports::run(&db, earlier.id, "test-worker", &options)
        .await
        .unwrap();
    assert_eq!(
        (earlier.status, earlier.bulk),
        (JobStatus::Success, false),
        "50 rows are under the bulk threshold"
    );

    // Job `bulk` is in progress in bulk mode, its worker alive, its unique index dropped.
    let bulk = setup.claimed_import("bulk", "b", 10).await;
    let id = bulk.id;
    let beat = async move |db: &DatabaseConnection| {
        import_job::Entity::update_many()
            .col_expr(
                import_job::Column::HeartbeatAt,
                Expr::value(Some(chrono::Utc::now())),
            )
            .filter(import_job::Column::Id.eq(id))
            .exec(db)
            .await
            .unwrap();
    };
    import_job::Entity::update_many()
        .col_expr(import_job::Column::Bulk, Expr::value(true))
        .col_expr(import_job::Column::WorkerId, Expr::value("bulk-worker"))
        .filter(import_job::Column::Id.eq(bulk.id))
        .exec(&db)
        .await
        .unwrap();
    beat(&db).await;
    db.execute_unprepared("DROP INDEX ux_client_email")
        .await
        .unwrap();
    let alive = {
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                beat(&db).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let refused = imports::revert(&db, caller, user, earlier.id)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, app::model::AppError::Conflict(m) if m.contains(&format!("Import #{} is loading clients in bulk mode", bulk.id))),
        "{refused:?}"
    );
    assert_eq!(job(&db, earlier.id).await.status, JobStatus::Success);

    // A large job queued meanwhile waits, and then runs without bulk mode: the bulk job
    // is still in progress when it starts.
    let waiting = setup.claimed_import("waiting", "w", 300).await;
    let run = {
        let (db, options) = (db.clone(), options.clone());
        tokio::spawn(async move { imports::run(&db, waiting.id, "test-worker", &options).await })
    };
    wait_until("the waiting message", Duration::from_secs(30), async || {
        info_messages(&db, waiting.id).await.iter().any(|m| {
            m == &format!(
                "Waiting for import #{}, which loads in bulk mode, to finish.",
                bulk.id
            )
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(job(&db, waiting.id).await.processed_rows, 0, "it waits");
    assert_eq!(client::Entity::find().count(&db).await.unwrap(), 50);

    // The bulk job's worker stops: after `stale_after` the waiting job goes on, with the
    // unique index built again first, and without bulk mode (`bulk` is still in progress).
    alive.abort();
    let done = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the waiting job goes on once the bulk job's worker is silent")
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.status, done.created_rows, done.bulk),
        (JobStatus::Success, 300, false),
        "{:?}",
        info_messages(&db, waiting.id).await
    );
    assert_eq!(
        client_indexes(&db).await,
        migrated,
        "the unique index is back"
    );
    drop(setup);
}

/// Reverting a large first load deletes every client it created in one transaction (on
/// SQLite one that drops the non-unique client indexes and builds them again): afterwards
/// the table is empty, the job is reverted and every index is there as the migrations
/// made it.
async fn reverting_a_large_import_leaves_every_index_as_migrated(backend: Backend) {
    let setup = InProcess::new(backend).await;
    let (db, migrated) = (setup.db.clone(), setup.migrated.clone());
    let (user, caller) = (&setup.user, &setup.caller);
    const ROWS: usize = 110_000;
    let job = setup.claimed_import("large", "revert", ROWS).await;
    let options = imports::RunOptions {
        heartbeat_every: Duration::from_secs(5),
        bulk_min_rows: app::jobs::bulk::BULK_MIN_ROWS,
        stale_after: Duration::from_secs(30),
    };
    let done = imports::run(&db, job.id, "test-worker", &options)
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.created_rows),
        (JobStatus::Success, ROWS as i64)
    );
    assert_eq!(ids_of(&db, "client").await.len(), ROWS);
    let (reverted, report) = imports::revert(&db, caller, user, job.id).await.unwrap();
    assert_eq!(reverted.status, JobStatus::Reverted);
    assert_eq!(
        (report.deleted, report.not_reverted.len()),
        (ROWS as u64, 0)
    );
    // On SQLite the indexes are built again rather than updated for every deleted row;
    // PostgreSQL leaves the entries of deleted rows to its vacuum.
    assert_eq!(
        report.rebuilt_indexes,
        db.get_database_backend() == sea_orm::DbBackend::Sqlite
    );
    assert!(ids_of(&db, "client").await.is_empty());
    assert_eq!(
        client_indexes(&db).await,
        migrated,
        "every index back, as it was"
    );
    drop(setup);
}

/// A job whose worker is gone: another worker may not take it while its heartbeat is
/// fresh, except on SQLite, where a starting server releases it at once (only one server
/// runs there); on PostgreSQL it is taken over once the heartbeat is stale. The old worker
/// is then fenced off, and a job started more than `MAX_ATTEMPTS` times is given up.
async fn a_job_whose_worker_is_gone_is_taken_over_then_given_up(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let user = operator(&db).await;
    let id = queue(
        &db,
        &user,
        ImportAction::Users,
        clients_file("orphan-", 10),
        false,
    )
    .await;
    let a_while_ago = || chrono::Utc::now() - chrono::Duration::seconds(30);
    assert_eq!(
        imports::claim_next(&db, "gone-worker", a_while_ago())
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        imports::claim_next(&db, "new-worker", a_while_ago())
            .await
            .unwrap(),
        None,
        "its heartbeat is fresh"
    );
    let released = imports::release_orphans(&db).await.unwrap();
    let taken = imports::claim_next(&db, "new-worker", a_while_ago())
        .await
        .unwrap();
    match backend {
        Backend::Sqlite => assert_eq!((released, taken), (1, Some(id))),
        Backend::Postgres => {
            assert_eq!(
                (released, taken),
                (0, None),
                "another instance may be running it"
            );
            let stale = chrono::Utc::now() + chrono::Duration::seconds(1);
            assert_eq!(
                imports::claim_next(&db, "new-worker", stale).await.unwrap(),
                Some(id)
            );
        }
    }
    let options = imports::RunOptions {
        heartbeat_every: Duration::from_secs(5),
        bulk_min_rows: app::jobs::bulk::BULK_MIN_ROWS,
        stale_after: Duration::from_secs(30),
    };
    let fenced = imports::run(&db, id, "gone-worker", &options).await;
    assert!(
        matches!(fenced, Err(app::model::AppError::Conflict(_))),
        "{fenced:?}"
    );
    assert_eq!(job(&db, id).await.worker_id.as_deref(), Some("new-worker"));
    // As if it had been started again and again, each time without finishing.
    import_job::Entity::update_many()
        .col_expr(
            import_job::Column::Attempts,
            Expr::value(app::jobs::MAX_ATTEMPTS + 1),
        )
        .filter(import_job::Column::Id.eq(id))
        .exec(&db)
        .await
        .unwrap();
    let given_up = imports::run(&db, id, "new-worker", &options).await.unwrap();
    assert_eq!(given_up.status, JobStatus::Failed);
    let log = info_messages(&db, id).await;
    assert!(
        log.iter().any(|m| m.contains(&format!(
            "started {} times without finishing",
            app::jobs::MAX_ATTEMPTS
        ))),
        "{log:#?}"
    );
    assert_eq!(client::Entity::find().count(&db).await.unwrap(), 0);
}

async fn two_servers_run_every_queued_job_exactly_once(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let logs = tempfile::tempdir().unwrap();
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let user = operator(&db).await;
    // Both servers are up before the jobs come, so that both look for work while there is
    // some: a process's two workers take longer than a poll (1 s) over the ten files.
    const ROWS: i64 = 8_000;
    let (a_log, b_log) = (logs.path().join("a.log"), logs.path().join("b.log"));
    let _a = ServerProcess::start(&url, &a_log, "30s");
    let _b = ServerProcess::start(&url, &b_log, "30s");
    for log in [&a_log, &b_log] {
        wait_until("both servers up", Duration::from_secs(60), async || {
            std::fs::read_to_string(log).is_ok_and(|l| l.contains("listening on"))
        })
        .await;
    }
    let mut files = Vec::new();
    for n in 0..10 {
        files.push(clients_file(&format!("j{n}-"), ROWS as usize));
    }
    let mut ids = Vec::new();
    for file in files {
        ids.push(queue(&db, &user, ImportAction::Users, file, false).await);
    }
    wait_until("all ten jobs", Duration::from_secs(300), async || {
        import_job::Entity::find()
            .filter(import_job::Column::Status.is_in([JobStatus::New, JobStatus::InProgress]))
            .count(&db)
            .await
            .unwrap()
            == 0
    })
    .await;
    let mut workers = std::collections::HashMap::new();
    for id in ids {
        let j = job(&db, id).await;
        assert_eq!(
            j.status,
            JobStatus::Success,
            "job {id}: {:?}",
            info_messages(&db, id).await
        );
        assert_eq!(j.attempts, 1, "job {id} was claimed once");
        assert_eq!((j.created_rows, j.unchanged_rows), (ROWS, 0), "job {id}");
        let log = info_messages(&db, id).await;
        assert_eq!(
            log.iter().filter(|m| m.starts_with("Read as")).count(),
            1,
            "job {id} ran once: {log:#?}"
        );
        assert_eq!(created_clients(&db, id).await.len(), ROWS as usize);
        let worker = j.worker_id.expect("the worker that ran it");
        let process = worker
            .rsplit_once("-w")
            .map_or(worker.clone(), |(p, _)| p.to_owned());
        *workers.entry(process).or_insert(0) += 1;
    }
    assert_eq!(
        client::Entity::find().count(&db).await.unwrap(),
        10 * ROWS as u64
    );
    // Each process claimed some of the jobs, and no job twice (above): the claim skips the
    // rows another process holds.
    assert_eq!(workers.len(), 2, "jobs per server process: {workers:?}");
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_validate_only_run_resumes_and_still_writes_nothing() {
        super::a_killed_validate_only_run_resumes_and_still_writes_nothing(super::Backend::Sqlite)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killed_accounts_and_ib_imports_resume_after_the_last_batch() {
        super::killed_accounts_and_ib_imports_resume_after_the_last_batch(super::Backend::Sqlite)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_worker_is_gone_is_taken_over_then_given_up() {
        super::a_job_whose_worker_is_gone_is_taken_over_then_given_up(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrections_hold_when_a_confirmed_review_resumes_after_a_crash() {
        super::corrections_hold_when_a_confirmed_review_resumes_after_a_crash(
            super::Backend::Sqlite,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reverting_a_large_import_leaves_every_index_as_migrated() {
        super::reverting_a_large_import_leaves_every_index_as_migrated(super::Backend::Sqlite)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bulk_import_is_the_only_writer_while_it_runs() {
        super::a_bulk_import_is_the_only_writer_while_it_runs(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_bulk_import_resumes_and_rebuilds_the_indexes() {
        super::a_killed_bulk_import_resumes_and_rebuilds_the_indexes(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_server_resumes_its_import_after_the_last_batch() {
        super::a_killed_server_resumes_its_import_after_the_last_batch(super::Backend::Sqlite)
            .await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_validate_only_run_resumes_and_still_writes_nothing() {
        super::a_killed_validate_only_run_resumes_and_still_writes_nothing(
            super::Backend::Postgres,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killed_accounts_and_ib_imports_resume_after_the_last_batch() {
        super::killed_accounts_and_ib_imports_resume_after_the_last_batch(super::Backend::Postgres)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_worker_is_gone_is_taken_over_then_given_up() {
        super::a_job_whose_worker_is_gone_is_taken_over_then_given_up(super::Backend::Postgres)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrections_hold_when_a_confirmed_review_resumes_after_a_crash() {
        super::corrections_hold_when_a_confirmed_review_resumes_after_a_crash(
            super::Backend::Postgres,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reverting_a_large_import_leaves_every_index_as_migrated() {
        super::reverting_a_large_import_leaves_every_index_as_migrated(super::Backend::Postgres)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bulk_import_is_the_only_writer_while_it_runs() {
        super::a_bulk_import_is_the_only_writer_while_it_runs(super::Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_bulk_import_resumes_and_rebuilds_the_indexes() {
        super::a_killed_bulk_import_resumes_and_rebuilds_the_indexes(super::Backend::Postgres)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_server_resumes_its_import_after_the_last_batch() {
        super::a_killed_server_resumes_its_import_after_the_last_batch(super::Backend::Postgres)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_servers_run_every_queued_job_exactly_once() {
        super::two_servers_run_every_queued_job_exactly_once(super::Backend::Postgres).await;
    }
}
