//! Users limited to some projects or desks (SPEC §2, §8): they see, export and import only
//! the clients of those desks, on every page's server function, the HTTP API, the CSV
//! exports and the live status, on SQLite and PostgreSQL.

mod common;

use common::{Backend, TestApp, events, finished, get, import, spawn_app, subscribe, wait};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// Two projects: `Default` (desk `Default`) and `Asia` (desks `Default` and `Tokyo`).
const CLIENTS: &str = "\
Email,First name,Last name,Project,Desk
eu1@example.com,Anna,Euro,Default,Default
eu2@example.com,Boris,Euro,Default,Default
asia1@example.com,Chen,Tokyo,Asia,Tokyo
asia2@example.com,Dao,Asia,Asia,Default
";

struct World {
    app: TestApp,
    admin: Client,
    /// An operator limited to project `Asia` (all its desks).
    asia: Client,
    /// A manager limited to desk `Default / Default`.
    europe: Client,
    europe_id: i64,
    /// The admin's import that created every client.
    admin_job: i64,
}

async fn call_json(
    app: &TestApp,
    client: &Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let res = app.call(client, endpoint, form).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Limits user `id` to `places` (`p:ID`, `d:ID`; none lifts the limit), as `by`, through
/// Admin → Users' server function.
async fn limit(app: &TestApp, by: &Client, id: &str, places: &[&str]) -> (StatusCode, Value) {
    let keys: Vec<String> = (0..places.len()).map(|i| format!("places[{i}]")).collect();
    let mut form: Vec<(&str, &str)> = vec![("id", id)];
    form.extend(keys.iter().map(String::as_str).zip(places.iter().copied()));
    call_json(app, by, "admin/users/scope", &form).await
}

/// The id of desk `Default / Default`.
async fn default_desk(app: &TestApp) -> i64 {
    app.scalar_i64(
        "SELECT d.id FROM desk d JOIN project p ON p.id = d.project_id \
         WHERE p.name = 'Default' AND d.name = 'Default'",
    )
    .await
}

async fn id_of(app: &TestApp, sql: &str) -> String {
    app.scalar_i64(sql).await.to_string()
}

async fn world(backend: Backend) -> World {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let (status, _) = call_json(&app, &admin, "admin/projects/create", &[("name", "Asia")]).await;
    assert_eq!(status, StatusCode::OK);
    let asia_project = id_of(&app, "SELECT id FROM project WHERE name = 'Asia'").await;
    let (status, _) = call_json(
        &app,
        &admin,
        "admin/desks/create",
        &[("project", asia_project.as_str()), ("name", "Tokyo")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let created = import(&app, &admin, "import-users", CLIENTS).await;
    assert_eq!(created["created"], 4, "{created}");
    let accounts = import(
        &app,
        &admin,
        "import-accounts",
        "Email,Account number,Product ID,Product currency\n\
         eu1@example.com,1001,1,USD\n\
         asia1@example.com,2001,1,EUR\n",
    )
    .await;
    assert_eq!(accounts["created"], 2, "{accounts}");
    let (status, _) = call_json(
        &app,
        &admin,
        "ib-programs/create",
        &[("id", "5"), ("name", "Gold")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A partner in Europe with one referral in each region, and a partner in Asia.
    let ibs = import(
        &app,
        &admin,
        "import-ibs",
        "IB Email,Client Email,IB Type ID\n\
         eu1@example.com,eu2@example.com,5\n\
         eu1@example.com,asia2@example.com,5\n\
         asia1@example.com,,5\n",
    )
    .await;
    assert_eq!(ibs["created"], 3, "{ibs}");

    let asia = app.user(&admin, "asia@example.com", "operator").await;
    let europe = app.user(&admin, "europe@example.com", "manager").await;
    let asia_id = id_of(
        &app,
        "SELECT id FROM back_office_user WHERE email = 'asia@example.com'",
    )
    .await;
    let europe_id = id_of(
        &app,
        "SELECT id FROM back_office_user WHERE email = 'europe@example.com'",
    )
    .await;
    let europe_desk = default_desk(&app).await;
    let (status, places) = limit(&app, &admin, &asia_id, &[&format!("p:{asia_project}")]).await;
    assert_eq!(status, StatusCode::OK, "{places}");
    assert_eq!(places, serde_json::json!([format!("p:{asia_project}")]));
    let (status, _) = call_json(
        &app,
        &admin,
        "admin/users/scope",
        &[
            ("id", europe_id.as_str()),
            ("places[3]", &format!("d:{europe_desk}")),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.audit_count("user.scope_changed").await, 2);
    World {
        app,
        admin,
        asia,
        europe,
        europe_id: europe_id.parse().unwrap(),
        admin_job: created["id"].as_i64().unwrap(),
    }
}

fn emails(list: &Value, pointer: &str) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|c| {
            c.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn client_id(w: &World, email: &str) -> i64 {
    w.app
        .scalar_i64(&format!("SELECT id FROM client WHERE email = '{email}'"))
        .await
}

/// The values of column `column` of a CSV download.
async fn csv_column(w: &World, client: &Client, path: &str, column: &str) -> BTreeSet<String> {
    let res = client.get(w.app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let body = res.text().await.unwrap();
    let mut lines = body.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let at = header
        .iter()
        .position(|h| *h == column)
        .unwrap_or_else(|| panic!("no column {column} in {header:?}"));
    lines
        .map(|l| l.split(',').nth(at).unwrap_or_default().to_owned())
        .collect()
}

async fn limited_users_see_only_their_desks(backend: Backend) {
    let w = world(backend).await;
    let (app, asia, europe) = (&w.app, &w.asia, &w.europe);

    // The HTTP API's lists.
    let (_, list) = get(app, asia, "/api/v1/clients").await;
    assert_eq!(
        emails(&list, "/email"),
        set(&["asia1@example.com", "asia2@example.com"])
    );
    assert_eq!(list["total"], 2);
    let (_, list) = get(app, europe, "/api/v1/clients?search=eu").await;
    assert_eq!(
        emails(&list, "/email"),
        set(&["eu1@example.com", "eu2@example.com"])
    );
    let (_, list) = get(app, &w.admin, "/api/v1/clients").await;
    assert_eq!(list["total"], 4, "admins see every desk");
    let (_, list) = get(app, asia, "/api/v1/accounts").await;
    assert_eq!(emails(&list, "/client/email"), set(&["asia1@example.com"]));
    let (_, list) = get(app, europe, "/api/v1/accounts").await;
    assert_eq!(emails(&list, "/client/email"), set(&["eu1@example.com"]));

    // One client: 403 for another desk's, from the API and from the client page.
    let (eu1, asia1) = (
        client_id(&w, "eu1@example.com").await,
        client_id(&w, "asia1@example.com").await,
    );
    let (status, _) = get(app, asia, &format!("/api/v1/clients/{eu1}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = get(app, asia, &format!("/api/v1/clients/{asia1}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call_json(app, europe, "clients/show", &[("id", &asia1.to_string())]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, page) = call_json(app, europe, "clients/show", &[("id", &eu1.to_string())]).await;
    assert_eq!(status, StatusCode::OK);
    // Eu1's referral in Asia is not shown to Europe; the one in Europe is.
    assert_eq!(
        emails(
            &serde_json::json!({"items": page["referrals"]}),
            "/client/email"
        ),
        set(&["eu2@example.com"])
    );
    assert_eq!(
        page["memberships"][0]["referrals"], 1,
        "{}",
        page["memberships"]
    );

    // The pages' server functions: the list, its filter choices, the accounts, the programs
    // and the section counts.
    let (status, list) = call_json(
        app,
        asia,
        "clients/list",
        &[("filter[sort][desc]", "false")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        emails(&list["page"], "/email"),
        set(&["asia1@example.com", "asia2@example.com"])
    );
    let projects: Vec<&str> = list["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(projects, ["Asia"]);
    let desks: Vec<&str> = list["desks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(desks, ["Asia / Default", "Asia / Tokyo"]);
    let (_, list) = call_json(
        app,
        europe,
        "accounts/list",
        &[("filter[sort][desc]", "false")],
    )
    .await;
    assert_eq!(emails(&list, "/client/email"), set(&["eu1@example.com"]));
    let (_, programs) = get(app, asia, "/api/v1/ib-programs").await;
    assert_eq!(
        (
            &programs["items"][0]["partners"],
            &programs["items"][0]["referrals"]
        ),
        (&Value::from(1), &Value::from(0)),
        "{programs}"
    );
    let (_, programs) = get(app, europe, "/api/v1/ib-programs").await;
    assert_eq!(
        (
            &programs["items"][0]["partners"],
            &programs["items"][0]["referrals"]
        ),
        (&Value::from(1), &Value::from(1)),
        "{programs}"
    );
    let (_, program) = call_json(
        app,
        asia,
        "ib-programs/show",
        &[("id", "5"), ("clients", "true")],
    )
    .await;
    assert_eq!(program["clients"]["total"], 0, "{program}");
    let (_, program) = call_json(
        app,
        asia,
        "ib-programs/show",
        &[("id", "5"), ("clients", "false")],
    )
    .await;
    assert_eq!(
        emails(&program["partners"], "/client/email"),
        set(&["asia1@example.com"])
    );
    let (_, counts) = call_json(app, europe, "overview", &[]).await;
    assert_eq!(
        (&counts["client_count"], &counts["account_count"]),
        (&Value::from(2), &Value::from(1)),
        "{counts}"
    );

    // Exports (managers and admins export; the limited operator may not at all).
    assert_eq!(
        csv_column(&w, europe, "/api/v1/clients.csv", "Email").await,
        set(&["eu1@example.com", "eu2@example.com"])
    );
    let res = asia
        .get(app.url("/api/v1/clients.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        csv_column(&w, europe, "/api/v1/accounts.csv", "Account number").await,
        set(&["1001"])
    );

    // The admin's import holds every desk's clients: a limited manager does not see it.
    let (_, jobs) = get(app, europe, "/api/v1/imports").await;
    assert_eq!(jobs["total"], 0, "{jobs}");
    let (status, _) = get(app, europe, &format!("/api/v1/imports/{}", w.admin_job)).await;
    assert!(
        matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{status}"
    );
    let (status, _) = get(
        app,
        europe,
        &format!("/api/v1/imports/{}/file", w.admin_job),
    )
    .await;
    assert!(
        matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{status}"
    );

    // Lifting the limit shows everything again, on the next request.
    let (status, _) = limit(app, &w.admin, &w.europe_id.to_string(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = get(app, europe, "/api/v1/clients").await;
    assert_eq!(list["total"], 4);
    let (_, jobs) = get(app, europe, "/api/v1/imports").await;
    assert!(jobs["total"].as_i64().unwrap() >= 3, "{jobs}");
}

async fn limited_users_import_only_into_their_desks(backend: Backend) {
    let w = world(backend).await;
    let (app, asia) = (&w.app, &w.asia);
    let job = import(
        app,
        asia,
        "import-users",
        "Email,First name,Project,Desk\n\
         asia1@example.com,Chen2,,\n\
         eu1@example.com,Anna2,,\n\
         new1@example.com,New,Asia,Tokyo\n\
         new2@example.com,New,,\n\
         new3@example.com,New,Default,Default\n\
         asia2@example.com,Dao,Default,Default\n",
    )
    .await;
    assert_eq!(
        ["created", "updated", "unchanged", "errors"].map(|k| job[k].as_i64().unwrap()),
        [1, 1, 0, 4],
        "{job}"
    );
    let id = job["id"].as_i64().unwrap();
    let (_, errors) = get(
        app,
        asia,
        &format!("/api/v1/imports/{id}/messages?level=error"),
    )
    .await;
    let found: Vec<(i64, String, String)> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["column"].as_str().unwrap_or_default().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let outside = "This client is on a desk outside the ones you work with".to_owned();
    assert_eq!(
        found,
        [
            (3, "Email".to_owned(), outside),
            (
                5,
                "Desk".to_owned(),
                "Desk `Default / Default` is not one of the desks you work with".to_owned()
            ),
            (
                6,
                "Desk".to_owned(),
                "Desk `Default / Default` is not one of the desks you work with".to_owned()
            ),
            (
                7,
                "Desk".to_owned(),
                "Desk `Default / Default` is not one of the desks you work with".to_owned()
            ),
        ]
    );
    // Nothing outside Asia changed.
    let (_, eu1) = get(
        app,
        &w.admin,
        &format!("/api/v1/clients/{}", client_id(&w, "eu1@example.com").await),
    )
    .await;
    assert_eq!(eu1["first_name"], "Anna");
    let (_, asia2) = get(
        app,
        &w.admin,
        &format!(
            "/api/v1/clients/{}",
            client_id(&w, "asia2@example.com").await
        ),
    )
    .await;
    assert_eq!(asia2["project"]["name"], "Asia");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM client").await, 5);

    let accounts = import(
        app,
        asia,
        "import-accounts",
        "Email,Account number,Product ID,Product currency\n\
         eu2@example.com,3001,1,USD\n\
         asia2@example.com,3002,1,USD\n",
    )
    .await;
    assert_eq!(
        [&accounts["created"], &accounts["errors"]],
        [&Value::from(1), &Value::from(1)],
        "{accounts}"
    );
    let ibs = import(
        app,
        asia,
        "import-ibs",
        "IB Email,Client Email,IB Type ID\n\
         eu1@example.com,,5\n\
         asia1@example.com,eu1@example.com,5\n\
         asia2@example.com,,5\n",
    )
    .await;
    assert_eq!(
        [&ibs["created"], &ibs["errors"]],
        [&Value::from(1), &Value::from(2)],
        "{ibs}"
    );
    let ib_id = ibs["id"].as_i64().unwrap();
    let (_, errors) = get(
        app,
        asia,
        &format!("/api/v1/imports/{ib_id}/messages?level=error"),
    )
    .await;
    let columns: Vec<&str> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["column"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["IB Email", "Client Email"]);

    // The live status of a limited user carries only their own imports: the admin's import
    // that ran before theirs never shows up in their stream, although an unlimited
    // manager's stream carries it.
    let everyone = app.user(&w.admin, "all@example.com", "manager").await;
    let asia_feed = subscribe(app, asia).await;
    let all_feed = subscribe(app, &everyone).await;
    let admins = import(
        app,
        &w.admin,
        "import-users",
        "Email,First name\nlive@example.com,Live\n",
    )
    .await;
    let admins = admins["id"].as_i64().unwrap();
    let res = common::upload(
        app,
        asia,
        "import-users",
        "Email,First name,Project\nlive2@example.com,Live,Asia\n",
        false,
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let own = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    wait(app, asia, own).await;
    let (_, seen) = events(all_feed, Duration::from_secs(30), finished(admins)).await;
    assert!(
        seen.iter().any(|j| j["id"] == admins),
        "the admin's import is streamed"
    );
    let (_, seen) = events(asia_feed, Duration::from_secs(30), finished(own)).await;
    assert!(
        seen.iter().any(|j| j["id"] == own),
        "their own import is streamed: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|j| j["initiated_by"]["email"] == "asia@example.com"),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|j| j["id"] == admins), "{seen:?}");
}

/// A stream opened before the user was limited stops carrying other users' imports.
async fn a_stream_narrows_when_its_user_is_limited(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let (_, list) = get(app, &w.europe, "/api/v1/clients").await;
    assert_eq!(list["total"], 2);
    let (status, _) = limit(app, &w.admin, &w.europe_id.to_string(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let feed = subscribe(app, &w.europe).await;
    let control = subscribe(app, &w.admin).await;
    let first = import(
        app,
        &w.admin,
        "import-users",
        "Email,First name\na@example.com,A\n",
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let desk = format!("d:{}", default_desk(app).await);
    let (status, _) = limit(app, &w.admin, &w.europe_id.to_string(), &[&desk]).await;
    assert_eq!(status, StatusCode::OK);
    // The stream trusts what it read of its user for at most 2 s.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let second = import(
        app,
        &w.admin,
        "import-users",
        "Email,First name\nb@example.com,B\n",
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let (_, seen) = events(control, Duration::from_secs(30), finished(second)).await;
    assert!(seen.iter().any(|j| j["id"] == second));
    let (_, seen) = events(feed, Duration::from_secs(3), |_| false).await;
    assert!(
        seen.iter().any(|j| j["id"] == first),
        "unlimited, the manager followed the first: {seen:?}"
    );
    assert!(
        !seen.iter().any(|j| j["id"] == second),
        "limited, not the second: {seen:?}"
    );
}

async fn admins_are_never_limited_and_places_must_exist(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let admin_id = app
        .scalar_i64("SELECT id FROM back_office_user WHERE email = 'admin@example.com'")
        .await
        .to_string();
    let (status, body) = limit(app, &w.admin, &admin_id, &["p:1"]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let europe = w.europe_id.to_string();
    for (place, expected) in [
        ("d:999", StatusCode::NOT_FOUND),
        ("p:999", StatusCode::NOT_FOUND),
        ("x:1", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, body) = limit(app, &w.admin, &europe, &[place]).await;
        assert_eq!(status, expected, "{place}: {body}");
    }
    // Refused changes left the manager's limit as it was.
    let (_, list) = get(app, &w.europe, "/api/v1/clients").await;
    assert_eq!(list["total"], 2);
    // Others may not set limits (the matrix in access.rs checks every role); a limited user
    // made admin sees everything.
    let (status, _) = limit(app, &w.asia, &europe, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call_json(
        app,
        &w.admin,
        "admin/users/role",
        &[("id", &europe), ("role", "admin")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = get(app, &w.europe, "/api/v1/clients").await;
    assert_eq!(list["total"], 4);
}

on_both_databases!(
    limited_users_see_only_their_desks,
    limited_users_import_only_into_their_desks,
    a_stream_narrows_when_its_user_is_limited,
    admins_are_never_limited_and_places_must_exist,
);
