//! The authorization matrix: every row of `server/src/access.rs` (each API route, server
//! function and page) called as each kind of caller, on both databases. The answer must be the
//! one the row's rule gives: allowed, 401 (or the sign-in page) or 403 (written to the audit
//! log; an operator is refused another operator's import). The server functions and pages
//! the app registers must be exactly the table's, and every row needs a sample request here,
//! so a new route without a row (or a row without a test) fails.

mod common;

use app::auth::throttle::{Allowance, SignInLimits};
use common::{Backend, Options, TestApp, spawn_app_with};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use server::access::{API, Allowed as Rule, Endpoint, PAGES, SERVER_FUNCTIONS};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    /// An operator who started the imports the samples name.
    Owner,
    OtherOperator,
    Manager,
    Admin,
    /// An API token of the owner.
    Token,
}

/// In this order: those refused first, so that what the allowed ones change (a revert, a
/// confirmation) does not decide the answers of the others.
const CALLERS: [Who; 6] = [
    Who::Anonymous,
    Who::OtherOperator,
    Who::Manager,
    Who::Token,
    Who::Owner,
    Who::Admin,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Allowed,
    /// 401, or for a page the way to the sign-in page.
    SignInFirst,
    Forbidden,
    /// 404: not found, which no sample asks for.
    Missing,
}

fn expected(rule: Rule, who: Who) -> Answer {
    use Answer::*;
    match (rule, who) {
        (Rule::Everyone, _) => Allowed,
        (_, Who::Anonymous) => SignInFirst,
        (Rule::SignedIn, _) => Allowed,
        (Rule::Importers, Who::Manager) => Forbidden,
        (Rule::Importers, _) => Allowed,
        (Rule::Exporters, Who::Owner | Who::OtherOperator | Who::Token) => Forbidden,
        (Rule::Exporters, _) => Allowed,
        (Rule::Admins, Who::Admin) => Allowed,
        (Rule::Admins, _) => Forbidden,
        (Rule::SeesJob, Who::OtherOperator) => Forbidden,
        (Rule::SeesJob, _) => Allowed,
        (Rule::ChangesJob, Who::OtherOperator | Who::Manager) => Forbidden,
        (Rule::ChangesJob, _) => Allowed,
    }
}

