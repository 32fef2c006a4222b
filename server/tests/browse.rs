//! The back office behind its pages, on SQLite and PostgreSQL: the clients and accounts
//! lists with their filters, sorts and CSV exports; the upload form and its templates;
//! the live status stream; the bell; and the 403 of another operator's import page.

mod common;

use common::{
    Backend, TestApp, events, finished, get, import, job_events, spawn_app, subscribe, wait,
};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::time::Duration;

const CLIENTS: &str = "\
Email,First name,Last name,Country,Active,Type,Verification level,Created,City
ann@example.com,Ann,Zimmer,GB,true,personal,2,2024-01-10,=cmd|' /C calc'!A0
ben@example.com,Ben,Young,DE,false,corporate,0,2024-03-05,Berlin
cat@example.com,Cat,Xu,GB,true,corporate,2,2024-06-30,Leeds
dan@example.com,Dan,Webb,FR,true,personal,1,2025-02-01,Paris
";

/// The body of a `GET`, as text.
async fn text(app: &TestApp, client: &Client, path: &str) -> String {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

async fn emails(app: &TestApp, client: &Client, query: &str) -> Vec<String> {
    let (status, page) = get(app, client, &format!("/api/v1/clients?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn clients_are_filtered_sorted_and_exported(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let job = import(&app, &admin, "import-users", CLIENTS).await;
    assert_eq!(job["status"], "success", "{job}");

    // Every filter of the Clients page narrows the list.
    for (query, expected) in [
        ("country=gb", vec!["ann@example.com", "cat@example.com"]),
        ("active=false", vec!["ben@example.com"]),
        ("type=corporate", vec!["ben@example.com", "cat@example.com"]),
        (
            "verification_level=2",
            vec!["ann@example.com", "cat@example.com"],
        ),
        (
            "created_from=2024-03-05&created_to=2024-06-30",
            vec!["ben@example.com", "cat@example.com"],
        ),
        ("project=1&desk=1&search=d", vec!["dan@example.com"]),
        ("search=Xu", vec!["cat@example.com"]),
        // Any case; wildcards are plain characters.
        ("search=ZIM", vec!["ann@example.com"]),
        ("search=BEN%40EXAMPLE", vec!["ben@example.com"]),
        ("search=%25", vec![]),
        ("search=_", vec![]),
        (
            "country=GB&active=true&type=personal",
            vec!["ann@example.com"],
        ),
    ] {
        assert_eq!(emails(&app, &admin, query).await, expected, "{query}");
    }
    // Sorted by any column, both ways.
    assert_eq!(
        emails(&app, &admin, "sort=last_name").await,
        [
            "dan@example.com",
            "cat@example.com",
            "ben@example.com",
            "ann@example.com"
        ]
    );
    assert_eq!(
        emails(&app, &admin, "sort=created_at&dir=desc").await,
        [
            "dan@example.com",
            "cat@example.com",
            "ben@example.com",
            "ann@example.com"
        ]
    );
    assert_eq!(
        emails(&app, &admin, "sort=country&dir=asc&per_page=2&page=2").await,
        ["ann@example.com", "cat@example.com"]
    );
    // A bad value is a clear 400, never an empty list.
    for (query, reason) in [
        ("sort=password", "Cannot sort by `password`"),
        ("active=maybe", "`active` is true or false"),
        ("created_from=31.12.2024", "must be a date like 2026-01-31"),
        // Dates chrono reads but whose next day overflows it, or no person writes.
        (
            "created_to=%2B262142-12-31",
            "must be a date like 2026-01-31",
        ),
        (
            "created_to=%2B262143-12-31",
            "must be a date like 2026-01-31",
        ),
        (
            "created_from=%2B9999-12-31",
            "must be a date like 2026-01-31",
        ),
        ("created_to=262143-12-31", "must be a date like 2026-01-31"),
        ("created_from=-0001-01-01", "must be a date like 2026-01-31"),
        ("created_from=0000-01-01", "must be a date like 2026-01-31"),
        ("created_to=2024-02-30", "must be a date like 2026-01-31"),
        ("created_to=2024-1-5", "must be a date like 2026-01-31"),
        (
            "verification_level=high",
            "`verification_level` cannot be `high`",
        ),
    ] {
        let (status, body) = get(&app, &admin, &format!("/api/v1/clients?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            body["error"].as_str().unwrap().contains(reason),
            "{query}: {body}"
        );
    }

    // The widest dates a person can write still work.
    assert_eq!(
        emails(
            &app,
            &admin,
            "created_from=0001-01-01&created_to=9999-12-31"
        )
        .await
        .len(),
        4
    );
    // The page and the export say so too, rather than fail.
    let page = admin
        .get(app.url("/clients?created_to=%2B262142-12-31"))
        .send()
        .await
        .unwrap();
    assert!(!page.status().is_server_error(), "{}", page.status());
    let html = page.text().await.unwrap();
    assert!(html.contains("must be a date like 2026-01-31"), "{html}");
    let export = admin
        .get(app.url("/api/v1/clients.csv?created_to=%2B262142-12-31"))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::BAD_REQUEST);

    // The export is the current view: same filter and order, every page, UTF-8 with a
    // BOM, formulas neutralised.
    let res = admin
        .get(app.url("/api/v1/clients.csv?type=corporate&sort=last_name&dir=desc"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"clients.csv\""
    );
    let body = res.text().await.unwrap();
    let body = body.strip_prefix('\u{FEFF}').expect("a BOM");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines[0].starts_with("ID,Email,Username,First name,"));
    assert!(lines[1].contains(",ben@example.com,"), "{body}");
    assert!(lines[2].contains(",cat@example.com,"), "{body}");
    let all = text(&app, &admin, "/api/v1/clients.csv").await;
    assert!(all.contains("'=cmd|' /C calc'!A0"), "{all}");
    assert_eq!(all.lines().count(), 5);

    // Exports are for managers and admins (SPEC §1): an operator browses the same lists
    // but is refused their CSV, and each refusal is in the audit log.
    let manager = app.user(&admin, "mia@example.com", "manager").await;
    assert_eq!(
        text(&app, &manager, "/api/v1/clients.csv")
            .await
            .lines()
            .count(),
        5
    );
    let operator = app.user(&admin, "otto@example.com", "operator").await;
    assert_eq!(
        emails(&app, &operator, "search=ann").await,
        ["ann@example.com"]
    );
    for path in ["/api/v1/clients.csv", "/api/v1/accounts.csv"] {
        let refused_before = app.audit_count("access.forbidden").await;
        let res = operator.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            app.audit_count("access.forbidden").await,
            refused_before + 1,
            "{path}"
        );
    }
    // Neither list page offers an operator the export.
    for page in ["/clients", "/accounts"] {
        assert!(
            !text(&app, &operator, page)
                .await
                .contains("data-testid=\"export\""),
            "{page}"
        );
        assert!(
            text(&app, &manager, page)
                .await
                .contains("data-testid=\"export\""),
            "{page}"
        );
    }
}

/// The body of a page that answers `status`.
async fn page_with(app: &TestApp, client: &Client, path: &str, status: StatusCode) -> String {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), status, "{path}");
    res.text().await.unwrap()
}

