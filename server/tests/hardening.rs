//! The server under attack (SPEC §8): sign-in floods, hostile redirect targets and the
//! browser security headers, over HTTP against the real server.

mod common;

use app::auth::throttle::{Allowance, SignInLimits};
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, Options, TestApp, spawn_app_with};
use reqwest::StatusCode;
use std::time::Duration;

fn limits(per_address: (u32, u64), per_account: (u32, u64)) -> SignInLimits {
    SignInLimits {
        per_address: Allowance {
            attempts: per_address.0,
            window: Duration::from_secs(per_address.1),
        },
        per_account: Allowance {
            attempts: per_account.0,
            window: Duration::from_secs(per_account.1),
        },
    }
}

async fn app_with_limits(backend: Backend, sign_in_limits: SignInLimits) -> TestApp {
    spawn_app_with(
        backend,
        Options {
            sign_in_limits,
            ..Default::default()
        },
    )
    .await
}

/// The tests here run in parallel in one process, and the flood test measures the process's
/// peak memory: it runs alone (a write lock), every other test beside the others (a read lock).
static ALONE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Starts the peak (`VmHWM`) over from the memory in use now (Linux: `clear_refs` 5).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's memory now and at its peak, in MiB.
fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn a_flood_of_wrong_passwords_is_refused_and_the_account_still_opens(backend: Backend) {
    // Alone while it measures this process's memory (see `ALONE`).
    let _alone = ALONE.write().await;
    reset_peak_memory();
    // Only the account's allowance is under test here: five failures in four seconds.
    let app = app_with_limits(backend, limits((10_000, 60), (5, 4))).await;
    let (rss_before, _) = memory_mib();

    // 300 wrong passwords for one account, all at once, each from its own connection.
    let attempts = (0..300).map(|_| {
        let client = app.client();
        let url = app.url("/api/login");
        async move {
            let res = client
                .post(url)
                .form(&[("email", ADMIN_EMAIL), ("password", "wrong-password")])
                .send()
                .await
                .expect("every attempt is answered");
            let retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().expect("whole seconds"));
            (res.status(), retry_after)
        }
    });
    // Meanwhile the sign-in page still answers.
    let page = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        app.client()
            .get(app.url("/login"))
            .send()
            .await
            .expect("the sign-in page answers")
            .status()
    };
    let (answers, page) = tokio::join!(futures_util::future::join_all(attempts), page);
    assert_eq!(page, StatusCode::OK);

    let verified = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    let refused: Vec<u64> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .map(|(_, retry)| retry.expect("a 429 says when to retry"))
        .collect();
    assert_eq!(verified, 5, "only the allowance reaches the password check");
    assert_eq!(refused.len(), 295, "the rest are refused");
    assert!(refused.iter().all(|s| (1..=4).contains(s)), "{refused:?}");
    assert_eq!(app.audit_count("sign_in.failed").await, 5);
    assert_eq!(
        app.audit_count("sign_in.throttled").await,
        1,
        "a burst is audited once"
    );
    let (_, peak) = memory_mib();
    assert!(
        peak < rss_before + 250,
        "memory stays bounded: {rss_before} MiB before, {peak} MiB at the peak"
    );

    // Even the right password waits for the window…
    let client = app.client();
    let res = app.sign_in(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(body.contains("Too many sign-in attempts"), "{body}");
    // …and works once it has passed.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let res = app.sign_in(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.whoami(&client).await["email"], ADMIN_EMAIL);
}

