//! The HTTP API of SPEC §5 end to end, with the server's own import workers, on SQLite
//! and PostgreSQL: each action, re-imports, partial updates, validate-only and confirm,
//! revert, error reports, access rules and refused files.

mod common;

use common::{
    Backend, Options, TestApp, get, import, post, spawn_app, spawn_app_with, upload, wait,
};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

fn counts(job: &Value) -> [i64; 4] {
    ["created", "updated", "unchanged", "errors"].map(|k| job[k].as_i64().unwrap())
}

async fn messages(app: &TestApp, client: &Client, id: i64, level: &str) -> Vec<Value> {
    let (status, list) = get(
        app,
        client,
        &format!("/api/v1/imports/{id}/messages?level={level}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    list.as_array().unwrap().clone()
}

/// Reverts `job` as `client`, which must be taken (200); answers the job with its report.
async fn revert_ok(app: &TestApp, client: &Client, job: &Value) -> Value {
    let (status, body) = post(
        app,
        client,
        &format!("/api/v1/imports/{}/revert", job["id"]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn client_by_email(app: &TestApp, client: &Client, email: &str) -> Value {
    let (status, page) = get(app, client, &format!("/api/v1/clients?search={email}")).await;
    assert_eq!(status, StatusCode::OK);
    let found: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["email"] == email)
        .collect();
    assert_eq!(found.len(), 1, "{email} in {page}");
    found[0].clone()
}

async fn total(app: &TestApp, client: &Client, path: &str) -> i64 {
    let (status, page) = get(app, client, path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["total"].as_i64().unwrap()
}

const CLIENTS: &str = "\
Email,First name,Last name,Country,Phone,City,Date of birth
alice@example.com,Alice,Archer,GB,+44 20 7946 0958,London,1985-03-14
bob@example.com,Bob,Baker,DE,+49 30 901820,Berlin,1990-07-01
carol@example.com,=HYPERLINK(\"http://x\"),Cole,XX,,Paris,1979-12-31
";

async fn each_action_end_to_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;

    let job = import(&app, &admin, "import-users", CLIENTS).await;
    assert_eq!(job["status"], "success_with_errors", "{job}");
    assert_eq!(counts(&job), [2, 0, 0, 1]);
    assert_eq!(job["total_rows"], 3);
    assert_eq!(job["processed_rows"], 3);
    assert_eq!(job["initiated_by"]["email"], common::ADMIN_EMAIL);
    let id = job["id"].as_i64().unwrap();
    let errors = messages(&app, &admin, id, "error").await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], 4);
    assert_eq!(errors[0]["column"], "Country");
    let log = messages(&app, &admin, id, "info").await;
    assert!(
        log.iter()
            .any(|m| m["message"].as_str().unwrap().contains("Read as UTF-8")),
        "{log:?}"
    );

    // The error report: BOM, the failed row as it was, formulas neutralised.
    let res = admin
        .get(app.url(&format!("/api/v1/imports/{id}/errors.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = res.bytes().await.unwrap();
    assert!(body.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
    let text = String::from_utf8(body[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "line,error,Email,First name,Last name,Country,Phone,City,Date of birth"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with("4,"), "{text}");
    assert!(lines[1].contains("'=HYPERLINK"), "{text}");
    assert!(lines[1].contains("Country: "), "{text}");

    // The original file comes back byte for byte.
    let res = admin
        .get(app.url(&format!("/api/v1/imports/{id}/file")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap(), CLIENTS.as_bytes());

    let alice = client_by_email(&app, &admin, "alice@example.com").await;
    assert_eq!(alice["first_name"], "Alice");
    assert_eq!(alice["country"], "GB");
    assert_eq!(alice["date_of_birth"], "1985-03-14");
    assert_eq!(alice["project"]["name"], "Default");
    assert_eq!(alice["type"], "personal");
    // Pages past the end are empty; a page that is not a number is a bad request.
    let (status, far) = get(&app, &admin, "/api/v1/clients?page=18446744073709551615").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(far["items"], json!([]));
    assert_eq!(far["total"], 2);
    let (status, body) = get(&app, &admin, "/api/v1/imports?page=first").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "The request could not be completed: `page` must be a whole number, not `first`."
    );
    // Jobs are filtered by a status's stored name; another word is refused, naming them all.
    let (status, body) = get(&app, &admin, "/api/v1/imports?status=done").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "The request could not be completed: Unknown status `done`: expected one of \
         awaiting_mapping, new, in_progress, awaiting_confirmation, success, \
         success_with_errors, failed, reverted, discarded."
    );
    let (_, all) = get(&app, &admin, "/api/v1/imports").await;
    let first = all["items"][0]["status"]
        .as_str()
        .expect("a job")
        .to_owned();
    let (status, body) = get(&app, &admin, &format!("/api/v1/imports?status={first}")).await;
    assert_eq!(status, StatusCode::OK);
    let items = body["items"].as_array().unwrap();
    assert!(
        !items.is_empty() && items.iter().all(|j| j["status"] == first.as_str()),
        "{body}"
    );
    let (_, none) = get(&app, &admin, "/api/v1/imports?status=reverted").await;
    assert_eq!(none["total"], 0, "nothing is reverted yet: {none}");
    let (status, mut one) = get(&app, &admin, &format!("/api/v1/clients/{}", alice["id"])).await;
    assert_eq!(status, StatusCode::OK);
    // The list's record, and the client's extra attributes (none here).
    assert_eq!(one["attributes"], json!({}), "{one}");
    one.as_object_mut().unwrap().remove("attributes");
    assert_eq!(one, alice);

    let job = import(
        &app,
        &admin,
        "import-accounts",
        "Email,Account number,Product ID,Product currency\n\
         alice@example.com,100001,1,USD\n\
         bob@example.com,100002,2,EUR\n\
         nobody@example.com,100003,1,USD\n",
    )
    .await;
    assert_eq!(counts(&job), [2, 0, 0, 1], "{job}");
    let (_, accounts) = get(&app, &admin, "/api/v1/accounts?search=1000").await;
    assert_eq!(accounts["total"], 2);
    assert_eq!(accounts["items"][0]["client"]["email"], "alice@example.com");
    assert_eq!(accounts["items"][0]["currency"], "USD");

    // Programs are created with the id other systems know them by (API token, admin).
    let token = app
        .call(
            &admin,
            "admin/tokens/create",
            &[("owner_email", common::ADMIN_EMAIL), ("name", "script")],
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = Client::new()
        .post(app.url("/api/v1/ib-programs"))
        .bearer_auth(&token)
        .json(&json!({"id": 10, "name": "Gold"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let job = import(
        &app,
        &admin,
        "import-ibs",
        "IB Email,Client Email,IB Type ID\n\
         alice@example.com,bob@example.com,10\n\
         alice@example.com,,99\n",
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 1], "{job}");
    let (_, programs) = get(&app, &admin, "/api/v1/ib-programs").await;
    assert_eq!(programs["items"][0]["name"], "Gold");
    assert_eq!(programs["items"][0]["partners"], 1);
    assert_eq!(programs["items"][0]["referrals"], 1);
}

async fn reimporting_changes_nothing_and_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let first = import(&app, &admin, "import-users", CLIENTS).await;
    let again = import(&app, &admin, "import-users", CLIENTS).await;
    assert_eq!(counts(&again), [0, 0, 2, 1], "{again}");
    assert_eq!(again["status"], "success_with_errors");
    assert_eq!(total(&app, &admin, "/api/v1/clients").await, 2);
    let log = messages(&app, &admin, again["id"].as_i64().unwrap(), "info").await;
    let note = format!("as import #{}", first["id"]);
    assert!(
        log.iter().any(|m| {
            let m = m["message"].as_str().unwrap();
            m.contains("identical file (the same content, byte for byte)") && m.contains(&note)
        }),
        "{log:?}"
    );
}

async fn an_update_file_changes_only_its_columns(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    import(&app, &admin, "import-users", CLIENTS).await;
    let before = client_by_email(&app, &admin, "bob@example.com").await;
    let job = import(
        &app,
        &admin,
        "import-users",
        "Email,City\nBOB@example.com,Munich\nalice@example.com,London\n",
    )
    .await;
    assert_eq!(counts(&job), [0, 1, 1, 0], "{job}");
    assert_eq!(job["status"], "success");
    let after = client_by_email(&app, &admin, "bob@example.com").await;
    assert_eq!(after["city"], "Munich");
    for field in [
        "first_name",
        "last_name",
        "phone",
        "country",
        "date_of_birth",
        "username",
        "project",
        "desk",
        "created_at",
    ] {
        assert_eq!(after[field], before[field], "{field} is left alone");
    }
}

async fn validate_only_writes_nothing_and_confirm_does_what_it_said(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    import(
        &app,
        &admin,
        "import-users",
        "Email,First name\nbob@example.com,Bob\n",
    )
    .await;
    let file = "Email,First name,City\n\
                alice@example.com,Alice,London\n\
                bob@example.com,Bob,Berlin\n\
                bad-email,Nobody,Rome\n\
                dave@example.com,Dave,Oslo\n";
    let res = upload(&app, &admin, "import-users", file, true).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let dry = wait(&app, &admin, id).await;
    assert_eq!(dry["status"], "awaiting_confirmation", "{dry}");
    assert_eq!(dry["validate_only"], true);
    let predicted = counts(&dry);
    assert_eq!(predicted, [2, 1, 0, 1]);
    assert_eq!(
        total(&app, &admin, "/api/v1/clients").await,
        1,
        "nothing written"
    );
    assert_eq!(
        client_by_email(&app, &admin, "bob@example.com").await["city"],
        Value::Null
    );

    let (status, confirmed) = post(&app, &admin, &format!("/api/v1/imports/{id}/confirm")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{confirmed}");
    let done = wait(&app, &admin, id).await;
    assert_eq!(done["status"], "success_with_errors", "{done}");
    assert_eq!(counts(&done), predicted);
    assert!(done["confirmed_at"].is_string());
    assert_eq!(total(&app, &admin, "/api/v1/clients").await, 3);
    assert_eq!(
        client_by_email(&app, &admin, "bob@example.com").await["city"],
        "Berlin"
    );
    assert_eq!(messages(&app, &admin, id, "error").await.len(), 1);
    // Confirming twice is refused.
    let (status, body) = post(&app, &admin, &format!("/api/v1/imports/{id}/confirm")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not awaiting confirmation")
    );
}

async fn revert_restores_the_previous_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let a = import(&app, &admin, "import-users", CLIENTS).await;
    let alice_before = client_by_email(&app, &admin, "alice@example.com").await;
    let b = import(
        &app,
        &admin,
        "import-users",
        "Email,First name,City\nalice@example.com,Alice,Leeds\ndave@example.com,Dave,Oslo\n",
    )
    .await;
    assert_eq!(counts(&b), [1, 1, 0, 0]);

    // Reverting the first import leaves Alice alone: the second changed her since.
    let reverted = revert_ok(&app, &admin, &a).await;
    assert_eq!(reverted["status"], "reverted");
    assert_eq!(reverted["revert"]["deleted"], 1);
    let skipped = reverted["revert"]["not_reverted"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(
        skipped[0]
            .as_str()
            .unwrap()
            .contains(&format!("import #{} changed it afterwards", b["id"]))
    );
    let (_, page) = get(&app, &admin, "/api/v1/clients?search=bob").await;
    assert_eq!(
        page["total"], 0,
        "Bob, created by the first import, is gone"
    );

    // Reverting the second puts Alice's city back and removes Dave.
    let reverted = revert_ok(&app, &admin, &b).await;
    assert_eq!(reverted["revert"]["restored"], 1);
    assert_eq!(reverted["revert"]["deleted"], 1);
    let alice = client_by_email(&app, &admin, "alice@example.com").await;
    assert_eq!(alice["city"], alice_before["city"]);
    assert_eq!(alice["first_name"], alice_before["first_name"]);
    assert_eq!(total(&app, &admin, "/api/v1/clients").await, 1);
    assert_eq!(app.audit_count("import.reverted").await, 2);
    let (status, _) = post(&app, &admin, &format!("/api/v1/imports/{}/revert", b["id"])).await;
    assert_eq!(status, StatusCode::CONFLICT, "a job is reverted once");
}

async fn operators_see_only_their_own_imports(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let ann = app.user(&admin, "ann@example.com", "operator").await;
    let ben = app.user(&admin, "ben@example.com", "operator").await;
    let mia = app.user(&admin, "mia@example.com", "manager").await;
    let job = import(&app, &ann, "import-users", CLIENTS).await;
    let id = job["id"].as_i64().unwrap();

    for path in [
        format!("/api/v1/imports/{id}"),
        format!("/api/v1/imports/{id}/messages"),
        format!("/api/v1/imports/{id}/errors.csv"),
        format!("/api/v1/imports/{id}/file"),
    ] {
        let (status, body) = get(&app, &ben, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"], "You do not have permission to do this.");
        let (status, _) = get(&app, &mia, &path).await;
        assert_eq!(status, StatusCode::OK, "managers read every import: {path}");
    }
    let (status, _) = post(&app, &ben, &format!("/api/v1/imports/{id}/revert")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(total(&app, &ben, "/api/v1/imports").await, 0);
    assert_eq!(total(&app, &ann, "/api/v1/imports").await, 1);
    assert_eq!(total(&app, &mia, "/api/v1/imports").await, 1);
    assert!(app.audit_count("access.forbidden").await >= 5);

    // Managers browse but do not import or revert.
    let res = upload(&app, &mia, "import-users", CLIENTS, false).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (status, _) = post(&app, &mia, &format!("/api/v1/imports/{id}/revert")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let res = mia
        .post(app.url("/api/v1/ib-programs"))
        .json(&json!({"name": "Silver"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Strangers are asked to sign in, in JSON.
    let (status, body) = get(&app, &app.client(), "/api/v1/clients").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "Please sign in to continue.");
}

async fn refused_files_create_no_job(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            import_limits: app::import::prepare::Limits {
                max_bytes: 2_000,
                max_rows: 5,
            },
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin().await;
    let cases: [(&str, StatusCode, &str); 4] = [
        ("", StatusCode::UNPROCESSABLE_ENTITY, "The file is empty."),
        (
            "Email,First name\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            "no data rows",
        ),
        (
            "First name,City\nAnn,Rome\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Missing column",
        ),
        (
            "Email\na@x.io\nb@x.io\nc@x.io\nd@x.io\ne@x.io\nf@x.io\n",
            StatusCode::PAYLOAD_TOO_LARGE,
            "more than 5 data rows",
        ),
    ];
    for (csv, status, text) in cases {
        let res = upload(&app, &admin, "import-users", csv, false).await;
        assert_eq!(res.status(), status, "{text}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains(text), "{body}");
    }
    let big = format!("Email\n{}", "someone@example.com\n".repeat(200));
    let res = upload(&app, &admin, "import-users", &big, false).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap()
            == "The file is larger than the limit of 2 KB. Split it into smaller files.",
        "{body}"
    );

    let res = admin
        .post(app.url("/api/v1/imports"))
        .multipart(Form::new().text("action", "import-users"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin
        .post(app.url("/api/v1/imports"))
        .multipart(
            Form::new()
                .text("title", "x")
                .text("action", "import-everything")
                .part("file", Part::bytes(b"Email\na@x.io\n".to_vec())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("unknown action"));
    assert_eq!(total(&app, &admin, "/api/v1/imports").await, 0);
}

async fn programs_keep_given_ids_and_number_the_rest(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let create = |body: Value| {
        admin
            .post(app.url("/api/v1/ib-programs"))
            .json(&body)
            .send()
    };
    let res = create(json!({"id": 10, "name": "Gold"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = create(json!({"name": "Silver"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let silver: Value = res.json().await.unwrap();
    assert!(silver["id"].as_i64().unwrap() > 10, "{silver}");
    let res = create(json!({"id": 10, "name": "Platinum"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = create(json!({"name": "  "})).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = admin
        .post(app.url("/api/v1/ib-programs"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (_, list) = get(&app, &admin, "/api/v1/ib-programs").await;
    assert_eq!(list["total"], 2);
    assert_eq!(app.audit_count("ib_program.created").await, 2);
}

/// Reverting an accounts import and a partners' (IB) import over HTTP puts back the values
/// they changed and removes what they created.
async fn accounts_and_partner_imports_are_reverted_value_by_value(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let clients = import(
        &app,
        &admin,
        "import-users",
        "Email,First name\nalice@example.com,Alice\nbob@example.com,Bob\ncarol@example.com,Carol\n",
    )
    .await;
    assert_eq!(counts(&clients), [3, 0, 0, 0]);
    let accounts = "Email,Account number,Product ID,Product currency\n";
    let first = import(
        &app,
        &admin,
        "import-accounts",
        &format!("{accounts}alice@example.com,100001,1,USD\n"),
    )
    .await;
    assert_eq!(counts(&first), [1, 0, 0, 0], "{first}");
    let second = import(
        &app,
        &admin,
        "import-accounts",
        &format!("{accounts}alice@example.com,100001,2,EUR\nbob@example.com,100002,1,USD\n"),
    )
    .await;
    assert_eq!(counts(&second), [1, 1, 0, 0], "{second}");
    let account = async |number: &str| {
        let (_, page) = get(&app, &admin, &format!("/api/v1/accounts?search={number}")).await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account_number"] == number)
            .map(|a| (a["product_id"].as_i64().unwrap(), a["currency"].to_string()))
    };
    assert_eq!(account("100001").await, Some((2, "\"EUR\"".into())));
    let reverted = revert_ok(&app, &admin, &second).await;
    assert_eq!(
        (
            &reverted["revert"]["restored"],
            &reverted["revert"]["deleted"]
        ),
        (&json!(1), &json!(1)),
        "{reverted}"
    );
    assert_eq!(account("100001").await, Some((1, "\"USD\"".into())));
    assert_eq!(account("100002").await, None);

    // A program, then a partner with two referred clients.
    let res = app
        .call(
            &admin,
            "ib-programs/create",
            &[("id", "10"), ("name", "Gold")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ibs = import(
        &app,
        &admin,
        "import-ibs",
        "IB Email,Client Email,IB Type ID\n\
         alice@example.com,bob@example.com,10\n\
         alice@example.com,carol@example.com,10\n",
    )
    .await;
    assert_eq!(ibs["status"], "success", "{ibs}");
    let id_of = async |email: &str| {
        client_by_email(&app, &admin, email).await["id"]
            .as_i64()
            .unwrap()
    };
    let (alice, bob, carol) = (
        id_of("alice@example.com").await,
        id_of("bob@example.com").await,
        id_of("carol@example.com").await,
    );
    let referrals = async || {
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM referral WHERE program_id = 10 AND ib_client_id = {alice} \
             AND client_id IN ({bob}, {carol})"
        ))
        .await
    };
    let partners = async || {
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM introducing_broker WHERE program_id = 10 AND client_id = {alice}"
        ))
        .await
    };
    assert_eq!((partners().await, referrals().await), (1, 2));
    let reverted = revert_ok(&app, &admin, &ibs).await;
    assert_eq!(reverted["status"], "reverted");
    assert_eq!((partners().await, referrals().await), (0, 0));
    assert_eq!(
        total(&app, &admin, "/api/v1/clients").await,
        3,
        "the clients stay"
    );
}

/// A later import that changed a field holds back the revert of an earlier one, unless it
/// was itself reverted; a failed import is reverted too (it wrote nothing).
async fn a_reverted_later_import_does_not_hold_back_a_revert(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    import(
        &app,
        &admin,
        "import-users",
        "Email,First name,City\nalice@example.com,Alice,London\n",
    )
    .await;
    let city = async || client_by_email(&app, &admin, "alice@example.com").await["city"].clone();
    let a = import(
        &app,
        &admin,
        "import-users",
        "Email,City\nalice@example.com,Leeds\n",
    )
    .await;
    let b = import(
        &app,
        &admin,
        "import-users",
        "Email,City\nalice@example.com,Paris\n",
    )
    .await;
    assert_eq!((counts(&a), counts(&b)), ([0, 1, 0, 0], [0, 1, 0, 0]));
    assert_eq!(city().await, "Paris");
    revert_ok(&app, &admin, &b).await;
    assert_eq!(city().await, "Leeds");
    let reverted = revert_ok(&app, &admin, &a).await;
    assert_eq!(reverted["revert"]["restored"], 1, "{reverted}");
    assert_eq!(reverted["revert"]["not_reverted"], json!([]), "{reverted}");
    assert_eq!(city().await, "London");

    let failed = import(
        &app,
        &admin,
        "import-users",
        "Email,First name\nnot-an-email,X\n",
    )
    .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let reverted = revert_ok(&app, &admin, &failed).await;
    assert_eq!(reverted["status"], "reverted");
    assert_eq!(
        (
            &reverted["revert"]["deleted"],
            &reverted["revert"]["restored"]
        ),
        (&json!(0), &json!(0))
    );
    assert_eq!(total(&app, &admin, "/api/v1/clients").await, 1);
    assert_eq!(city().await, "London");
}

/// A revert reads its job's changes 500 at a time: an update of 1,200 clients is put back
/// whole. A partner's membership that a later import's referral depends on is left, and
/// the revert says so.
async fn a_revert_reads_its_changes_in_pieces_and_keeps_what_later_rows_need(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    const ROWS: usize = 1_200;
    let mut clients = String::from("Email,First name,City\n");
    let mut moved = String::from("Email,City\n");
    for i in 0..ROWS {
        clients.push_str(&format!("c{i}@example.com,C{i},Leeds\n"));
        moved.push_str(&format!("c{i}@example.com,Paris\n"));
    }
    assert_eq!(
        counts(&import(&app, &admin, "import-users", &clients).await),
        [ROWS as i64, 0, 0, 0]
    );
    let update = import(&app, &admin, "import-users", &moved).await;
    assert_eq!(counts(&update), [0, ROWS as i64, 0, 0]);
    let reverted = revert_ok(&app, &admin, &update).await;
    assert_eq!(reverted["revert"]["restored"], ROWS, "{reverted}");
    assert_eq!(reverted["revert"]["not_reverted"], json!([]));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM client WHERE city = 'Leeds'")
            .await,
        ROWS as i64
    );

    let res = app
        .call(
            &admin,
            "ib-programs/create",
            &[("id", "10"), ("name", "Gold")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let partner = import(
        &app,
        &admin,
        "import-ibs",
        "IB Email,Client Email,IB Type ID\nc0@example.com,,10\n",
    )
    .await;
    assert_eq!(partner["status"], "success", "{partner}");
    let referral = import(
        &app,
        &admin,
        "import-ibs",
        "IB Email,Client Email,IB Type ID\nc0@example.com,c1@example.com,10\n",
    )
    .await;
    assert_eq!(referral["status"], "success", "{referral}");
    let reverted = revert_ok(&app, &admin, &partner).await;
    assert_eq!(reverted["status"], "reverted");
    let kept = reverted["revert"]["not_reverted"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{reverted}");
    assert!(
        kept[0]
            .as_str()
            .unwrap()
            .ends_with("was not reverted: other records made since depend on it."),
        "{reverted}"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM introducing_broker WHERE program_id = 10")
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM referral WHERE program_id = 10")
            .await,
        1
    );
}

/// A row whose earlier values the database now refuses is left as it is, in its own
/// savepoint, and the revert says why; the other rows of the same revert are put back.
/// Here Alice's earlier desk was deleted since (a foreign key), and Bob's earlier username
/// was given to a client created since (a unique index).
async fn a_revert_the_database_refuses_for_some_rows_restores_the_others(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let project = app
        .scalar_i64("SELECT id FROM project WHERE name = 'Default'")
        .await
        .to_string();
    for desk in ["East", "West"] {
        let res = app
            .call(
                &admin,
                "admin/desks/create",
                &[("project", &project), ("name", desk)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "desk {desk}");
    }
    let created = import(
        &app,
        &admin,
        "import-users",
        "Email,First name,Username,Desk,City\n\
         alice@example.com,Alice,alice,East,London\n\
         bob@example.com,Bob,bobby,West,London\n\
         carol@example.com,Carol,carol,West,London\n",
    )
    .await;
    assert_eq!(counts(&created), [3, 0, 0, 0], "{created}");
    let update = import(
        &app,
        &admin,
        "import-users",
        "Email,Username,Desk,City\n\
         alice@example.com,alice,West,Leeds\n\
         bob@example.com,robert,West,Leeds\n\
         carol@example.com,carol,West,Leeds\n",
    )
    .await;
    assert_eq!(counts(&update), [0, 3, 0, 0], "{update}");
    // Since then: desk East is deleted (no client is in it any more), and a new client
    // takes the username Bob had.
    assert_eq!(app.execute("DELETE FROM desk WHERE name = 'East'").await, 1);
    let dave = import(
        &app,
        &admin,
        "import-users",
        "Email,First name,Username\ndave@example.com,Dave,bobby\n",
    )
    .await;
    assert_eq!(counts(&dave), [1, 0, 0, 0], "{dave}");

    let reverted = revert_ok(&app, &admin, &update).await;
    assert_eq!(reverted["status"], "reverted", "{reverted}");
    assert_eq!(reverted["revert"]["restored"], 1, "{reverted}");
    let id = |email: &str| format!("SELECT id FROM client WHERE email = '{email}'");
    let (alice, bob) = (
        app.scalar_i64(&id("alice@example.com")).await,
        app.scalar_i64(&id("bob@example.com")).await,
    );
    assert_eq!(
        reverted["revert"]["not_reverted"],
        json!([
            format!(
                "Client #{bob} was not reverted: another record now holds one of its earlier values (such as its username)."
            ),
            format!(
                "Client #{alice} was not reverted: a record its earlier values refer to (such as its desk) was deleted since."
            ),
        ]),
        "{reverted}"
    );
    // Carol is back in London; Alice and Bob keep what the update gave them, whole.
    let city = async |email: &str| client_by_email(&app, &admin, email).await["city"].clone();
    assert_eq!(city("carol@example.com").await, "London");
    assert_eq!(city("alice@example.com").await, "Leeds");
    assert_eq!(city("bob@example.com").await, "Leeds");
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM client c JOIN desk d ON d.id = c.desk_id \
             WHERE d.name = 'West' AND c.id = {alice}"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM client WHERE username = 'robert'")
            .await,
        1
    );
}

on_both_databases!(
    a_revert_the_database_refuses_for_some_rows_restores_the_others,
    a_revert_reads_its_changes_in_pieces_and_keeps_what_later_rows_need,
    accounts_and_partner_imports_are_reverted_value_by_value,
    a_reverted_later_import_does_not_hold_back_a_revert,
    each_action_end_to_end,
    reimporting_changes_nothing_and_says_so,
    an_update_file_changes_only_its_columns,
    validate_only_writes_nothing_and_confirm_does_what_it_said,
    revert_restores_the_previous_state,
    operators_see_only_their_own_imports,
    refused_files_create_no_job,
    programs_keep_given_ids_and_number_the_rest,
);