/// How a row is called: its path (placeholders in braces are filled from the setup) and body.
enum Sample {
    Get(&'static str),
    Form(&'static str, &'static [(&'static str, &'static str)]),
    Json(&'static str, &'static str),
    Upload(&'static str),
}

/// A sample request for each row, keyed by `METHOD path`. A refusal that comes from what the
/// sample asks (a wrong password) rather than from who asks is given as the allowed status.
fn samples() -> HashMap<&'static str, (Sample, Option<u16>)> {
    use Sample::*;
    let mut s: HashMap<&'static str, (Sample, Option<u16>)> = HashMap::new();
    let mut add = |key, sample, status| {
        assert!(s.insert(key, (sample, status)).is_none(), "{key} twice");
    };
    // The API.
    add("GET /api/v1/imports", Get("/api/v1/imports"), None);
    add("POST /api/v1/imports", Upload("/api/v1/imports"), None);
    add("POST /imports/upload", Upload("/imports/upload"), None);
    add(
        "GET /api/v1/imports/events",
        Get("/api/v1/imports/events"),
        None,
    );
    add(
        "GET /templates/{name}",
        Get("/templates/import-users.csv"),
        None,
    );
    add(
        "GET /api/v1/imports/{id}",
        Get("/api/v1/imports/{job}"),
        None,
    );
    add(
        "GET /api/v1/imports/{id}/messages",
        Get("/api/v1/imports/{job}/messages"),
        None,
    );
    add(
        "GET /api/v1/imports/{id}/errors.csv",
        Get("/api/v1/imports/{job}/errors.csv"),
        None,
    );
    add(
        "GET /api/v1/imports/{id}/file",
        Get("/api/v1/imports/{job}/file"),
        None,
    );
    add(
        "POST /api/v1/imports/{id}/confirm",
        Form("/api/v1/imports/{awaiting}/confirm", &[]),
        None,
    );
    add(
        "POST /api/v1/imports/{id}/discard",
        Form("/api/v1/imports/{to_discard}/discard", &[]),
        None,
    );
    add(
        "POST /api/v1/imports/{id}/revert",
        Form("/api/v1/imports/{to_revert}/revert", &[]),
        None,
    );
    add("GET /api/v1/clients", Get("/api/v1/clients"), None);
    add("GET /api/v1/clients.csv", Get("/api/v1/clients.csv"), None);
    add(
        "GET /api/v1/accounts.csv",
        Get("/api/v1/accounts.csv"),
        None,
    );
    add(
        "GET /api/v1/clients/{id}",
        Get("/api/v1/clients/{client}"),
        None,
    );
    add("GET /api/v1/accounts", Get("/api/v1/accounts"), None);
    add("GET /api/v1/ib-programs", Get("/api/v1/ib-programs"), None);
    add(
        "POST /api/v1/ib-programs",
        Json("/api/v1/ib-programs", r#"{"name": "Silver {n}"}"#),
        None,
    );
    // Server functions.
    add(
        "POST /api/login",
        Form(
            "/api/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "not-the-password"),
            ],
        ),
        Some(401),
    );
    add("POST /api/logout", Form("/api/logout", &[]), None);
    add("POST /api/me", Form("/api/me", &[]), None);
    add(
        "POST /api/account/password",
        Form(
            "/api/account/password",
            &[
                ("current", "not-the-current-password"),
                ("new", "a new and long passphrase"),
                ("repeat", "a new and long passphrase"),
            ],
        ),
        None,
    );
    add(
        "POST /api/notifications",
        Form("/api/notifications", &[]),
        None,
    );
    add(
        "POST /api/notifications/read",
        Form("/api/notifications/read", &[]),
        None,
    );
    add("POST /api/overview", Form("/api/overview", &[]), None);
    add(
        "POST /api/clients/list",
        Form("/api/clients/list", &[("filter[sort][desc]", "false")]),
        None,
    );
    add(
        "POST /api/clients/show",
        Form("/api/clients/show", &[("id", "{client}")]),
        None,
    );
    add(
        "POST /api/accounts/list",
        Form("/api/accounts/list", &[("filter[sort][desc]", "false")]),
        None,
    );
    add(
        "POST /api/ib-programs/list",
        Form("/api/ib-programs/list", &[]),
        None,
    );
    add(
        "POST /api/ib-programs/show",
        Form(
            "/api/ib-programs/show",
            &[("id", "{program}"), ("clients", "false")],
        ),
        None,
    );
    add(
        "POST /api/ib-programs/create",
        Form("/api/ib-programs/create", &[("name", "Gold {n}")]),
        None,
    );
    add(
        "POST /api/ib-programs/rename",
        Form(
            "/api/ib-programs/rename",
            &[("id", "{program}"), ("name", "Platinum {n}")],
        ),
        None,
    );
    add(
        "POST /api/imports/list",
        Form("/api/imports/list", &[]),
        None,
    );
    add(
        "POST /api/imports/rules",
        Form("/api/imports/rules", &[]),
        None,
    );
    add(
        "POST /api/imports/show",
        Form("/api/imports/show", &[("id", "{job}")]),
        None,
    );
    add(
        "POST /api/imports/mapping",
        Form("/api/imports/mapping", &[("id", "{drafted}")]),
        None,
    );
    add(
        "POST /api/imports/mapping/choose",
        Form(
            "/api/imports/mapping/choose",
            &[
                ("id", "{drafted}"),
                ("targets[0]", "Email"),
                ("targets[1]", "First name"),
            ],
        ),
        None,
    );
    add(
        "POST /api/imports/correct",
        Form(
            "/api/imports/correct",
            &[
                ("id", "{reviewed}"),
                ("line", "3"),
                ("column", "Country"),
                ("value", "FR"),
            ],
        ),
        None,
    );
    add(
        "POST /api/imports/drop",
        Form("/api/imports/drop", &[("id", "{reviewed}"), ("line", "3")]),
        None,
    );
    add(
        "POST /api/imports/confirm",
        Form("/api/imports/confirm", &[("id", "{awaiting}")]),
        None,
    );
    add(
        "POST /api/imports/discard",
        Form("/api/imports/discard", &[("id", "{to_discard}")]),
        None,
    );
    add(
        "POST /api/imports/revert",
        Form("/api/imports/revert", &[("id", "{to_revert}")]),
        None,
    );
    add("POST /api/admin/users", Form("/api/admin/users", &[]), None);
    add(
        "POST /api/admin/users/create",
        Form(
            "/api/admin/users/create",
            &[("email", "new{n}@example.com"), ("role", "operator")],
        ),
        None,
    );
    add(
        "POST /api/admin/users/role",
        Form(
            "/api/admin/users/role",
            &[("id", "{victim}"), ("role", "manager")],
        ),
        None,
    );
    add(
        "POST /api/admin/users/active",
        Form(
            "/api/admin/users/active",
            &[("id", "{victim}"), ("active", "false")],
        ),
        None,
    );
    add(
        "POST /api/admin/users/reset-password",
        Form("/api/admin/users/reset-password", &[("id", "{victim}")]),
        None,
    );
    add(
        "POST /api/admin/users/scope",
        Form(
            "/api/admin/users/scope",
            &[("id", "{victim}"), ("places[0]", "p:1")],
        ),
        None,
    );
    add(
        "POST /api/admin/tokens",
        Form("/api/admin/tokens", &[]),
        None,
    );
    add(
        "POST /api/admin/tokens/create",
        Form(
            "/api/admin/tokens/create",
            &[
                ("owner_email", "victim@example.com"),
                ("name", "script {n}"),
            ],
        ),
        None,
    );
    add(
        "POST /api/admin/tokens/revoke",
        Form("/api/admin/tokens/revoke", &[("id", "{spare_token}")]),
        None,
    );
    add(
        "POST /api/admin/projects",
        Form("/api/admin/projects", &[]),
        None,
    );
    add(
        "POST /api/admin/projects/create",
        Form("/api/admin/projects/create", &[("name", "Project {n}")]),
        None,
    );
    add(
        "POST /api/admin/desks/create",
        Form(
            "/api/admin/desks/create",
            &[("project", "{project}"), ("name", "Desk {n}")],
        ),
        None,
    );
    add("POST /api/admin/audit", Form("/api/admin/audit", &[]), None);
    // Pages.
    for page in PAGES {
        let path = match page.path {
            "/clients/{id}" => "/clients/{client}",
            "/ib-programs/{id}" => "/ib-programs/{program}",
            "/imports/{id}" => "/imports/{job}",
            "/imports/{id}/mapping" => "/imports/{drafted}/mapping",
            other => other,
        };
        add(key_of(page), Get(path), None);
    }
    s
}

fn key_of(e: &Endpoint) -> &'static str {
    Box::leak(format!("{} {}", e.method, e.path).into_boxed_str())
}

