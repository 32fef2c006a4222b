//! Starts the real server on a random port against a fresh database (an SQLite file in a
//! temporary folder, or a new PostgreSQL database) and talks to it over HTTP.

#![allow(dead_code)]

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::multipart::{Form, Part};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;
use server::Application;
use server::config::Config;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// The PostgreSQL server the tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
static SWEPT: AtomicBool = AtomicBool::new(false);

/// A fresh, empty database URL for one test.
pub async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary folder");
            let url = format!("sqlite://{}/crm.db?mode=rwc", dir.path().display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let name = format!("crm_test_{}_{}_{}", std::process::id(), n, rand_suffix());
            let admin = Database::connect(admin_url.as_str())
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL at {admin_url} is needed for these tests: {e}")
                });
            if !SWEPT.swap(true, Ordering::SeqCst) {
                drop_databases_of_ended_runs(&admin).await;
            }
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            (format!("{base}/{name}"), None)
        }
    }
}

/// Drops the databases that test processes no longer running left behind (each test binary
/// is one process, and its databases outlive it so that a failure can be looked at), so
/// that runs do not pile them up: about 800 MB a run of the whole suite.
async fn drop_databases_of_ended_runs(admin: &DatabaseConnection) {
    let Ok(rows) = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            r"SELECT datname FROM pg_database WHERE datname LIKE 'crm\_test\_%'",
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix("crm_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_is_running(pid) {
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .ok();
        }
    }
}

#[cfg(target_os = "linux")]
fn process_is_running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Without `/proc`, every process counts as running: nothing is dropped.
#[cfg(not(target_os = "linux"))]
fn process_is_running(_pid: u32) -> bool {
    true
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: DatabaseConnection,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Settings a test can change before the server starts.
pub struct Options {
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub import_limits: app::import::prepare::Limits,
    pub sign_in_limits: app::auth::throttle::SignInLimits,
    pub cookie_secure: bool,
    pub request_timeout: Duration,
    pub revert_wait: Duration,
    pub header_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
            import_limits: Default::default(),
            sign_in_limits: Default::default(),
            cookie_secure: false,
            request_timeout: Duration::from_secs(30),
            revert_wait: Duration::from_secs(15),
            header_timeout: Duration::from_secs(10),
        }
    }
}

pub fn test_config(database_url: &str, options: &Options) -> Config {
    let leptos = leptos::config::LeptosOptions::builder()
        .output_name("crm")
        .site_root("target/site")
        .site_pkg_dir("pkg")
        .site_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .build();
    Config {
        database_url: database_url.to_owned(),
        leptos,
        admin_email: ADMIN_EMAIL.into(),
        admin_password: Some(ADMIN_PASSWORD.into()),
        cookie_secure: options.cookie_secure,
        session_idle: options.session_idle,
        session_absolute: options.session_absolute,
        import_limits: options.import_limits,
        import_workers: 2,
        import_stale_after: Duration::from_secs(30),
        import_bulk_min_rows: app::jobs::bulk::BULK_MIN_ROWS,
        sign_in_limits: options.sign_in_limits,
        request_timeout: options.request_timeout,
        revert_wait: options.revert_wait,
        header_timeout: options.header_timeout,
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> TestApp {
    let (database_url, dir) = fresh_database(backend).await;
    start(test_config(&database_url, &options), dir).await
}

/// Another instance of the server on an existing database, with `workers` import workers.
pub async fn spawn_on(database_url: &str, workers: usize) -> TestApp {
    let mut config = test_config(database_url, &Options::default());
    config.import_workers = workers;
    start(config, None).await
}

async fn start(config: Config, dir: Option<tempfile::TempDir>) -> TestApp {
    let database_url = config.database_url.clone();
    let app = Application::build(config).await.expect("server starts");
    let addr = app.local_addr();
    let db = app.db.clone();
    tokio::spawn(app.run());
    TestApp {
        addr,
        db,
        database_url,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A browser-like client with its own cookie jar that does not follow redirects.
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("HTTP client")
    }

    /// Calls a server function (`POST /api/<endpoint>`, form-encoded).
    pub async fn call(&self, client: &Client, endpoint: &str, form: &[(&str, &str)]) -> Response {
        client
            .post(self.url(&format!("/api/{endpoint}")))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn sign_in(&self, client: &Client, email: &str, password: &str) -> Response {
        self.call(client, "login", &[("email", email), ("password", password)])
            .await
    }

    /// A client signed in as the first admin.
    pub async fn admin(&self) -> Client {
        let client = self.client();
        let res = self.sign_in(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "admin signs in");
        client
    }

    /// Calls Admin → Users → Create as `client` (an empty password asks for a generated one).
    pub async fn create_user(
        &self,
        client: &Client,
        email: &str,
        role: &str,
        password: &str,
    ) -> Response {
        self.call(
            client,
            "admin/users/create",
            &[("email", email), ("role", role), ("password", password)],
        )
        .await
    }

    /// Creates a user through Admin → Users and returns a client signed in as that user.
    pub async fn user(&self, admin: &Client, email: &str, role: &str) -> Client {
        let password = "a-long-test-password";
        let res = self.create_user(admin, email, role, password).await;
        assert_eq!(res.status(), StatusCode::OK, "user {email} is created");
        let client = self.client();
        let res = self.sign_in(&client, email, password).await;
        assert_eq!(res.status(), StatusCode::OK, "{email} signs in");
        client
    }

    /// The signed-in user as the server sees it (`null` when nobody is).
    pub async fn whoami(&self, client: &Client) -> serde_json::Value {
        let res = self.call(client, "me", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("JSON")
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql,
            ))
            .await
            .expect("query")
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("an integer")
    }

    /// Runs `sql` directly on the database, as another program sharing it would.
    pub async fn execute(&self, sql: &str) -> u64 {
        self.db
            .execute_unprepared(sql)
            .await
            .expect("statement")
            .rows_affected()
    }

    pub async fn audit_count(&self, action: &str) -> i64 {
        self.scalar_i64(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE action = '{action}'"
        ))
        .await
    }
}

/// The `Set-Cookie` header that sets the session cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{}=", server::web::SESSION_COOKIE)))
        .map(str::to_owned)
}