/// A page of something that is not there answers 404 inside the application's frame,
/// titled so; a page the role may not open answers 403 without the tabs of the section it
/// may not enter.
async fn pages_answer_with_what_they_are(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let frame = "aria-label=\"Main\"";
    for (path, says) in [
        ("/clients/999999", "There is no client with ID 999999."),
        (
            "/ib-programs/999999",
            "There is no IB program with ID 999999.",
        ),
        ("/imports/999999", "There is no import #999999."),
        ("/no-such-page", "Page not found"),
        ("/clients/abc", "There is no such client."),
    ] {
        let html = page_with(&app, &admin, path, StatusCode::NOT_FOUND).await;
        assert!(
            html.contains("<title>Not found · Back office</title>"),
            "{path}: {html}"
        );
        assert!(html.contains(frame), "{path}: no navigation");
        assert!(
            html.contains("data-testid=\"current-user\""),
            "{path}: no user box"
        );
        assert!(html.contains(says), "{path}: {html}");
    }
    let operator = app.user(&admin, "otto@example.com", "operator").await;
    for path in [
        "/admin/users",
        "/admin/tokens",
        "/admin/projects",
        "/admin/audit",
    ] {
        let html = page_with(&app, &operator, path, StatusCode::FORBIDDEN).await;
        assert!(
            html.contains("<title>Access denied · Back office</title>"),
            "{path}: {html}"
        );
        assert!(html.contains("Access denied"), "{path}");
        assert!(html.contains(frame), "{path}: no navigation");
        assert!(
            !html.contains("aria-label=\"Admin\""),
            "{path}: the admin tabs"
        );
        assert!(
            !html.contains("href=\"/admin/tokens\""),
            "{path}: a link to an admin page"
        );
    }
    // The admin has the tabs.
    let html = page_with(&app, &admin, "/admin/audit", StatusCode::OK).await;
    assert!(html.contains("aria-label=\"Admin\""));
}