/// What the setup made, by the names the samples use.
struct World {
    app: TestApp,
    callers: HashMap<&'static str, Client>,
    token: String,
    values: HashMap<&'static str, String>,
}

impl World {
    fn fill(&self, text: &str, n: usize) -> String {
        let mut text = text.replace("{n}", &n.to_string());
        for (name, value) in &self.values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    fn client(&self, who: Who) -> &Client {
        let name = match who {
            Who::Anonymous | Who::Token => "anonymous",
            Who::Owner => "owner",
            Who::OtherOperator => "other",
            Who::Manager => "manager",
            Who::Admin => "admin",
        };
        &self.callers[name]
    }

    async fn call(&self, who: Who, sample: &Sample, n: usize) -> reqwest::Response {
        let client = self.client(who);
        let request = match sample {
            Sample::Get(path) => client.get(self.app.url(&self.fill(path, n))),
            Sample::Form(path, fields) => {
                let fields: Vec<(String, String)> = fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), self.fill(v, n)))
                    .collect();
                client.post(self.app.url(&self.fill(path, n))).form(&fields)
            }
            Sample::Json(path, body) => client
                .post(self.app.url(&self.fill(path, n)))
                .header("content-type", "application/json")
                .body(self.fill(body, n)),
            Sample::Upload(path) => {
                let form = Form::new()
                    .text("title", format!("matrix {n}"))
                    .text("action", "import-users")
                    .part(
                        "file",
                        Part::bytes(
                            format!(
                                "Email,First name,Last name,Country\nm{n}@example.com,M,N,GB\n"
                            )
                            .into_bytes(),
                        )
                        .file_name("m.csv"),
                    );
                client
                    .post(self.app.url(&self.fill(path, n)))
                    .multipart(form)
            }
        };
        let request = if who == Who::Token {
            request.bearer_auth(&self.token)
        } else {
            request
        };
        request
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("an answer")
    }
}