async fn one_address_cannot_try_many_accounts(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = app_with_limits(backend, limits((10, 60), (100, 60))).await;
    let attempts = (0..30).map(|i| {
        let client = app.client();
        let url = app.url("/api/login");
        async move {
            client
                .post(url)
                .form(&[
                    ("email", format!("user{i}@example.com")),
                    ("password", "guess-guess".into()),
                ])
                .send()
                .await
                .expect("answered")
                .status()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(count(StatusCode::UNAUTHORIZED), 10, "{statuses:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 20, "{statuses:?}");
    assert_eq!(app.audit_count("sign_in.failed").await, 10);
    assert_eq!(app.audit_count("sign_in.throttled").await, 1);
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'sign_in.throttled' \
             AND subject = '127.0.0.1'"
        )
        .await,
        1
    );
}

async fn hostile_next_values_end_on_a_local_page(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = app_with_limits(backend, limits((1_000, 60), (1_000, 60))).await;
    let long = format!("/clients?q={}", "a".repeat(5_000));
    for next in [
        "/\t/evil.example",
        "/\t/\t/evil.example",
        "/\n/evil.example",
        "/\r\nSet-Cookie: stolen=1",
        "/\r/evil.example",
        "/\u{1}",
        "/\u{7f}x",
        "//evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "HTTPS:evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/ /evil.example",
        "/\u{3000}/evil.example",
        long.as_str(),
    ] {
        for plain_form in [false, true] {
            let client = app.client();
            let mut req = client.post(app.url("/api/login")).form(&[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", next),
            ]);
            if plain_form {
                req = req.header("Accept", "text/html");
            }
            let res = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{next:?}: the connection was dropped: {e}"));
            assert!(
                matches!(res.status(), StatusCode::OK | StatusCode::FOUND),
                "{next:?}: {}",
                res.status()
            );
            assert_eq!(res.headers()["location"], "/clients", "{next:?}");
        }
    }
}

/// The nonce a page's Content-Security-Policy allows.
fn nonce_of(policy: &str) -> &str {
    let start = policy.find("'nonce-").expect("a nonce") + "'nonce-".len();
    let end = start + policy[start..].find('\'').expect("closed");
    &policy[start..end]
}

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    let anonymous = app.client();
    let job = common::import(
        &app,
        &admin,
        "import-users",
        "Email,First name\nnot-an-email,A\n",
    )
    .await;
    let file = format!("/api/v1/imports/{}/file", job["id"]);
    let errors = format!("/api/v1/imports/{}/errors.csv", job["id"]);
    for (client, path) in [
        (&admin, file.as_str()),
        (&admin, errors.as_str()),
        (&anonymous, "/login"),
        (&admin, "/clients"),
        (&admin, "/imports/999999"),
        (&admin, "/no-such-page"),
        (&anonymous, "/clients"),
        (&anonymous, "/api/v1/clients"),
        (&admin, "/api/v1/clients"),
        (&admin, "/api/v1/clients.csv"),
        (&admin, "/favicon.svg"),
    ] {
        let res = client.get(app.url(path)).send().await.unwrap();
        let headers = res.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert!(headers.get("strict-transport-security").is_none(), "{path}");
        let policy = header("content-security-policy");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        let is_page = headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
        if is_page {
            // Every inline script of the page carries the policy's nonce, and no other
            // script runs.
            let nonce = nonce_of(&policy).to_owned();
            assert!(nonce.len() >= 16, "{path}: {policy}");
            let html = res.text().await.unwrap();
            let scripts = html.matches("<script").count();
            assert!(scripts > 0, "{path}");
            assert_eq!(
                html.matches(&format!("nonce=\"{nonce}\"")).count(),
                scripts,
                "{path}: every script has the nonce"
            );
        } else {
            assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
        }
    }
    // A second page gets another nonce.
    let a = anonymous.get(app.url("/login")).send().await.unwrap();
    let b = anonymous.get(app.url("/login")).send().await.unwrap();
    assert_ne!(
        nonce_of(a.headers()["content-security-policy"].to_str().unwrap()),
        nonce_of(b.headers()["content-security-policy"].to_str().unwrap())
    );
}

async fn secure_cookies_come_with_hsts_and_the_host_prefix(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(
        backend,
        Options {
            cookie_secure: true,
            ..Default::default()
        },
    )
    .await;
    let client = app.client();
    let res = app.sign_in(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = common::host_session_cookie(&res);
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let page = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

/// Answers `/login` over and over until `done` is set, and returns the slowest answer.
async fn keep_asking_for_login(app: &TestApp, done: &std::sync::atomic::AtomicBool) -> Duration {
    let client = app.client();
    let mut slowest = Duration::ZERO;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let started = std::time::Instant::now();
        let res = client.get(app.url("/login")).send().await.expect("/login");
        assert_eq!(res.status(), StatusCode::OK);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    slowest
}

async fn a_file_of_unclosed_quotes_is_read_once_and_off_the_request_threads(backend: Backend) {
    let _shared = ALONE.read().await;
    use std::sync::atomic::{AtomicBool, Ordering};
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    // 5,000 rows whose name opens a quote that the row never closes, each followed by a
    // thousand blank lines: 5 MB, just under the default limit.
    let mut csv = String::from("email,first_name,last_name,country\n");
    for i in 0..5_000 {
        csv.push_str(&format!("u{i}@example.com,\"Ann{i},Smith,GB\n"));
        csv.push_str(&"\n".repeat(1_000));
    }
    assert!(csv.len() > 5_000_000 && csv.len() <= 5 * 1024 * 1024);

    let done = AtomicBool::new(false);
    let work = async {
        let res = common::upload(&app, &admin, "import-users", &csv, false).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        let job: serde_json::Value = res.json().await.unwrap();
        let job = common::wait(&app, &admin, job["id"].as_i64().unwrap()).await;
        let report = admin
            .get(app.url(&format!("/api/v1/imports/{}/errors.csv", job["id"])))
            .send()
            .await
            .unwrap();
        assert_eq!(report.status(), StatusCode::OK);
        let report = report.text().await.unwrap();
        done.store(true, Ordering::SeqCst);
        (job, report)
    };
    let ((job, report), slowest) = tokio::join!(work, keep_asking_for_login(&app, &done));
    // Each quote runs to the next row's, so every row is read, and each is refused for what it
    // holds, on its own line.
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["total_rows"], 2_500, "{job}");
    assert_eq!(job["errors"], 2_500, "{job}");
    assert_eq!(
        report.lines().count(),
        2_501,
        "a header and a line a failed row"
    );
    assert!(
        slowest < Duration::from_secs(3),
        "the sign-in page answered meanwhile, the slowest in {slowest:?}"
    );
}

/// Fills the client table up to `total` clients, copies of the one already there.
async fn clients_up_to(app: &TestApp, total: i64) {
    use sea_orm::ConnectionTrait;
    let columns = "email, username, first_name, verification_level, project_id, desk_id, \
                   active, type, created_at, updated_at";
    let copied = "'c' || i || '@example.com', 'c' || i, first_name, verification_level, \
                  project_id, desk_id, active, type, created_at, updated_at";
    let sql = match app.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => format!(
            "INSERT INTO client ({columns}) SELECT {copied} \
             FROM generate_series(2, {total}) AS i, (SELECT * FROM client LIMIT 1) AS c"
        ),
        _ => format!(
            "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < {total}) \
             INSERT INTO client ({columns}) SELECT {copied} \
             FROM n, (SELECT * FROM client LIMIT 1)"
        ),
    };
    app.db
        .execute_unprepared(&sql)
        .await
        .expect("clients copied");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM client").await, total);
}

async fn slow_downloads_do_not_hold_the_database(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    let job = common::import(
        &app,
        &admin,
        "import-users",
        "Email,First name\nc1@example.com,C\n",
    )
    .await;
    assert_eq!(job["created"], 1, "{job}");
    clients_up_to(&app, 100_000).await;
    let mary = app.user(&admin, "mary@example.com", "manager").await;

    // Eight downloads of the whole table that read a first piece and then stall: as many as
    // SQLite's pool has connections.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let mut res = admin
            .get(app.url("/api/v1/clients.csv"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let first = res.chunk().await.unwrap().expect("a first piece");
        assert!(first.starts_with(b"\xEF\xBB\xBFID,Email,"));
        stalled.push((first, res));
    }
    // Meanwhile another user's pages answer, and quickly (the median of five tries, so that a
    // moment of the machine's other work does not decide it).
    let mut took = Vec::new();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let page = mary.get(app.url("/clients")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("@example.com"));
        let (status, list) = common::get(&app, &mary, "/api/v1/clients?per_page=5").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["total"], 100_000);
        took.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    took.sort();
    assert!(
        took[2] < Duration::from_secs(1),
        "the Clients page and list took {took:?}"
    );
    // Each stalled download is still whole when it is read at last.
    let (first, mut last) = stalled.pop().unwrap();
    let mut whole = first.to_vec();
    while let Some(piece) = last.chunk().await.unwrap() {
        whole.extend_from_slice(&piece);
    }
    let lines = whole.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines, 100_001, "a header and every client");
}