/// Every page is whole as the server sends it: a browser without JavaScript (or before it
/// runs) shows the rows, not "Loading…" waiting for a script.
async fn pages_are_whole_without_javascript(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    import(&app, &admin, "import-users", CLIENTS).await;
    let (status, _) = app_call(
        &app,
        &admin,
        "ib-programs/create",
        &[("id", "5"), ("name", "Gold")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ibs = import(
        &app,
        &admin,
        "import-ibs",
        "IB Email,Client Email,IB Type ID\nann@example.com,ben@example.com,5\n",
    )
    .await;
    assert_eq!(ibs["status"], "success", "{ibs}");
    let ann = app
        .scalar_i64("SELECT id FROM client WHERE email = 'ann@example.com'")
        .await;
    for (path, holds) in [
        ("/clients", "data-testid=\"client-row\""),
        (&format!("/clients/{ann}") as &str, "ann@example.com"),
        ("/imports", "data-testid=\"import-row\""),
        (
            &format!("/imports/{}", ibs["id"]),
            "data-testid=\"import-counts\"",
        ),
        ("/ib-programs", "data-testid=\"program-row\""),
        ("/ib-programs/5", "ann@example.com"),
        ("/ib-programs/5?tab=clients", "ben@example.com"),
        ("/imports/new", "name=\"file\""),
        ("/accounts", "Accounts"),
        ("/admin/users", "admin@example.com"),
    ] {
        let html = text(&app, &admin, path).await;
        assert!(html.contains(holds), "{path}: {html}");
        assert!(
            !html.contains("Loading…"),
            "{path} waits for a script: {html}"
        );
        assert!(
            !html.contains("<template"),
            "{path} holds content for a script: {html}"
        );
    }
}

async fn app_call(
    app: &TestApp,
    client: &Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let res = app.call(client, endpoint, form).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Search ignores case in every alphabet, on both databases (SQLite's own `lower()` folds
/// ASCII only; the server gives it one that folds all).
async fn search_ignores_case_in_every_alphabet(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let job = import(
        &app,
        &admin,
        "import-users",
        "Email,First name,Last name,Country\n\
         stepan@example.com,Степан,Шестаков,RU\n\
         edith@example.com,Édith,Piaf,FR\n\
         eleni@example.com,Ελένη,Θαλασσινή,GR\n\
         jose@example.com,José,Díaz,ES\n",
    )
    .await;
    assert_eq!(job["status"], "success", "{job}");
    for (search, expected) in [
        ("шестаков", vec!["stepan@example.com"]),
        ("ШЕСТ", vec!["stepan@example.com"]),
        ("степан", vec!["stepan@example.com"]),
        ("ÉDITH", vec!["edith@example.com"]),
        ("édith", vec!["edith@example.com"]),
        ("θαλασσινή", vec!["eleni@example.com"]),
        ("ΘΑΛΑΣΣΙΝΉ", vec!["eleni@example.com"]),
        ("ελένη", vec!["eleni@example.com"]),
        ("DÍAZ", vec!["jose@example.com"]),
        // Letters are folded, not stripped of their accents.
        ("diaz", vec![]),
    ] {
        let query = format!("search={search}");
        assert_eq!(emails(&app, &admin, &query).await, expected, "{search}");
    }
}

async fn accounts_are_filtered_sorted_and_exported(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    import(&app, &admin, "import-users", CLIENTS).await;
    let job = import(
        &app,
        &admin,
        "import-accounts",
        "Email,Account number,Product ID,Product currency\n\
         ann@example.com,A-3,1,USD\nben@example.com,A-1,2,EUR\ncat@example.com,A-2,2,USDT\n",
    )
    .await;
    assert_eq!(job["status"], "success", "{job}");
    let numbers = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["account_number"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, page) = get(&app, &admin, "/api/v1/accounts?sort=account_number").await;
    assert_eq!(numbers(page), ["A-1", "A-2", "A-3"]);
    let (_, page) = get(
        &app,
        &admin,
        "/api/v1/accounts?product_id=2&sort=currency&dir=desc",
    )
    .await;
    assert_eq!(numbers(page), ["A-2", "A-1"]);
    let (_, page) = get(&app, &admin, "/api/v1/accounts?currency=usdt").await;
    assert_eq!(numbers(page), ["A-2"]);
    let (_, page) = get(&app, &admin, "/api/v1/accounts?search=ben").await;
    assert_eq!(numbers(page), ["A-1"]);
    let csv = text(
        &app,
        &admin,
        "/api/v1/accounts.csv?product_id=2&sort=account_number",
    )
    .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "\u{FEFF}Account number,Email,First name,Last name,Product ID,Product currency,Created"
    );
    assert!(lines[1].starts_with("A-1,ben@example.com,Ben,Young,2,EUR,"));
    assert!(lines[2].starts_with("A-2,cat@example.com,Cat,Xu,2,USDT,"));
    assert_eq!(lines.len(), 3);
}

/// Posts the pages' upload form as `client`; answers the redirect's target.
async fn upload_form(app: &TestApp, client: &Client, from: &str, csv: &[u8]) -> String {
    upload_form_keyed(app, client, from, csv, "").await
}

/// The same, with the form's submission key.
async fn upload_form_keyed(
    app: &TestApp,
    client: &Client,
    from: &str,
    csv: &[u8],
    submission: &str,
) -> String {
    let form = Form::new()
        .text("submission", submission.to_owned())
        .text("title", "From the form")
        .text("action", "import-users")
        .text("delimiter", "auto")
        .part("file", Part::bytes(csv.to_vec()).file_name("clients.csv"));
    let res = client
        .post(app.url(&format!("/imports/upload?from={from}")))
        .header("accept", "text/html")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The job an upload form's answer leads to: `/imports/{id}` followed by `page`.
fn job_led_to(to: &str, page: &str) -> i64 {
    to.strip_prefix("/imports/")
        .and_then(|rest| rest.strip_suffix(page))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("redirected to {to}"))
}

async fn the_upload_form_and_its_templates(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let operator = app.user(&admin, "op@example.com", "operator").await;
    let manager = app.user(&admin, "boss@example.com", "manager").await;

    // Each template is a file the importer takes as it is.
    for action in ["import-users", "import-accounts"] {
        let res = operator
            .get(app.url(&format!("/templates/{action}.csv")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let template = res.bytes().await.unwrap();
        assert!(template.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(template[3..].to_vec()).unwrap();
        let job = import(&app, &operator, action, &text).await;
        assert_eq!(job["status"], "success", "{action}: {job}");
        assert_eq!(job["created"], 1, "{action}: {job}");
    }
    let res = operator
        .get(app.url("/templates/import-nothing.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // A good upload leads to the new job's page; the job runs.
    let to = upload_form(
        &app,
        &operator,
        "clients",
        b"Email,First name\nform@example.com,Form\n",
    )
    .await;
    let id = job_led_to(&to, "");
    assert_eq!(wait(&app, &operator, id).await["status"], "success");

    // Each form carries a key of its own; the same form sent twice, even at once (a double
    // click), is one upload and leads to one job; another form is another upload.
    let key_of = |html: String| {
        let pattern = "name=\"submission\" value=\"";
        let at = html.find(pattern).expect("a submission key") + pattern.len();
        html[at..at + 32].to_owned()
    };
    let first = key_of(text(&app, &operator, "/imports/new").await);
    let second = key_of(text(&app, &operator, "/clients").await);
    assert!(first.chars().all(|c| c.is_ascii_hexdigit()), "{first}");
    assert_ne!(first, second);
    let twice = b"Email,First name\ntwice@example.com,Twice\n";
    let (a, b) = tokio::join!(
        upload_form_keyed(&app, &operator, "clients", twice, &first),
        upload_form_keyed(&app, &operator, "clients", twice, &first),
    );
    assert!(a.starts_with("/imports/"), "{a}");
    assert_eq!(a, b);
    let again = upload_form_keyed(&app, &operator, "clients", twice, &first).await;
    assert_eq!(again, a);
    let other = upload_form_keyed(&app, &operator, "clients", twice, &second).await;
    assert!(other.starts_with("/imports/") && other != a, "{other}");
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM import_job WHERE submission IN ('{first}', '{second}')"
        ))
        .await,
        2
    );
    // Another user's form key is no key of this one's.
    let to = upload_form_keyed(&app, &admin, "clients", twice, &first).await;
    assert!(to.starts_with("/imports/") && to != a, "{to}");
    let to = upload_form_keyed(&app, &operator, "clients", twice, "not a key!").await;
    assert!(to.starts_with("/clients?import_error="), "{to}");

    // A file most of whose columns match no field is not run from a form: the operator
    // maps it first. The API imports the columns that match, as it always has.
    let partner = b"Email,First name,billing.city,Comments,AffiliateID\n\
        partner@example.com,Partner,Paris,VIP,A-7\n";
    let to = upload_form(&app, &operator, "clients", partner).await;
    let id = job_led_to(&to, "/mapping");
    let (status, job) = get(&app, &operator, &format!("/api/v1/imports/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["status"], "awaiting_mapping", "{job}");
    let page = text(&app, &operator, &format!("/imports/{id}/mapping")).await;
    assert!(
        page.contains("3 of the file&#x27;s 5 columns match no field of import-users")
            || page.contains("3 of the file's 5 columns match no field of import-users"),
        "{page}"
    );
    let res = common::upload(
        &app,
        &operator,
        "import-users",
        std::str::from_utf8(partner).unwrap(),
        false,
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(wait(&app, &operator, id).await["status"], "success");
    // Two unknown columns of five are imported from the form as they are.
    let to = upload_form(
        &app,
        &operator,
        "clients",
        b"Email,First name,Last name,billing.city,AffiliateID\nhalf@example.com,Half,Known,Oslo,A-8\n",
    )
    .await;
    let id = job_led_to(&to, "");
    assert_eq!(wait(&app, &operator, id).await["status"], "success");

    // A refused file goes back to the page it came from, with the reason; no job.
    let jobs_before = app.scalar_i64("SELECT COUNT(*) FROM import_job").await;
    let to = upload_form(&app, &operator, "accounts", b"").await;
    assert_eq!(to, "/accounts?import_error=The%20file%20is%20empty.");
    // The page names only pages of this site, whatever `from` says.
    let to = upload_form(&app, &operator, "https://evil.example", b"").await;
    assert!(to.starts_with("/imports/new?import_error="), "{to}");
    // A manager may not import: refused and audited.
    let to = upload_form(
        &app,
        &manager,
        "clients",
        b"Email,First name\nm@example.com,M\n",
    )
    .await;
    assert!(to.starts_with("/clients?import_error="), "{to}");
    assert!(
        to.ends_with("You%20do%20not%20have%20permission%20to%20do%20this."),
        "{to}"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM import_job").await,
        jobs_before
    );
    assert!(app.audit_count("access.forbidden").await >= 1);
}

async fn start(app: &TestApp, client: &Client, csv: &str) -> i64 {
    let res = common::upload(app, client, "import-users", csv, false).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn live_status_reaches_those_who_may_see_the_job(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let olga = app.user(&admin, "olga@example.com", "operator").await;
    let oscar = app.user(&admin, "oscar@example.com", "operator").await;
    let nobody = app.client();
    let res = nobody
        .get(app.url("/api/v1/imports/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let olga_feed = subscribe(&app, &olga).await;
    let oscar_feed = subscribe(&app, &oscar).await;
    let admin_feed = subscribe(&app, &admin).await;
    let mut big = String::from("Email,First name\n");
    for i in 0..3000 {
        big.push_str(&format!("live{i}@example.com,Live\n"));
    }
    big.push_str("bad-email,Bad\n");
    let olgas = start(&app, &olga, &big).await;
    let oscars = start(
        &app,
        &oscar,
        "Email,First name\noscar.client@example.com,O\n",
    )
    .await;

    // Olga follows her job to its end; the last state she is told is the final one. The
    // stream opens by telling the page to reload what it shows.
    let (names, seen) = events(olga_feed, Duration::from_secs(60), finished(olgas)).await;
    assert_eq!(
        names.first().map(String::as_str),
        Some("resync"),
        "{names:?}"
    );
    let last = seen
        .iter()
        .rev()
        .find(|j| j["id"] == olgas)
        .expect("events of her job");
    assert_eq!(last["status"], "success_with_errors", "{last}");
    assert_eq!(last["processed_rows"], 3001);
    assert_eq!(last["created"], 3000);
    assert_eq!(last["errors"], 1);
    assert!(
        seen.iter()
            .all(|j| j["initiated_by"]["email"] == "olga@example.com"),
        "Olga saw another operator's job: {seen:?}"
    );
    // Oscar sees his, never hers. His stream was open all through her import and is read
    // only now that it is over, for as long again as the stream's poll, so whatever was
    // sent to it about her job is in what is read; the admin's stream, read the same way,
    // has it.
    let seen = job_events(oscar_feed, Duration::from_secs(3), |_| false).await;
    assert!(finished(oscars)(&seen), "{seen:?}");
    assert!(seen.iter().all(|j| j["id"] != olgas), "{seen:?}");
    let seen = job_events(admin_feed, Duration::from_secs(30), |jobs| {
        finished(olgas)(jobs) && finished(oscars)(jobs)
    })
    .await;
    assert!(
        finished(olgas)(&seen) && finished(oscars)(&seen),
        "{seen:?}"
    );
}

async fn the_bell_tells_the_initiator(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let olga = app.user(&admin, "olga@example.com", "operator").await;
    let job = import(
        &app,
        &olga,
        "import-users",
        "Email,First name\na@example.com,A\nnot-an-email,B\n",
    )
    .await;
    let bell = |client: Client| {
        let app = &app;
        async move {
            let res = app.call(&client, "notifications", &[]).await;
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.unwrap()
        }
    };
    let mine = bell(olga.clone()).await;
    assert_eq!(mine["unread"], 1, "{mine}");
    assert_eq!(
        mine["latest"][0]["text"],
        "Finished with 1 error: 1 created, 0 updated, 0 unchanged"
    );
    assert_eq!(mine["latest"][0]["job_id"], job["id"]);
    assert_eq!(mine["latest"][0]["job_errors"], 1);
    // Nobody else is told.
    assert_eq!(bell(admin.clone()).await["unread"], 0);
    // Marking read is the user's own business.
    let id = mine["latest"][0]["id"].as_i64().unwrap().to_string();
    let res = app
        .call(&admin, "notifications/read", &[("id", id.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(bell(olga.clone()).await["unread"], 1);
    let res = app
        .call(&olga, "notifications/read", &[("id", id.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = bell(olga.clone()).await;
    assert_eq!(after["unread"], 0);
    assert_eq!(after["latest"][0]["read"], true);
}

async fn another_operators_import_page_is_forbidden(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let olga = app.user(&admin, "olga@example.com", "operator").await;
    let oscar = app.user(&admin, "oscar@example.com", "operator").await;
    let job = import(
        &app,
        &olga,
        "import-users",
        "Email,First name\na@example.com,A\n",
    )
    .await;
    let page = format!("/imports/{}", job["id"]);
    let res = olga.get(app.url(&page)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("1 of 1 rows processed"));
    let res = oscar.get(app.url(&page)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("Access denied"));
    assert!(!html.contains("rows processed"));
    let res = oscar.get(app.url("/imports/999999")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// An operator learns nothing of another operator's imports through a client's page or the
/// log of an identical file; a manager and an admin see them all.
async fn a_client_page_names_only_the_imports_its_reader_may_see(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let olga = app.user(&admin, "olga@example.com", "operator").await;
    let oscar = app.user(&admin, "oscar@example.com", "operator").await;
    let mary = app.user(&admin, "mary@example.com", "manager").await;
    let file = "Email,First name,City\nann@example.com,Ann,Leeds\n";
    let olgas = import(&app, &olga, "import-users", file).await;
    assert_eq!(olgas["created"], 1, "{olgas}");
    let oscars = import(
        &app,
        &oscar,
        "import-users",
        "Email,First name,City\nann@example.com,Ann,York\n",
    )
    .await;
    assert_eq!(oscars["updated"], 1, "{oscars}");
    let (_, found) = get(&app, &admin, "/api/v1/clients?search=ann@").await;
    let client = found["items"][0]["id"].as_i64().unwrap();
    let jobs_listed = async |reader: &reqwest::Client| {
        let res = app
            .call(
                reader,
                "clients/show",
                &[("id", client.to_string().as_str())],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let details: serde_json::Value = res.json().await.unwrap();
        details["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["job"]["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let (o1, o2) = (
        olgas["id"].as_i64().unwrap(),
        oscars["id"].as_i64().unwrap(),
    );
    assert_eq!(jobs_listed(&olga).await, [o1]);
    assert_eq!(jobs_listed(&oscar).await, [o2]);
    assert_eq!(jobs_listed(&mary).await, [o2, o1]);
    assert_eq!(jobs_listed(&admin).await, [o2, o1]);
    let page = text(&app, &oscar, &format!("/clients/{client}")).await;
    assert!(!page.contains(&format!("/imports/{o1}\"")), "{page}");

    // Oscar imports Olga's very file: his log does not point at her import…
    let again = import(&app, &oscar, "import-users", file).await;
    let log = |job: serde_json::Value, reader: reqwest::Client| {
        let app = &app;
        async move {
            let (_, log) = get(
                app,
                &reader,
                &format!("/api/v1/imports/{}/messages?level=info", job["id"]),
            )
            .await;
            log.to_string()
        }
    };
    let oscars_log = log(again.clone(), oscar.clone()).await;
    assert!(!oscars_log.contains("identical file"), "{oscars_log}");
    // …while the admin's, importing it again, does.
    let admins = import(&app, &admin, "import-users", file).await;
    let admins_log = log(admins, admin.clone()).await;
    assert!(admins_log.contains("identical file"), "{admins_log}");
    // And Olga's second import of her own file names her first.
    let hers = import(&app, &olga, "import-users", file).await;
    let hers = log(hers, olga.clone()).await;
    assert!(hers.contains(&format!("as import #{o1} ")), "{hers}");
}

/// The client page names the imports that created and changed the client: created rows
/// are recorded as runs of ids, changes one record a row.
async fn a_client_page_names_the_imports_that_created_and_changed_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let first = import(
        &app,
        &admin,
        "import-users",
        "Email,First name,City\nann@example.com,Ann,Leeds\nbob@example.com,Bob,Oslo\ncid@example.com,Cid,Rome\n",
    )
    .await;
    let second = import(
        &app,
        &admin,
        "import-users",
        "Email,First name,City\nbob@example.com,Bob,Paris\ndee@example.com,Dee,Lyon\n",
    )
    .await;
    assert_eq!(second["updated"], 1, "{second}");
    let (a, b) = (
        first["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
    );
    // Each item of the page's list: what the import did, and which import (its link).
    let imports_of = async |email: &str| {
        let (_, found) = get(&app, &admin, &format!("/api/v1/clients?search={email}")).await;
        let id = found["items"][0]["id"].as_i64().unwrap();
        let html = text(&app, &admin, &format!("/clients/{id}")).await;
        let start = html
            .find("data-testid=\"client-imports\"")
            .expect("the imports list");
        let list = &html[start..];
        let list = &list[..list.find("</ul>").unwrap_or(list.len())];
        list.split("<li")
            .skip(1)
            .map(|item| {
                let what = if item.contains("Created by") {
                    "created"
                } else if item.contains("Changed by") {
                    "changed"
                } else {
                    "?"
                };
                let job = item
                    .split("href=\"/imports/")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .and_then(|n| n.parse::<i64>().ok())
                    .unwrap_or(0);
                (what, job)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(imports_of("ann@").await, [("created", a)]);
    assert_eq!(imports_of("cid@").await, [("created", a)]);
    // Newest first.
    assert_eq!(imports_of("bob@").await, [("changed", b), ("created", a)]);
    assert_eq!(imports_of("dee@").await, [("created", b)]);
}

async fn admins_rename_programs_and_others_may_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let manager = app.user(&admin, "boss@example.com", "manager").await;
    for (id, name) in [("7", "Gold"), ("", "Silver")] {
        let res = app
            .call(&admin, "ib-programs/create", &[("id", id), ("name", name)])
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
    }
    let res = app
        .call(
            &admin,
            "ib-programs/rename",
            &[("id", "7"), ("name", "Platinum")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // A taken name is refused, and a manager may not rename at all.
    let res = app
        .call(
            &admin,
            "ib-programs/rename",
            &[("id", "7"), ("name", "Silver")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = app
        .call(
            &manager,
            "ib-programs/rename",
            &[("id", "7"), ("name", "Mine")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, programs) = get(&app, &admin, "/api/v1/ib-programs").await;
    let names: Vec<(i64, &str)> = programs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_i64().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [(7, "Platinum"), (8, "Silver")]);
    assert_eq!(app.audit_count("ib_program.renamed").await, 1);
}

/// Calls a server function that changes a user, then waits out the time an open stream
/// trusts what it read of its user (2 s).
async fn change_and_wait(app: &TestApp, client: &Client, endpoint: &str, form: &[(&str, &str)]) {
    let res = app.call(client, endpoint, form).await;
    assert_eq!(res.status(), StatusCode::OK, "{endpoint}");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
}

/// Reads an event stream to its end, which must come within a few seconds and before it
/// has told of a reverted import.
async fn ends_before_it_tells_of_a_revert(feed: reqwest::Response) {
    let started = std::time::Instant::now();
    let (names, seen) = events(feed, Duration::from_secs(20), |_| false).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the stream did not end: {names:?}"
    );
    assert!(
        seen.iter().all(|j| j["status"] != "reverted"),
        "it was told more: {seen:?}"
    );
}

/// A manager's stream carries every import; once the manager is made an operator it
/// carries only their own, and an operator's stream ends once the operator is disabled,
/// before it tells anything more.
async fn a_stream_narrows_when_its_user_is_demoted_and_ends_when_disabled(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let mia = app.user(&admin, "mia@example.com", "manager").await;
    let olga = app.user(&admin, "olga@example.com", "operator").await;
    let id_of = |email: &str| {
        let app = &app;
        let email = email.to_owned();
        async move {
            app.scalar_i64(&format!(
                "SELECT id FROM back_office_user WHERE email = '{email}'"
            ))
            .await
            .to_string()
        }
    };
    let (mia_id, olga_id) = (
        id_of("mia@example.com").await,
        id_of("olga@example.com").await,
    );

    let mia_feed = subscribe(&app, &mia).await;
    let olgas = start(&app, &olga, "Email,First name\nolga.1@example.com,O\n").await;
    let admins = start(&app, &admin, "Email,First name\nadmin.1@example.com,A\n").await;
    let seen = job_events(mia_feed, Duration::from_secs(30), |jobs| {
        finished(olgas)(jobs) && finished(admins)(jobs)
    })
    .await;
    assert!(
        finished(olgas)(&seen) && finished(admins)(&seen),
        "a manager follows every import: {seen:?}"
    );

    // Demoted, Mia's open stream stops carrying others' imports (it reads its user again
    // at most every 2 s).
    let mia_feed = subscribe(&app, &mia).await;
    let control = subscribe(&app, &admin).await;
    change_and_wait(
        &app,
        &admin,
        "admin/users/role",
        &[("id", &mia_id), ("role", "operator")],
    )
    .await;
    let later = start(&app, &admin, "Email,First name\nadmin.2@example.com,A\n").await;
    let seen = job_events(control, Duration::from_secs(30), finished(later)).await;
    assert!(finished(later)(&seen), "{seen:?}");
    let seen = job_events(mia_feed, Duration::from_secs(3), |_| false).await;
    assert!(seen.iter().all(|j| j["id"] != later), "{seen:?}");

    // Disabled, Olga's stream ends at the next event it would have carried: the revert of
    // her own import.
    let olga_feed = subscribe(&app, &olga).await;
    change_and_wait(
        &app,
        &admin,
        "admin/users/active",
        &[("id", &olga_id), ("active", "false")],
    )
    .await;
    let (status, reverted) =
        common::post(&app, &admin, &format!("/api/v1/imports/{olgas}/revert")).await;
    assert_eq!(status, StatusCode::OK, "{reverted}");
    ends_before_it_tells_of_a_revert(olga_feed).await;

    // Signed out in another tab, Oleg's stream ends the same way.
    let oleg = app.user(&admin, "oleg@example.com", "operator").await;
    let olegs = start(&app, &oleg, "Email,First name\noleg.1@example.com,O\n").await;
    wait(&app, &oleg, olegs).await;
    let oleg_feed = subscribe(&app, &oleg).await;
    change_and_wait(&app, &oleg, "logout", &[]).await;
    let (status, reverted) =
        common::post(&app, &admin, &format!("/api/v1/imports/{olegs}/revert")).await;
    assert_eq!(status, StatusCode::OK, "{reverted}");
    ends_before_it_tells_of_a_revert(oleg_feed).await;
}

/// A server whose uploads may hold 20,000 rows: enough for exports longer than one read.
async fn app_for_large_files(backend: Backend) -> TestApp {
    common::spawn_app_with(
        backend,
        common::Options {
            import_limits: app::import::prepare::Limits {
                max_rows: 20_000,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
}

/// A client export quotes what needs quoting (a comma, a quotation mark, a line break),
/// neutralises a formula, and holds every row of a list longer than one read (5,000 rows),
/// once each.
async fn exports_quote_their_cells_and_hold_every_row(backend: Backend) {
    let app = app_for_large_files(backend).await;
    let admin = app.admin().await;
    const ROWS: usize = 12_000;
    let mut file = String::from("Email,First name,Last name,Address,City\n");
    file.push_str("quote@example.com,\"Ann, Jr.\",\"O\"\"Brien\",\"1 High St\nFlat 2\",=SUM(A1)\n");
    for i in 0..ROWS {
        file.push_str(&format!("bulk{i:05}@example.com,Bulk,Row{i},,\n"));
    }
    let job = import(&app, &admin, "import-users", &file).await;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(job["created"], ROWS + 1, "{job}");

    let body = text(&app, &admin, "/api/v1/clients.csv?sort=email").await;
    let body = body.strip_prefix('\u{FEFF}').expect("a BOM");
    // The quoting, as written.
    assert!(
        body.contains(",\"Ann, Jr.\",,\"O\"\"Brien\",")
            && body.contains(",\"1 High St\nFlat 2\",'=SUM(A1),"),
        "{}",
        &body[..body.len().min(2_000)]
    );
    // And as a spreadsheet reads it back.
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (email, first, last, address, city) = (
        at("Email"),
        at("First name"),
        at("Last name"),
        at("Address"),
        at("City"),
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), ROWS + 1);
    let quoted = &rows[ROWS];
    assert_eq!(
        [
            &quoted[email],
            &quoted[first],
            &quoted[last],
            &quoted[address],
            &quoted[city]
        ],
        [
            "quote@example.com",
            "Ann, Jr.",
            "O\"Brien",
            "1 High St\nFlat 2",
            "'=SUM(A1)"
        ]
    );
    let emails: Vec<&str> = rows[..ROWS].iter().map(|r| &r[email]).collect();
    let expected: Vec<String> = (0..ROWS)
        .map(|i| format!("bulk{i:05}@example.com"))
        .collect();
    assert_eq!(emails, expected, "every row once, in the view's order");
}

/// An export is one view of the table even while an import writes to it between its
/// reads: read in pieces of 5,000 sorted by email, with an import landing after the first
/// piece that adds 3,000 clients sorting first and changes one near the end, it holds the
/// 12,000 clients as they were, each once (as the download does: `api::export_clients`).
async fn an_export_is_one_view_of_the_table_while_an_import_writes(backend: Backend) {
    use app::services::export::{CsvExport, snapshot};
    let app = app_for_large_files(backend).await;
    let admin = app.admin().await;
    const ROWS: usize = 12_000;
    let mut file = String::from("Email,First name,City\n");
    for i in 0..ROWS {
        file.push_str(&format!("snap{i:05}@example.com,Snap,London\n"));
    }
    let job = import(&app, &admin, "import-users", &file).await;
    assert_eq!(job["created"], ROWS, "{job}");

    let filter = app::model::ClientFilter {
        sort: app::model::Sort {
            column: Some("email".into()),
            desc: false,
        },
        ..Default::default()
    };
    let txn = snapshot(&app.db).await.unwrap();
    let mut export = app::services::export::ClientExport::new(
        app::services::browse::ClientChunks::new(filter, app::model::Desks::All, 5_000),
    );
    let mut body = export.header(&txn).await.unwrap();
    body.extend(
        export
            .next_rows(&txn)
            .await
            .unwrap()
            .expect("a first piece"),
    );

    let mut meanwhile = String::from("Email,First name,City\n");
    for i in 0..3_000 {
        meanwhile.push_str(&format!("aaa{i:05}@example.com,Early,Leeds\n"));
    }
    meanwhile.push_str(&format!("snap{:05}@example.com,Snap,Paris\n", ROWS - 1));
    let job = import(&app, &admin, "import-users", &meanwhile).await;
    assert_eq!(
        (job["created"].as_i64(), job["updated"].as_i64()),
        (Some(3_000), Some(1)),
        "{job}"
    );

    while let Some(rows) = export.next_rows(&txn).await.unwrap() {
        body.extend(rows);
    }
    txn.rollback().await.unwrap();
    let body = body
        .strip_prefix(app::services::export::BOM)
        .expect("a BOM");
    let mut reader = csv::Reader::from_reader(body);
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (email, city) = (column("Email"), column("City"));
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[email].to_owned(), r[city].to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = (0..ROWS)
        .map(|i| (format!("snap{i:05}@example.com"), "London".to_owned()))
        .collect();
    assert_eq!(rows.len(), ROWS);
    assert!(
        rows == expected,
        "the export is not the table as it was: {:?}…",
        &rows[..3]
    );
}

on_both_databases!(
    an_export_is_one_view_of_the_table_while_an_import_writes,
    a_stream_narrows_when_its_user_is_demoted_and_ends_when_disabled,
    exports_quote_their_cells_and_hold_every_row,
    a_client_page_names_the_imports_that_created_and_changed_it,
    admins_rename_programs_and_others_may_not,
    clients_are_filtered_sorted_and_exported,
    search_ignores_case_in_every_alphabet,
    pages_answer_with_what_they_are,
    pages_are_whole_without_javascript,
    accounts_are_filtered_sorted_and_exported,
    the_upload_form_and_its_templates,
    live_status_reaches_those_who_may_see_the_job,
    the_bell_tells_the_initiator,
    another_operators_import_page_is_forbidden,
    a_client_page_names_only_the_imports_its_reader_may_see,
);

/// Two instances on one PostgreSQL database: a page served by one follows a job that
/// the other runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_status_crosses_instances() {
    let first = spawn_app(Backend::Postgres).await;
    let second = common::spawn_on(&first.database_url, 0).await;
    let admin_first = first.admin().await;
    let admin_second = second.admin().await;
    let feed = subscribe(&second, &admin_second).await;
    let id = start(&first, &admin_first, "Email,First name\nx@example.com,X\n").await;
    let seen = job_events(feed, Duration::from_secs(30), finished(id)).await;
    let last = seen
        .iter()
        .rev()
        .find(|j| j["id"] == id)
        .expect("the job's events");
    assert_eq!(last["status"], "success", "{seen:?}");
}