fn answer_of(res: &reqwest::Response, allowed_status: Option<u16>) -> Answer {
    let status = res.status();
    if Some(status.as_u16()) == allowed_status {
        return Answer::Allowed;
    }
    let to_sign_in = status.is_redirection()
        && res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/login"));
    let refused_form = status.is_redirection()
        && res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.contains("import_error=You%20do%20not%20have%20permission"));
    match status {
        StatusCode::UNAUTHORIZED => Answer::SignInFirst,
        _ if to_sign_in => Answer::SignInFirst,
        StatusCode::FORBIDDEN => Answer::Forbidden,
        StatusCode::NOT_FOUND => Answer::Missing,
        // The upload form without JavaScript is answered with its page again, saying why.
        _ if refused_form => Answer::Forbidden,
        _ => Answer::Allowed,
    }
}

async fn setup(backend: Backend) -> World {
    let generous = Allowance::parse("100000/1m").unwrap();
    let app = spawn_app_with(
        backend,
        Options {
            sign_in_limits: SignInLimits {
                per_address: generous,
                per_account: generous,
            },
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin().await;
    let owner = app.user(&admin, "owner@example.com", "operator").await;
    let other = app.user(&admin, "other@example.com", "operator").await;
    let manager = app.user(&admin, "manager@example.com", "manager").await;
    app.user(&admin, "victim@example.com", "operator").await;
    let issue = async |email: &str| {
        let res = app
            .call(
                &admin,
                "admin/tokens/create",
                &[("owner_email", email), ("name", "matrix")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<serde_json::Value>().await.unwrap()
    };
    let token = issue("owner@example.com").await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let spare_token = issue("victim@example.com").await["id"].to_string();

    let job = common::import(
        &app,
        &owner,
        "import-users",
        "Email,First name,Last name,Country\nann@example.com,Ann,Lee,GB\nbad,Bob,Ray,GB\n",
    )
    .await;
    let to_revert = common::import(
        &app,
        &owner,
        "import-users",
        "Email,First name,Last name,Country\ncid@example.com,Cid,Moe,FR\n",
    )
    .await;
    let res = common::upload(
        &app,
        &owner,
        "import-users",
        "Email,First name,Last name,Country\ndee@example.com,Dee,Poe,DE\n",
        true,
    )
    .await;
    let awaiting: serde_json::Value = res.json().await.unwrap();
    let awaiting = common::wait(&app, &owner, awaiting["id"].as_i64().unwrap()).await;
    assert_eq!(awaiting["status"], "awaiting_confirmation");
    let res = common::upload(
        &app,
        &owner,
        "import-users",
        "Email,First name\ndrop@example.com,Drop\n",
        true,
    )
    .await;
    let to_discard: serde_json::Value = res.json().await.unwrap();
    let to_discard = common::wait(&app, &owner, to_discard["id"].as_i64().unwrap()).await;
    // Uploaded through the wizard: waits for its columns to be mapped.
    let form = Form::new()
        .text("title", "partner file")
        .text("action", "import-users")
        .text("review_mapping", "true")
        .part(
            "file",
            Part::bytes(b"Mail,Given\neve@example.com,Eve\n".to_vec()).file_name("p.csv"),
        );
    let res = owner
        .post(app.url("/api/v1/imports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let drafted: serde_json::Value = res.json().await.unwrap();
    assert_eq!(drafted["status"], "awaiting_mapping", "{drafted}");
    // Under review, with a bad line 3 to correct or drop.
    let res = common::upload(
        &app,
        &owner,
        "import-users",
        "Email,First name,Country\nfay@example.com,Fay,GB\ngus@example.com,Gus,Atlantis\n",
        true,
    )
    .await;
    let reviewed: serde_json::Value = res.json().await.unwrap();
    let reviewed = common::wait(&app, &owner, reviewed["id"].as_i64().unwrap()).await;
    assert_eq!(reviewed["status"], "awaiting_confirmation");
    let client = app
        .scalar_i64("SELECT id FROM client WHERE email = 'ann@example.com'")
        .await;
    let (status, _) = common::post_json(
        &app,
        &admin,
        "/api/v1/ib-programs",
        r#"{"id": 10, "name": "Gold"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let res = app
        .call(&admin, "admin/projects/create", &[("name", "Main")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let project = app
        .scalar_i64("SELECT id FROM project WHERE name = 'Main'")
        .await;
    let victim = app
        .scalar_i64("SELECT id FROM back_office_user WHERE email = 'victim@example.com'")
        .await;
    let values = HashMap::from([
        ("job", job["id"].to_string()),
        ("to_revert", to_revert["id"].to_string()),
        ("awaiting", awaiting["id"].to_string()),
        ("to_discard", to_discard["id"].to_string()),
        ("drafted", drafted["id"].to_string()),
        ("reviewed", reviewed["id"].to_string()),
        ("client", client.to_string()),
        ("program", "10".to_owned()),
        ("project", project.to_string()),
        ("victim", victim.to_string()),
        ("spare_token", spare_token),
    ]);
    World {
        callers: HashMap::from([
            ("anonymous", app.client()),
            ("owner", owner),
            ("other", other),
            ("manager", manager),
            ("admin", admin),
        ]),
        app,
        token,
        values,
    }
}

/// The server functions and pages the app registers are the table's, no more, no fewer.
#[test]
fn the_table_lists_every_server_function_and_page() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    let listed: BTreeSet<String> = SERVER_FUNCTIONS.iter().map(|e| e.path.to_owned()).collect();
    assert_eq!(
        registered, listed,
        "server functions without a row, or rows without one"
    );

    let pages: BTreeSet<String> = server::web::route_list()
        .iter()
        .map(|r| r.path().to_owned())
        .map(|p| if p.is_empty() { "/".to_owned() } else { p })
        .collect();
    let listed: BTreeSet<String> = PAGES.iter().map(|e| e.path.to_owned()).collect();
    assert_eq!(pages, listed, "pages without a row, or rows without one");

    let samples = samples();
    for row in API.iter().chain(SERVER_FUNCTIONS).chain(PAGES) {
        assert!(
            samples.contains_key(key_of(row)),
            "{} has no sample",
            key_of(row)
        );
    }
    assert_eq!(
        samples.len(),
        API.len() + SERVER_FUNCTIONS.len() + PAGES.len()
    );
}

async fn every_route_answers_each_caller_by_its_rule(backend: Backend) {
    let world = setup(backend).await;
    let samples = samples();
    let mut rows: Vec<&Endpoint> = API.iter().chain(SERVER_FUNCTIONS).chain(PAGES).collect();
    // Signing out ends the caller's session: last.
    rows.sort_by_key(|e| e.path == "/api/logout");
    let mut wrong = Vec::new();
    let mut n = 0;
    for row in rows {
        let (sample, allowed_status) = &samples[key_of(row)];
        for who in CALLERS {
            n += 1;
            let forbidden_before = world.app.audit_count("access.forbidden").await;
            let res = world.call(who, sample, n).await;
            let status = res.status();
            if status.is_server_error() {
                let body = res.text().await.unwrap_or_default();
                panic!("{} as {who:?} answered {status}: {body}", key_of(row));
            }
            let got = answer_of(&res, *allowed_status);
            let want = expected(row.allowed, who);
            if got != want {
                let body = res.text().await.unwrap_or_default();
                let body: String = body.chars().take(200).collect();
                wrong.push(format!(
                    "{} as {who:?}: {got:?} ({status}), expected {want:?}: {body}",
                    key_of(row)
                ));
                continue;
            }
            // A signed-in caller refused by role is written to the audit log (pages are
            // refused by their server functions, which write it).
            if want == Answer::Forbidden && !PAGES.iter().any(|p| std::ptr::eq(p, row)) {
                let after = world.app.audit_count("access.forbidden").await;
                if after != forbidden_before + 1 {
                    wrong.push(format!(
                        "{} as {who:?}: refused without an audit entry",
                        key_of(row)
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Values a parameter should not be given: each must get an answer below 500 (a 4xx that
/// says why, or an ordinary answer when the value is fine after all), never a reset.
fn bad_values() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("huge", "a".repeat(100_000)),
        ("negative", "-1".into()),
        ("overflowing", "99999999999999999999999999".into()),
        ("a word", "abc".into()),
        ("unicode", "Ünïcödé 😀 \u{202e}شخص Шестаков".into()),
        ("control characters", "a\u{0}b\u{1}\r\n\t\u{7f}".into()),
        ("a date far away", "+262143-12-31".into()),
    ]
}

/// The query parameters a `GET` row reads.
fn query_parameters(key: &str) -> &'static [&'static str] {
    const CLIENTS: &[&str] = &[
        "search",
        "page",
        "per_page",
        "project",
        "desk",
        "active",
        "type",
        "country",
        "verification_level",
        "created_from",
        "created_to",
        "sort",
        "dir",
    ];
    const ACCOUNTS: &[&str] = &[
        "search",
        "currency",
        "product_id",
        "sort",
        "dir",
        "page",
        "per_page",
    ];
    match key {
        "GET /api/v1/imports" | "GET /imports" => &["status", "action", "user", "page", "per_page"],
        "GET /api/v1/imports/{id}/messages" => &["level", "page", "per_page"],
        "GET /api/v1/clients" | "GET /api/v1/clients.csv" | "GET /clients" => CLIENTS,
        "GET /api/v1/accounts" | "GET /api/v1/accounts.csv" | "GET /accounts" => ACCOUNTS,
        "GET /imports/{id}" => &["errors", "log"],
        "GET /ib-programs/{id}" => &["tab", "page"],
        "GET /admin/audit" => &["actor", "action", "page"],
        "GET /login" => &["next"],
        _ => &[],
    }
}

fn encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Checks an answer to a bad value: below 500, and a refusal says why.
async fn judge(res: reqwest::Result<reqwest::Response>, what: &str, wrong: &mut Vec<String>) {
    let what: String = what.chars().take(120).collect();
    let res = match res {
        Ok(res) => res,
        Err(e) => {
            let e: String = e.to_string().chars().take(120).collect();
            wrong.push(format!("{what}: no answer ({e})"));
            return;
        }
    };
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if status.is_server_error() {
        let body: String = body.chars().take(200).collect();
        wrong.push(format!("{what}: {status} {body}"));
    } else if status.is_client_error() && body.trim().is_empty() {
        wrong.push(format!("{what}: {status} without a message"));
    }
}

/// Every parameter of every form, server function and API route, given each bad value by an
/// admin (who passes every role check, so that the value itself is what is judged).
async fn every_parameter_takes_a_bad_value_without_a_server_error(backend: Backend) {
    let world = setup(backend).await;
    let admin = world.client(Who::Admin);
    let app = &world.app;
    let samples = samples();
    let mut wrong = Vec::new();
    let mut rows: Vec<&Endpoint> = API.iter().chain(SERVER_FUNCTIONS).chain(PAGES).collect();
    rows.sort_by_key(|e| e.path == "/api/logout");
    for row in rows {
        let key = key_of(row);
        let (sample, _) = &samples[key];
        for (name, value) in bad_values() {
            match sample {
                Sample::Get(path) => {
                    let path = world.fill(path, 0);
                    for parameter in query_parameters(key) {
                        // An address is at most 64 KiB long (hyper's limit): a long one here.
                        let value: String = value.chars().take(20_000).collect();
                        let url = app.url(&format!("{path}?{parameter}={}", encoded(&value)));
                        let what = format!("{key} ?{parameter}= {name}");
                        judge(admin.get(url).send().await, &what, &mut wrong).await;
                    }
                }
                Sample::Form(path, fields) => {
                    for (field, _) in fields.iter() {
                        let form: Vec<(String, String)> = fields
                            .iter()
                            .map(|(k, v)| {
                                let v = if k == field {
                                    value.clone()
                                } else {
                                    world.fill(v, 0)
                                };
                                (k.to_string(), v)
                            })
                            .collect();
                        let url = app.url(&world.fill(path, 0));
                        let what = format!("{key} {field}= {name}");
                        judge(admin.post(url).form(&form).send().await, &what, &mut wrong).await;
                    }
                }
                Sample::Json(path, _) => {
                    let url = app.url(path);
                    for body in [
                        format!(r#"{{"name": {}}}"#, serde_json::json!(value)),
                        format!(r#"{{"id": {}, "name": "x"}}"#, serde_json::json!(value)),
                        value.clone(),
                    ] {
                        let what = format!("{key} body {name}");
                        let res = admin
                            .post(url.clone())
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        judge(res, &what, &mut wrong).await;
                    }
                }
                Sample::Upload(path) => {
                    for field in [
                        "title",
                        "description",
                        "action",
                        "delimiter",
                        "validate_only",
                    ] {
                        let mut form = Form::new();
                        for (k, v) in [
                            ("title", "bad input"),
                            ("action", "import-users"),
                            ("delimiter", "auto"),
                            ("validate_only", "true"),
                        ] {
                            if k != field {
                                form = form.text(k, v);
                            }
                        }
                        let form = form.text(field, value.clone()).part(
                            "file",
                            Part::bytes(
                                b"Email,First name,Last name,Country\nz@example.com,Z,Y,GB\n"
                                    .to_vec(),
                            )
                            .file_name("z.csv"),
                        );
                        let what = format!("{key} {field}= {name}");
                        judge(
                            admin.post(app.url(path)).multipart(form).send().await,
                            &what,
                            &mut wrong,
                        )
                        .await;
                    }
                }
            }
            // Ids in paths.
            if let Sample::Get(path) | Sample::Form(path, _) = sample
                && let Some(start) = path.find('{')
            {
                let end = start + path[start..].find('}').unwrap();
                let placeholder = &path[start + 1..end];
                if placeholder != "n" {
                    let value: String = value.chars().take(20_000).collect();
                    let url = app.url(&path.replace(&path[start..=end], &encoded(&value)));
                    let what = format!("{key} {{{placeholder}}} {name}");
                    let request = if matches!(sample, Sample::Get(_)) {
                        admin.get(url)
                    } else {
                        admin.post(url)
                    };
                    judge(request.send().await, &what, &mut wrong).await;
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} bad answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

on_both_databases!(
    every_route_answers_each_caller_by_its_rule,
    every_parameter_takes_a_bad_value_without_a_server_error,
);