/// An admin change and its audit entry are one transaction: when the audit log cannot be
/// written, nothing changes.
async fn an_admin_change_without_its_audit_entry_does_not_happen(backend: Backend) {
    let _shared = ALONE.read().await;
    use sea_orm::ConnectionTrait;
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    let res = app
        .create_user(
            &admin,
            "olga@example.com",
            "operator",
            "a-long-test-password",
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let olga = app
        .scalar_i64("SELECT id FROM back_office_user WHERE email = 'olga@example.com'")
        .await
        .to_string();
    let res = app
        .call(
            &admin,
            "admin/tokens/create",
            &[("owner_email", "olga@example.com"), ("name", "ci")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = app
        .scalar_i64("SELECT MAX(id) FROM api_token")
        .await
        .to_string();
    let res = app
        .call(&admin, "ib-programs/create", &[("name", "Gold")])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let program = app
        .scalar_i64("SELECT MAX(id) FROM ib_program")
        .await
        .to_string();
    let state = async || {
        let mut counts = Vec::new();
        for sql in [
            "SELECT COUNT(*) FROM back_office_user",
            "SELECT COUNT(*) FROM back_office_user WHERE role = 'operator' AND active = TRUE",
            "SELECT COUNT(*) FROM api_token WHERE revoked_at IS NULL",
            "SELECT COUNT(*) FROM project",
            "SELECT COUNT(*) FROM desk",
            "SELECT COUNT(*) FROM ib_program WHERE name = 'Gold'",
            "SELECT COUNT(*) FROM session",
        ] {
            counts.push(app.scalar_i64(sql).await);
        }
        counts
    };
    let before = state().await;

    app.db
        .execute_unprepared("ALTER TABLE audit_event RENAME TO audit_event_away")
        .await
        .unwrap();
    for (endpoint, form) in [
        (
            "admin/users/create",
            vec![
                ("email", "new@example.com"),
                ("role", "operator"),
                ("password", "a-long-test-password"),
            ],
        ),
        (
            "admin/users/role",
            vec![("id", olga.as_str()), ("role", "manager")],
        ),
        (
            "admin/users/active",
            vec![("id", olga.as_str()), ("active", "false")],
        ),
        ("admin/users/reset-password", vec![("id", olga.as_str())]),
        (
            "admin/tokens/create",
            vec![("owner_email", "olga@example.com"), ("name", "two")],
        ),
        ("admin/tokens/revoke", vec![("id", token.as_str())]),
        ("admin/projects/create", vec![("name", "Asia")]),
        (
            "admin/desks/create",
            vec![("project", "1"), ("name", "Second")],
        ),
        ("ib-programs/create", vec![("name", "Silver")]),
        (
            "ib-programs/rename",
            vec![("id", program.as_str()), ("name", "Platinum")],
        ),
    ] {
        let res = app.call(&admin, endpoint, &form).await;
        assert_eq!(
            res.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{endpoint}"
        );
    }
    app.db
        .execute_unprepared("ALTER TABLE audit_event_away RENAME TO audit_event")
        .await
        .unwrap();
    assert_eq!(state().await, before, "nothing changed");
}

/// Two admins demoting each other at the same moment: one wins, the back office keeps an
/// admin.
async fn two_admins_cannot_demote_each_other_at_once(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(backend, Options::default()).await;
    let first = app.admin().await;
    let second = app.user(&first, "second@example.com", "admin").await;
    let id_of = async |email: &str| {
        app.scalar_i64(&format!(
            "SELECT id FROM back_office_user WHERE email = '{email}'"
        ))
        .await
        .to_string()
    };
    let (first_id, second_id) = (id_of(ADMIN_EMAIL).await, id_of("second@example.com").await);
    for round in 0..10 {
        let demote_second = [("id", second_id.as_str()), ("role", "operator")];
        let demote_first = [("id", first_id.as_str()), ("role", "operator")];
        let (a, b) = tokio::join!(
            app.call(&first, "admin/users/role", &demote_second),
            app.call(&second, "admin/users/role", &demote_first),
        );
        let statuses = [a.status(), b.status()];
        let admins = app
            .scalar_i64(
                "SELECT COUNT(*) FROM back_office_user WHERE role = 'admin' AND active = TRUE",
            )
            .await;
        assert_eq!(admins, 1, "round {round}: {statuses:?}");
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "round {round}: {statuses:?}"
        );
        // The one left promotes the other again.
        let (winner, loser) = if a.status() == StatusCode::OK {
            (&first, second_id.as_str())
        } else {
            (&second, first_id.as_str())
        };
        let res = app
            .call(
                winner,
                "admin/users/role",
                &[("id", loser), ("role", "admin")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}

/// Every text of an upload has a limit, said in the refusal; a refused upload creates no job.
async fn an_uploads_texts_have_limits(backend: Backend) {
    let _shared = ALONE.read().await;
    use reqwest::multipart::{Form, Part};
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    let long_name = format!("{}.csv", "f".repeat(300));
    for (title, description, file_name, status, expected) in [
        (
            "t".repeat(201),
            String::new(),
            "a.csv",
            422,
            "The title is 201 characters long; the limit is 200.",
        ),
        (
            "ok".into(),
            "d".repeat(2_001),
            "a.csv",
            422,
            "The description is 2001 characters long; the limit is 2000.",
        ),
        (
            "ok".into(),
            String::new(),
            long_name.as_str(),
            422,
            "The file name is 304 characters long; the limit is 255.",
        ),
        (
            "two\nlines".into(),
            String::new(),
            "a.csv",
            422,
            "The title cannot hold line breaks",
        ),
        // A control character cannot even travel in the part's header.
        (
            "ok".into(),
            String::new(),
            "a\u{1b}[1m.csv",
            400,
            "The upload could not be read",
        ),
    ] {
        let form = Form::new()
            .text("title", title.clone())
            .text("description", description)
            .text("action", "import-users")
            .part(
                "file",
                Part::bytes(b"Email,First name\na@example.com,A\n".to_vec())
                    .file_name(file_name.to_owned()),
            );
        let res = admin
            .post(app.url("/api/v1/imports"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{title:?} {file_name:?}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(expected),
            "{title:?} {file_name:?}: {body}"
        );
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM import_job").await, 0);
}

/// A session ended on the server stays ended, even when a request that was still running
/// saves it afterwards.
async fn an_ended_session_is_not_brought_back_by_a_late_save(backend: Backend) {
    let _shared = ALONE.read().await;
    use tower_sessions::SessionStore;
    use tower_sessions::session::{Id, Record};
    let app = spawn_app_with(backend, Options::default()).await;
    let store = app::auth::session_store::DbSessionStore::new(app.db.clone());
    let mut record = Record {
        id: Id::default(),
        data: [("user_id".to_owned(), serde_json::json!(1))].into(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_some());
    record
        .data
        .insert("touched".into(), serde_json::json!(true));
    store.save(&record).await.unwrap();
    let saved = store.load(&record.id).await.unwrap().expect("still there");
    assert_eq!(saved.data["touched"], true, "a save updates a live session");

    store.delete(&record.id).await.unwrap();
    store.save(&record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM session").await, 0);
}

/// One user cannot pile up live event streams; others are not affected.
async fn a_user_has_a_bounded_number_of_live_streams(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    let olga = app.user(&admin, "olga@example.com", "operator").await;
    let events = app.url("/api/v1/imports/events");
    let mut open = Vec::new();
    for _ in 0..app::services::live::MAX_STREAMS_PER_USER {
        let res = olga.get(&events).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        open.push(res);
    }
    let res = olga.get(&events).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("live pages open"),
        "{body}"
    );
    let res = admin.get(&events).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "another user is not affected");
    drop(open);
}

/// A password reset or disabling a user ends their API tokens too, for good.
async fn tokens_end_with_a_password_reset_or_a_disabling(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    app.user(&admin, "olga@example.com", "operator").await;
    let olga = app
        .scalar_i64("SELECT id FROM back_office_user WHERE email = 'olga@example.com'")
        .await
        .to_string();
    let issue = async || {
        let res = app
            .call(
                &admin,
                "admin/tokens/create",
                &[("owner_email", "olga@example.com"), ("name", "script")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let issued: serde_json::Value = res.json().await.unwrap();
        issued["secret"]
            .as_str()
            .expect("the token, shown once")
            .to_owned()
    };
    let works = async |token: &str| {
        app.client()
            .get(app.url("/api/v1/clients"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    let token = issue().await;
    assert_eq!(works(&token).await, StatusCode::OK);
    let res = app
        .call(
            &admin,
            "admin/users/reset-password",
            &[("id", olga.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(works(&token).await, StatusCode::UNAUTHORIZED);

    let token = issue().await;
    assert_eq!(works(&token).await, StatusCode::OK);
    for active in ["false", "true"] {
        let res = app
            .call(
                &admin,
                "admin/users/active",
                &[("id", olga.as_str()), ("active", active)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(
        works(&token).await,
        StatusCode::UNAUTHORIZED,
        "re-enabling the user does not bring the token back"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM api_token WHERE revoked_at IS NULL")
            .await,
        0
    );
}

/// Refusals of anonymous requests cannot grow the audit log without bound.
async fn an_anonymous_flood_is_audited_within_an_allowance(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(backend, Options::default()).await;
    let client = app.client();
    for _ in 0..60 {
        let res = client
            .post(app.url("/api/login"))
            .header("Origin", "https://evil.example")
            .form(&[("email", ADMIN_EMAIL), ("password", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "every one is refused");
    }
    assert_eq!(
        app.audit_count("access.cross_site_refused").await,
        i64::from(app::services::audit::ANONYMOUS_REFUSALS_PER_MINUTE)
    );
}

/// A job's messages come in pages everywhere: the API's list (with the total and the next
/// page's address in headers), and the details page's errors and log.
async fn message_lists_come_in_pages(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = common::spawn_app(backend).await;
    let admin = app.admin().await;
    let mut csv = String::from("Email,First name,Last name,Country\n");
    for i in 0..1201 {
        csv.push_str(&format!("not-an-email-{i},Ann,Lee,GB\n"));
    }
    let job = common::import(&app, &admin, "import-users", &csv).await;
    assert_eq!(job["errors"], 1201, "{job}");
    let id = job["id"].as_i64().unwrap();

    let mut lines = Vec::new();
    let mut next = Some(format!("/api/v1/imports/{id}/messages?level=error"));
    let mut pages = 0;
    while let Some(path) = next.take() {
        let res = admin.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-total-count"], "1201");
        next = res.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_owned()
        });
        let items: Vec<serde_json::Value> = res.json().await.unwrap();
        assert!(items.len() <= 500, "a page holds at most 500 messages");
        lines.extend(items.iter().map(|m| m["line"].as_i64().unwrap()));
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(
        lines,
        (2..=1202).collect::<Vec<i64>>(),
        "each error once, in order"
    );

    let (status, small) = common::get(
        &app,
        &admin,
        &format!("/api/v1/imports/{id}/messages?level=error&page=2&per_page=1000"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(small.as_array().unwrap().len(), 500, "per_page is capped");

    let res = app
        .call(
            &admin,
            "imports/show",
            &[("id", &id.to_string()), ("error_page", "25")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let details: serde_json::Value = res.json().await.unwrap();
    assert_eq!(details["errors"]["total"], 1201);
    assert_eq!(details["errors"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(details["errors"]["items"][0]["line"], 1202);
    assert_eq!(details["log"]["page"], 1);
    assert_eq!(details["log"]["per_page"], 50);
    let page = admin
        .get(app.url(&format!("/imports/{id}?errors=2")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Page 2 of 25"),
        "the error pager says where the reader is"
    );
}

/// An upload that dribbles in is stopped at the request timeout (uploads get four times the
/// limit) with a 408 and a message, and the server goes on answering meanwhile.
async fn a_request_that_takes_too_long_is_stopped(backend: Backend) {
    let _shared = ALONE.read().await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(
        backend,
        Options {
            request_timeout: Duration::from_millis(500),
            ..Options::default()
        },
    )
    .await;
    let anonymous = app.client();
    let res = app.sign_in(&anonymous, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cookie = common::session_cookie(res.headers()).expect("a session cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();

    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let boundary = "slowslowslow";
    let head = format!(
        "POST /api/v1/imports HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: 100000\r\n\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"title\"\r\n\r\nslow\r\n",
        app.addr
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let admin = app.admin().await;
    let mut answer = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        // A byte every 100 ms: far slower than the file's size needs.
        let _ = socket.write_all(b"x").await;
        tokio::select! {
            read = socket.read(&mut piece) => {
                let n = read.unwrap_or(0);
                answer.extend_from_slice(&piece[..n]);
                if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                    break;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                // Meanwhile, other requests are answered.
                let (status, _) = common::get(&app, &admin, "/api/v1/imports").await;
                assert_eq!(status, StatusCode::OK);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the upload was never stopped"
        );
    }
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("took too long"), "{answer}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "an upload is allowed four times the limit: stopped after {took:?}"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM import_job").await,
        0,
        "nothing of the stopped upload was kept"
    );
}

/// A revert goes on by itself when the request that asked for it stops waiting: it is not
/// rolled back with the request.
async fn a_revert_outlives_its_request(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(
        backend,
        Options {
            revert_wait: Duration::ZERO,
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin().await;
    let mut csv = String::from("Email,First name,Last name,Country\n");
    for i in 0..2000 {
        csv.push_str(&format!("client{i}@example.com,Ann,Lee,GB\n"));
    }
    let job = common::import(&app, &admin, "import-users", &csv).await;
    assert_eq!(job["created"], 2000, "{job}");
    let id = job["id"].as_i64().unwrap();
    let (status, answer) =
        common::post(&app, &admin, &format!("/api/v1/imports/{id}/revert")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["revert"], serde_json::Value::Null);
    let mut ended = false;
    for _ in 0..200 {
        let (_, job) = common::get(&app, &admin, &format!("/api/v1/imports/{id}")).await;
        if job["status"] == "reverted" {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended, "the revert finished on its own");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM client").await, 0);

    let res = app
        .call(&admin, "imports/revert", &[("id", &id.to_string())])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "a second revert is refused"
    );
}

/// A token issued for some days stops working at its end; the number of days is checked.
async fn a_token_ends_at_its_expiry(backend: Backend) {
    let _shared = ALONE.read().await;
    use app::entities::api_token;
    use sea_orm::{EntityTrait, QueryFilter, sea_query::Expr};
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    for (days, why) in [
        ("0", "1 to 3650 days"),
        ("3651", "1 to 3650 days"),
        ("x", "number of days"),
    ] {
        let res = app
            .call(
                &admin,
                "admin/tokens/create",
                &[
                    ("owner_email", ADMIN_EMAIL),
                    ("name", "script"),
                    ("days", days),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{days}");
        assert!(res.text().await.unwrap().contains(why), "{days}");
    }
    let res = app
        .call(
            &admin,
            "admin/tokens/create",
            &[
                ("owner_email", ADMIN_EMAIL),
                ("name", "script"),
                ("days", "30"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let issued: serde_json::Value = res.json().await.unwrap();
    let secret = issued["secret"].as_str().unwrap().to_owned();
    let works = async || {
        app.client()
            .get(app.url("/api/v1/clients"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(works().await, StatusCode::OK);
    let listed: serde_json::Value = app
        .call(&admin, "admin/tokens", &[])
        .await
        .json()
        .await
        .unwrap();
    let end =
        chrono::DateTime::parse_from_rfc3339(listed[0]["expires_at"].as_str().unwrap()).unwrap();
    let days = (end.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!(
        (29 * 24..=30 * 24).contains(&days),
        "valid for 30 days: {days} h"
    );

    api_token::Entity::update_many()
        .col_expr(
            api_token::Column::ExpiresAt,
            Expr::value(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
        )
        .filter(sea_orm::ColumnTrait::eq(
            &api_token::Column::Id,
            issued["id"].as_i64().unwrap(),
        ))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(
        works().await,
        StatusCode::UNAUTHORIZED,
        "an expired token is refused"
    );
}

/// A user changes their own password: the current one is needed (and counted as sign-in
/// attempts are), a weak or mistyped new one is refused, the other sessions end, this one
/// stays.
async fn a_user_changes_their_own_password(backend: Backend) {
    let _shared = ALONE.read().await;
    let app = spawn_app_with(backend, Options::default()).await;
    let admin = app.admin().await;
    let here = app.user(&admin, "olga@example.com", "operator").await;
    let elsewhere = app.client();
    let res = app
        .sign_in(&elsewhere, "olga@example.com", "a-long-test-password")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let change = async |current: &str, new: &str, repeat: &str| {
        let res = app
            .call(
                &here,
                "account/password",
                &[("current", current), ("new", new), ("repeat", repeat)],
            )
            .await;
        (res.status(), res.text().await.unwrap())
    };
    let good = "a new and long passphrase";
    for (current, new, repeat, why) in [
        (
            "wrong-password-here",
            good,
            good,
            "current password is not right",
        ),
        (
            "a-long-test-password",
            "qwertyuiop",
            "qwertyuiop",
            "most common",
        ),
        (
            "a-long-test-password",
            "Password123",
            "Password123",
            "most common",
        ),
        ("a-long-test-password", "short", "short", "at least 10"),
        (
            "a-long-test-password",
            good,
            "a new and long passphrasE",
            "differ",
        ),
        (
            "a-long-test-password",
            "a-long-test-password",
            "a-long-test-password",
            "the same",
        ),
    ] {
        let (status, body) = change(current, new, repeat).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{new}: {body}");
        assert!(body.contains(why), "{new}: {body}");
    }
    assert_eq!(
        app.audit_count("sign_in.failed").await,
        1,
        "a wrong current password counts"
    );
    let (status, body) = change("a-long-test-password", good, good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("other session was ended"), "{body}");
    assert_eq!(
        app.whoami(&here).await["email"],
        "olga@example.com",
        "this session stays"
    );
    assert!(
        app.whoami(&elsewhere).await.is_null(),
        "the other session has ended"
    );
    assert_eq!(app.audit_count("user.password_changed").await, 1);
    let again = app.client();
    let old = app
        .sign_in(&again, "olga@example.com", "a-long-test-password")
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app.sign_in(&again, "olga@example.com", good).await;
    assert_eq!(new.status(), StatusCode::OK);

    let res = app
        .call(
            &app.client(),
            "account/password",
            &[("current", good), ("new", "x"), ("repeat", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "nobody signed in");
}

/// A client that sends its request headers a byte at a time (slowloris) is cut off at the
/// header time limit; the server answers others meanwhile.
async fn slow_headers_are_cut_off(backend: Backend) {
    let _shared = ALONE.read().await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(
        backend,
        Options {
            header_timeout: Duration::from_millis(500),
            ..Options::default()
        },
    )
    .await;
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    socket
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut piece = [0u8; 1024];
    let closed = loop {
        if socket.write_all(b"a").await.is_err() {
            break true;
        }
        tokio::select! {
            read = socket.read(&mut piece) => {
                // The answer, if any, is a refusal; then the connection ends.
                match read {
                    Ok(0) | Err(_) => break true,
                    Ok(n) => assert!(!String::from_utf8_lossy(&piece[..n]).starts_with("HTTP/1.1 200")),
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        if started.elapsed() > Duration::from_secs(5) {
            break false;
        }
    };
    assert!(
        closed,
        "the slow client still held its connection after 5 s"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let res = app.client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

on_both_databases!(
    slow_headers_are_cut_off,
    a_token_ends_at_its_expiry,
    a_user_changes_their_own_password,
    a_request_that_takes_too_long_is_stopped,
    a_revert_outlives_its_request,
    message_lists_come_in_pages,
    an_anonymous_flood_is_audited_within_an_allowance,
    tokens_end_with_a_password_reset_or_a_disabling,
    a_user_has_a_bounded_number_of_live_streams,
    an_admin_change_without_its_audit_entry_does_not_happen,
    two_admins_cannot_demote_each_other_at_once,
    an_uploads_texts_have_limits,
    an_ended_session_is_not_brought_back_by_a_late_save,
    slow_downloads_do_not_hold_the_database,
    a_file_of_unclosed_quotes_is_read_once_and_off_the_request_threads,
    a_flood_of_wrong_passwords_is_refused_and_the_account_still_opens,
    one_address_cannot_try_many_accounts,
    hostile_next_values_end_on_a_local_page,
    every_answer_carries_the_security_headers,
    secure_cookies_come_with_hsts_and_the_host_prefix,
);