/// Runs one scenario on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )+
        }
    };
}

/// Uploads a file through `POST /api/v1/imports`.
pub async fn upload(
    app: &TestApp,
    client: &Client,
    action: &str,
    csv: &str,
    validate_only: bool,
) -> Response {
    let form = Form::new()
        .text("title", format!("{action} test"))
        .text("action", action.to_owned())
        .text("validate_only", validate_only.to_string())
        .part(
            "file",
            Part::bytes(csv.as_bytes().to_vec()).file_name("upload.csv"),
        );
    client
        .post(app.url("/api/v1/imports"))
        .multipart(form)
        .send()
        .await
        .expect("upload")
}

/// `GET` and its JSON answer.
pub async fn get(app: &TestApp, client: &Client, path: &str) -> (StatusCode, Value) {
    let res = client.get(app.url(path)).send().await.expect("GET");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// `POST` without a body and its JSON answer.
pub async fn post(app: &TestApp, client: &Client, path: &str) -> (StatusCode, Value) {
    let res = client.post(app.url(path)).send().await.expect("POST");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// `POST` with a JSON body and its JSON answer.
pub async fn post_json(
    app: &TestApp,
    client: &Client,
    path: &str,
    body: &str,
) -> (StatusCode, Value) {
    let res = client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Uploads a file and waits until the workers have finished with it.
pub async fn import(app: &TestApp, client: &Client, action: &str, csv: &str) -> Value {
    let res = upload(app, client, action, csv, false).await;
    let status = res.status();
    let job: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::ACCEPTED, "{action}: {job}");
    wait(app, client, job["id"].as_i64().unwrap()).await
}

/// Waits until the workers have finished with a job.
pub async fn wait(app: &TestApp, client: &Client, id: i64) -> Value {
    for _ in 0..600 {
        let (status, job) = get(app, client, &format!("/api/v1/imports/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if !["new", "in_progress"].contains(&job["status"].as_str().unwrap_or("")) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("import #{id} did not finish");
}

/// Reads server-sent events from `res` until `done` holds for the jobs seen so far, or
/// `limit` passes; answers the name of every event and every job event, in order.
pub async fn events(
    mut res: reqwest::Response,
    limit: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> (Vec<String>, Vec<Value>) {
    let (mut names, mut jobs) = (Vec::new(), Vec::new());
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    while !done(&jobs) {
        let chunk = match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            _ => break,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            // As a browser reads the stream: an event without data is not dispatched.
            if !event.lines().any(|l| l.starts_with("data:")) {
                continue;
            }
            if let Some(name) = event.lines().find_map(|l| l.strip_prefix("event: ")) {
                names.push(name.to_owned());
            }
            if event.lines().any(|l| l == "event: job") {
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                jobs.push(serde_json::from_str(&data).expect("job JSON"));
            }
        }
    }
    (names, jobs)
}

/// The job events of a stream (see [`events`]).
pub async fn job_events(
    res: reqwest::Response,
    limit: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    events(res, limit, done).await.1
}

pub fn finished(id: i64) -> impl Fn(&[Value]) -> bool {
    move |jobs| {
        jobs.iter().any(|j| {
            j["id"] == id && !["new", "in_progress"].contains(&j["status"].as_str().unwrap_or(""))
        })
    }
}

pub async fn subscribe(app: &TestApp, client: &Client) -> reqwest::Response {
    let res = client
        .get(app.url("/api/v1/imports/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    res
}

/// The session cookie an answer sets (it has the `__Host-` prefix when cookies are `Secure`).
pub fn host_session_cookie(res: &Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("__Host-crm_session="))
        .expect("the session cookie has the __Host- prefix")
}
