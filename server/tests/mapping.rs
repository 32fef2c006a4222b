//! Column mappings, extra attributes and the export round trip (SPEC §3.5, issue "import
//! wizard") through the HTTP API with the server's own workers, on SQLite and PostgreSQL.

mod common;

use common::{Backend, TestApp, get, post, spawn_app, wait};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;

fn counts(job: &Value) -> [i64; 4] {
    ["created", "updated", "unchanged", "errors"].map(|k| job[k].as_i64().unwrap())
}

/// Uploads `csv` for `import-users` with an optional `mapping` field.
async fn upload_mapped(
    app: &TestApp,
    client: &Client,
    csv: &str,
    mapping: Option<&str>,
) -> (StatusCode, Value) {
    let mut form = Form::new()
        .text("title", "mapped")
        .text("action", "import-users")
        .part(
            "file",
            Part::bytes(csv.as_bytes().to_vec()).file_name("partner.csv"),
        );
    if let Some(m) = mapping {
        form = form.text("mapping", m.to_owned());
    }
    let res = client
        .post(app.url("/api/v1/imports"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn import_mapped(app: &TestApp, client: &Client, csv: &str, mapping: Option<&str>) -> Value {
    let (status, job) = upload_mapped(app, client, csv, mapping).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    wait(app, client, job["id"].as_i64().unwrap()).await
}

async fn log(app: &TestApp, client: &Client, id: i64) -> Vec<String> {
    let (status, list) = get(
        app,
        client,
        &format!("/api/v1/imports/{id}/messages?level=info"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect()
}

/// The clients a search finds, by email.
async fn search(app: &TestApp, client: &Client, term: &str) -> Vec<String> {
    let (status, page) = get(
        app,
        client,
        &format!("/api/v1/clients?search={}", urlencode(term)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut emails: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    emails
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The client with `email`, with its extra attributes.
async fn client_named(app: &TestApp, client: &Client, email: &str) -> Value {
    let (status, page) = get(
        app,
        client,
        &format!("/api/v1/clients?search={}", urlencode(email)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let id = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == email)
        .unwrap_or_else(|| panic!("{email} in {page}"))["id"]
        .as_i64()
        .unwrap();
    let (status, found) = get(app, client, &format!("/api/v1/clients/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    found
}

const PARTNER: &str = "\
Mail,Given,Surname,External ID,AffiliateID,Notes,Colour
ann@example.com,Ann,Lee,EXT-77,AFF-1,call back,red
bob@example.com,Bob,Ma,EXT-78,,,blue
";

const PARTNER_MAPPING: &str = r#"{"Mail": "Email", "Given": "First name",
    "Surname": "Last name", "External ID": "extra:External ID",
    "AffiliateID": "extra:AffiliateID", "Notes": "ignore"}"#;

async fn a_mapping_fills_fields_and_extra_attributes(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let job = import_mapped(&app, &admin, PARTNER, Some(PARTNER_MAPPING)).await;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(counts(&job), [2, 0, 0, 0]);
    let mapping = job["mapping"]
        .as_array()
        .expect("the job keeps its mapping");
    assert_eq!(mapping.len(), 6, "{job}");
    assert!(
        mapping.contains(&serde_json::json!(["Mail", "Email"])),
        "{job}"
    );
    assert!(
        mapping.contains(&serde_json::json!(["AffiliateID", "extra:AffiliateID"])),
        "{job}"
    );
    let id = job["id"].as_i64().unwrap();
    let log = log(&app, &admin, id).await;
    assert!(
        log.contains(&"Kept as extra attributes of each client: External ID, AffiliateID.".into()),
        "{log:?}"
    );
    assert!(
        log.contains(&"Ignored as the mapping says: Notes.".into()),
        "{log:?}"
    );
    assert!(
        log.contains(&"Ignored columns this import does not know: Colour.".into()),
        "a column the mapping leaves out follows the header rules: {log:?}"
    );

    let ann = client_named(&app, &admin, "ann@example.com").await;
    assert_eq!(ann["first_name"], "Ann");
    assert_eq!(ann["last_name"], "Lee");
    assert_eq!(
        ann["attributes"],
        serde_json::json!({"AffiliateID": "AFF-1", "External ID": "EXT-77"})
    );
    let bob = client_named(&app, &admin, "bob@example.com").await;
    assert_eq!(
        bob["attributes"],
        serde_json::json!({"External ID": "EXT-78"}),
        "an empty cell keeps no attribute"
    );
    assert_eq!(search(&app, &admin, "EXT-77").await, ["ann@example.com"]);
    assert_eq!(search(&app, &admin, "AFF-1").await, ["ann@example.com"]);
    assert!(
        search(&app, &admin, "EXT-7").await.is_empty(),
        "attributes are found by their exact value"
    );
    assert!(
        search(&app, &admin, "call back").await.is_empty(),
        "ignored"
    );

    // The same file without a mapping: the header rules alone, as before.
    let (status, body) = upload_mapped(&app, &admin, PARTNER, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Missing column: a client file needs `Email`"),
        "{body}"
    );
    let plain = import_mapped(
        &app,
        &admin,
        "Email,First name
cy@example.com,Cy
",
        None,
    )
    .await;
    assert_eq!(plain["status"], "success", "{plain}");
    assert!(plain["mapping"].is_null(), "{plain}");
}

async fn a_bad_mapping_is_refused_with_its_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    for (mapping, says) in [
        (
            r#"{"Mail": "Shoe size"}"#,
            "`Shoe size` is not a field of import-users",
        ),
        ("{not json", "The mapping is not valid JSON"),
        (r#"{"Mail": "extra:"}"#, "An extra attribute needs a name"),
        (
            r#"{"Fax": "Phone number"}"#,
            "The mapping names a column `Fax` that the file does not have",
        ),
        (
            r#"{"Mail": "Email", "Given": "Email"}"#,
            "Duplicate column: `Mail` (column 1) and `Given` (column 2) are both `Email`",
        ),
        (
            r#"{"Mail": "ignore"}"#,
            "Missing column: a client file needs `Email`",
        ),
    ] {
        let (status, body) = upload_mapped(&app, &admin, PARTNER, Some(mapping)).await;
        assert!(
            [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&status),
            "{mapping}: {status} {body}"
        );
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{mapping}: {body}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM import_job").await, 0);
}

async fn extra_attributes_are_updated_and_reverted(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let mapping = r#"{"Ref": "extra:External ID", "Tier": "extra:Tier", "Region": "extra:Region"}"#;
    let first = import_mapped(
        &app,
        &admin,
        "Email,First name,Ref,Tier\nann@example.com,Ann,EXT-1,gold\n",
        Some(r#"{"Ref": "extra:External ID", "Tier": "extra:Tier"}"#),
    )
    .await;
    assert_eq!(counts(&first), [1, 0, 0, 0], "{first}");
    let second = import_mapped(
        &app,
        &admin,
        "Email,Ref,Tier,Region\nann@example.com,EXT-2,gold,EU\n",
        Some(mapping),
    )
    .await;
    assert_eq!(counts(&second), [0, 1, 0, 0], "{second}");
    let ann = client_named(&app, &admin, "ann@example.com").await;
    assert_eq!(
        ann["attributes"],
        serde_json::json!({"External ID": "EXT-2", "Region": "EU", "Tier": "gold"})
    );
    // Importing it again changes nothing.
    let again = import_mapped(
        &app,
        &admin,
        "Email,Ref,Tier,Region\nann@example.com,EXT-2,gold,EU\n",
        Some(mapping),
    )
    .await;
    assert_eq!(counts(&again), [0, 0, 1, 0], "{again}");

    let second_id = second["id"].as_i64().unwrap();
    let (status, body) = post(&app, &admin, &format!("/api/v1/imports/{second_id}/revert")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ann = client_named(&app, &admin, "ann@example.com").await;
    assert_eq!(
        ann["attributes"],
        serde_json::json!({"External ID": "EXT-1", "Tier": "gold"}),
        "the changed value is back and the added one gone"
    );
    assert!(search(&app, &admin, "EXT-2").await.is_empty());
    assert_eq!(search(&app, &admin, "EXT-1").await, ["ann@example.com"]);

    let first_id = first["id"].as_i64().unwrap();
    let (status, body) = post(&app, &admin, &format!("/api/v1/imports/{first_id}/revert")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM client").await, 0);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM client_attribute")
            .await,
        0,
        "a deleted client's attributes go with it"
    );
}

const TWO_CLIENTS: &str = "\
Email,First name,Last name,Phone,City,Country,Date of birth,Ref
ann@example.com,Ann,=Evil,+44 20 7946 0958,London,GB,1980-02-03,EXT-1
bob@example.com,Bob,-Minus,+1 555 0100 200,Paris,FR,,
";

async fn an_export_edited_and_imported_back_changes_only_the_edited_cells(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let job = import_mapped(
        &app,
        &admin,
        TWO_CLIENTS,
        Some(r#"{"Ref": "extra:External ID"}"#),
    )
    .await;
    assert_eq!(counts(&job), [2, 0, 0, 0], "{job}");
    let before_bob = client_named(&app, &admin, "bob@example.com").await;

    let res = admin
        .get(app.url("/api/v1/clients.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let exported = res.text().await.unwrap();
    assert!(exported.contains(",'=Evil,"), "neutralised: {exported}");
    assert!(
        exported.contains(",'+442079460958,"),
        "neutralised: {exported}"
    );
    let header = exported.lines().next().unwrap();
    assert!(header.ends_with(",Updated,External ID"), "{header}");

    let edited = exported.replace(",London,", ",Leeds,");
    assert_ne!(edited, exported);
    let back = import_mapped(&app, &admin, &edited, None).await;
    assert_eq!(back["status"], "success", "{back}");
    assert_eq!(
        counts(&back),
        [0, 1, 1, 0],
        "only Ann's city changed: {back}"
    );
    let log = log(&app, &admin, back["id"].as_i64().unwrap()).await;
    assert!(
        log.contains(&"Ignored read-only columns of an export: Updated.".into()),
        "{log:?}"
    );

    let ann = client_named(&app, &admin, "ann@example.com").await;
    assert_eq!(ann["city"], "Leeds");
    assert_eq!(ann["last_name"], "=Evil", "the apostrophe is not kept");
    assert_eq!(ann["phone"], "+442079460958");
    assert_eq!(ann["date_of_birth"], "1980-02-03");
    assert_eq!(ann["attributes"]["External ID"], "EXT-1");
    let bob = client_named(&app, &admin, "bob@example.com").await;
    assert_eq!(
        bob, before_bob,
        "Bob's row was not edited: nothing of his changed"
    );

    // The whole change is in the import's change record: one field.
    let changed = app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM import_change WHERE job_id = {} \
             AND previous_values = '{{\"city\":\"London\"}}'",
            back["id"]
        ))
        .await;
    assert_eq!(changed, 1);
}

/// Uploads `csv` through the wizard: the job waits for its mapping.
async fn upload_for_review(app: &TestApp, client: &Client, csv: &str) -> Value {
    let form = Form::new()
        .text("title", "partner file")
        .text("action", "import-users")
        .text("review_mapping", "on")
        .part(
            "file",
            Part::bytes(csv.as_bytes().to_vec()).file_name("wifox.csv"),
        );
    let res = client
        .post(app.url("/api/v1/imports"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    res.json().await.unwrap()
}

/// The mapping step of job `id`, as its page gets it.
async fn mapping_step(app: &TestApp, client: &Client, id: i64) -> Value {
    let res = app
        .call(client, "imports/mapping", &[("id", &id.to_string())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// Chooses `targets` (one per column, in order) for job `id`.
async fn choose(app: &TestApp, client: &Client, id: i64, targets: &[&str]) -> (StatusCode, String) {
    let id = id.to_string();
    let keys: Vec<String> = (0..targets.len())
        .map(|i| format!("targets[{i}]"))
        .collect();
    let mut form: Vec<(&str, &str)> = vec![("id", id.as_str())];
    form.extend(keys.iter().map(String::as_str).zip(targets.iter().copied()));
    let res = app.call(client, "imports/mapping/choose", &form).await;
    (res.status(), res.text().await.unwrap())
}

fn proposed(step: &Value) -> Vec<(String, String)> {
    step["proposal"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["column"].as_str().unwrap().to_owned(),
                c["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const WIFOX: &str = "\
E-mail Address,Given name,Surname,Mobile,Zip,DOB,External ID,Updated
ann@example.com,Ann,Lee,+44 20 7946 0958,SW1A 1AA,1980-02-03,EXT-1,2026-01-01
bob@example.com,Bob,Ma,+1 555 0100 200,10001,1990-05-06,EXT-2,2026-01-01
";

async fn the_wizard_maps_then_reviews_and_remembers_the_mapping(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let job = upload_for_review(&app, &admin, WIFOX).await;
    assert_eq!(job["status"], "awaiting_mapping", "{job}");
    assert_eq!(
        job["validate_only"], true,
        "the wizard reviews before it writes"
    );
    let id = job["id"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, still) = get(&app, &admin, &format!("/api/v1/imports/{id}")).await;
    assert_eq!(
        still["status"], "awaiting_mapping",
        "no worker takes it: {still}"
    );

    let step = mapping_step(&app, &admin, id).await;
    assert_eq!(step["proposal"]["saved"], false);
    let columns = step["proposal"]["columns"].as_array().unwrap();
    assert_eq!(
        columns[0]["samples"],
        serde_json::json!(["ann@example.com", "bob@example.com"])
    );
    assert_eq!(
        proposed(&step),
        [
            ("E-mail Address", "Email"),
            ("Given name", "First name"),
            ("Surname", "Last name"),
            ("Mobile", "Phone number"),
            ("Zip", "Postal code"),
            ("DOB", "Date of birth"),
            ("External ID", "extra:External ID"),
            ("Updated", "ignore"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );

    // Email left out: refused, saying which, and the job still waits.
    let (status, body) = choose(
        &app,
        &admin,
        id,
        &[
            "ignore",
            "First name",
            "Last name",
            "Phone number",
            "ignore",
            "Date of birth",
            "extra:External ID",
            "ignore",
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("a client file needs `Email`"), "{body}");
    let (status, body) = choose(&app, &admin, id, &["Email"]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("The file has 8 columns; 1 were mapped"),
        "{body}"
    );

    let chosen = [
        "Email",
        "First name",
        "Last name",
        "Phone number",
        "ignore",
        "Date of birth",
        "extra:External ID",
        "ignore",
    ];
    let (status, body) = choose(&app, &admin, id, &chosen).await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {body}"
    );
    let job = wait(&app, &admin, id).await;
    assert_eq!(job["status"], "awaiting_confirmation", "{job}");
    assert_eq!(counts(&job), [2, 0, 0, 0], "{job}");
    assert_eq!(
        job["mapping"][4],
        serde_json::json!(["Zip", "ignore"]),
        "{job}"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM client").await,
        0,
        "reviewed, not written"
    );
    assert_eq!(app.audit_count("import.mapped").await, 1);
    let (status, body) = choose(&app, &admin, id, &chosen).await;
    assert_eq!(status, StatusCode::CONFLICT, "mapped once: {body}");

    let (status, body) = post(&app, &admin, &format!("/api/v1/imports/{id}/confirm")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = wait(&app, &admin, id).await;
    assert_eq!(job["status"], "success", "{job}");
    let ann = client_named(&app, &admin, "ann@example.com").await;
    assert_eq!(ann["postal_code"], Value::Null, "Zip was ignored");
    assert_eq!(ann["attributes"]["External ID"], "EXT-1");

    // The next file with these columns, in another order: the saved mapping is proposed.
    let reordered = "Zip,E-mail Address,Given name,Surname,Mobile,DOB,External ID,Updated\n\
        E1,cy@example.com,Cy,Oh,,,EXT-3,\n";
    let next = upload_for_review(&app, &admin, reordered).await;
    let step = mapping_step(&app, &admin, next["id"].as_i64().unwrap()).await;
    assert_eq!(step["proposal"]["saved"], true, "{step}");
    let again = proposed(&step);
    assert_eq!(again[0], ("Zip".to_owned(), "ignore".to_owned()));
    assert_eq!(again[1], ("E-mail Address".to_owned(), "Email".to_owned()));
    assert!(
        step["proposal"]["columns"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("saved"),
        "{step}"
    );
}

async fn only_the_initiator_or_an_admin_maps_an_import(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let owner = app.user(&admin, "ops@example.com", "operator").await;
    let other = app.user(&admin, "other@example.com", "operator").await;
    let job = upload_for_review(&app, &owner, WIFOX).await;
    let id = job["id"].as_i64().unwrap();
    let res = app
        .call(&other, "imports/mapping", &[("id", &id.to_string())])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (status, _) = choose(&app, &other, id, &["Email"; 8]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let page = other
        .get(app.url(&format!("/imports/{id}/mapping")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let page = owner
        .get(app.url(&format!("/imports/{id}/mapping")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("name=\"targets[6]\""),
        "one choice per column"
    );
    assert!(html.contains("Keep as extra attribute"));
}

const TO_REVIEW: &str = "\
Email,First name,Country,Date of birth
rev.ann@example.com,Ann,GB,1980-01-02
rev.bob@example.com,Bob,Atlantis,1981-02-03
rev.cy@example.com,Cy,DE,31/02/1990
rev.dee@example.com,Dee,Neverland,
";

async fn failing_rows_are_corrected_or_dropped_in_the_review(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let res = common::upload(&app, &admin, "import-users", TO_REVIEW, true).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let job = wait(&app, &admin, id).await;
    assert_eq!(job["status"], "awaiting_confirmation", "{job}");
    assert_eq!(counts(&job), [1, 0, 0, 3], "{job}");
    let sid = id.to_string();
    let correct = |line: &'static str, column: &'static str, value: &'static str| {
        let (app, admin, sid) = (&app, &admin, sid.clone());
        async move {
            let res = app
                .call(
                    admin,
                    "imports/correct",
                    &[
                        ("id", &sid),
                        ("line", line),
                        ("column", column),
                        ("value", value),
                    ],
                )
                .await;
            (res.status(), res.text().await.unwrap())
        }
    };

    // A value that still breaks the rules is refused at once, and nothing is kept.
    let (status, body) = correct("3", "Country", "Atlantis2").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("Line 3, Country: `Atlantis2` is not a country"),
        "{body}"
    );
    let (status, body) = correct("3", "Shoe size", "42").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("The file has no column `Shoe size`"),
        "{body}"
    );
    let (status, body) = correct("9", "Country", "FR").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, same) = get(&app, &admin, &format!("/api/v1/imports/{id}")).await;
    assert_eq!(same["status"], "awaiting_confirmation", "{same}");

    // Kept: validated again through the correction.
    let (status, body) = correct("3", "Country", "FR").await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {body}"
    );
    let job = wait(&app, &admin, id).await;
    assert_eq!(job["status"], "awaiting_confirmation", "{job}");
    assert_eq!(counts(&job), [2, 0, 0, 2], "{job}");
    let res = app
        .call(&admin, "imports/drop", &[("id", &sid), ("line", "5")])
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let job = wait(&app, &admin, id).await;
    assert_eq!(counts(&job), [2, 0, 0, 1], "{job}");
    assert_eq!(job["total_rows"], 3, "the dropped line is left out: {job}");
    let log = log(&app, &admin, id).await;
    assert!(
        log.contains(
            &"Line 3, Country: `Atlantis` → `FR` (corrected by admin@example.com).".into()
        ),
        "{log:?}"
    );
    assert!(
        log.contains(&"Line 5 dropped (by admin@example.com).".into()),
        "{log:?}"
    );
    assert_eq!(app.audit_count("import.corrected").await, 2);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM client").await,
        0,
        "nothing written yet"
    );

    let (status, body) = post(&app, &admin, &format!("/api/v1/imports/{id}/confirm")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = wait(&app, &admin, id).await;
    assert_eq!(job["status"], "success_with_errors", "{job}");
    assert_eq!(counts(&job), [2, 0, 0, 1], "{job}");
    let bob = client_named(&app, &admin, "rev.bob@example.com").await;
    assert_eq!(bob["country"], "FR");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM client WHERE email = 'rev.dee@example.com'")
            .await,
        0
    );
    let report = admin
        .get(app.url(&format!("/api/v1/imports/{id}/errors.csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = report.lines().skip(1).collect();
    assert_eq!(lines.len(), 1, "{report}");
    assert!(lines[0].starts_with("4,"), "{report}");
    let original = admin
        .get(app.url(&format!("/api/v1/imports/{id}/file")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(original, TO_REVIEW, "the file is kept as uploaded");

    // After the confirmation, nothing more is corrected; a revert takes it all back.
    let (status, _) = correct("4", "Date of birth", "1990-02-28").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = post(&app, &admin, &format!("/api/v1/imports/{id}/revert")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM client").await, 0);
}

async fn a_corrected_import_with_extra_attributes_reports_and_reverts_as_corrected(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let csv = "Email,First name,Country,Project,Ref\n\
        ext.ann@example.com,Ann,GB,,EXT-1\n\
        ext.bob@example.com,Bob,Atlantis,Nowhere,EXT-2\n";
    let form = Form::new()
        .text("title", "reviewed partner file")
        .text("action", "import-users")
        .text("validate_only", "true")
        .text("mapping", r#"{"Ref": "extra:External ID"}"#)
        .part(
            "file",
            Part::bytes(csv.as_bytes().to_vec()).file_name("p.csv"),
        );
    let res = admin
        .post(app.url("/api/v1/imports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(counts(&wait(&app, &admin, id).await), [1, 0, 0, 1]);
    let res = app
        .call(
            &admin,
            "imports/correct",
            &[
                ("id", &id.to_string()),
                ("line", "3"),
                ("column", "Country"),
                ("value", "FR"),
            ],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    // The country is right now; the project is found missing only when the row is applied.
    let job = wait(&app, &admin, id).await;
    assert_eq!(counts(&job), [1, 0, 0, 1], "{job}");
    let (status, _) = post(&app, &admin, &format!("/api/v1/imports/{id}/confirm")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = wait(&app, &admin, id).await;
    assert_eq!(job["status"], "success_with_errors", "{job}");
    let report = admin
        .get(app.url(&format!("/api/v1/imports/{id}/errors.csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = report.lines().nth(1).unwrap();
    assert!(row.starts_with("3,"), "{report}");
    assert!(
        row.ends_with(",ext.bob@example.com,Bob,FR,Nowhere,EXT-2"),
        "the row as the import read it, corrected: {report}"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM client_attribute")
            .await,
        1
    );
    let (status, body) = post(&app, &admin, &format!("/api/v1/imports/{id}/revert")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM client").await, 0);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM client_attribute")
            .await,
        0
    );
}

/// An import waiting for its operator (its mapping, or the confirmation of its review) is
/// discarded by its initiator: it ends `discarded`, writes nothing and never runs.
async fn an_import_awaiting_its_operator_is_discarded(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let owner = app.user(&admin, "owner@example.com", "operator").await;
    let other = app.user(&admin, "other@example.com", "operator").await;
    let drafted = upload_for_review(&app, &owner, WIFOX).await;
    let drafted = drafted["id"].as_i64().unwrap();
    let res = common::upload(
        &app,
        &owner,
        "import-users",
        "Email,First name\nval@example.com,Val\n",
        true,
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let validated = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(
        wait(&app, &owner, validated).await["status"],
        "awaiting_confirmation"
    );

    // Another operator may not; the initiator may, once.
    let (status, _) = post(&app, &other, &format!("/api/v1/imports/{drafted}/discard")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, job) = post(&app, &owner, &format!("/api/v1/imports/{drafted}/discard")).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["status"], "discarded");
    assert!(job["finished_at"].is_string(), "{job}");
    let (status, body) = post(&app, &owner, &format!("/api/v1/imports/{drafted}/discard")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("it is discarded"), "{body}");
    let (status, _) = choose(
        &app,
        &owner,
        drafted,
        &[
            "Email",
            "First name",
            "Last name",
            "Phone",
            "Postal code",
            "Date of birth",
            "ignore",
            "ignore",
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Through the page's server function, the validated one.
    let res = app
        .call(&owner, "imports/discard", &[("id", &validated.to_string())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = post(
        &app,
        &owner,
        &format!("/api/v1/imports/{validated}/confirm"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = post(&app, &owner, &format!("/api/v1/imports/{validated}/revert")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Neither ever runs: nothing written, however long the workers look.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for id in [drafted, validated] {
        let (_, job) = get(&app, &owner, &format!("/api/v1/imports/{id}")).await;
        assert_eq!(job["status"], "discarded", "{job}");
        assert!(
            log(&app, &owner, id)
                .await
                .iter()
                .any(|m| m == "Discarded by owner@example.com: nothing was imported."),
            "{id}"
        );
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM client").await, 0);
    assert_eq!(app.audit_count("import.discarded").await, 2);

    // A finished import is reverted, not discarded.
    let done = common::import(
        &app,
        &owner,
        "import-users",
        "Email,First name\nkept@example.com,Kept\n",
    )
    .await;
    let (status, _) = post(
        &app,
        &owner,
        &format!("/api/v1/imports/{}/discard", done["id"]),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, list) = get(&app, &owner, "/api/v1/imports?status=discarded").await;
    assert_eq!(list["total"], 2, "{list}");
}

on_both_databases!(
    a_mapping_fills_fields_and_extra_attributes,
    a_bad_mapping_is_refused_with_its_reason,
    extra_attributes_are_updated_and_reverted,
    an_export_edited_and_imported_back_changes_only_the_edited_cells,
    the_wizard_maps_then_reviews_and_remembers_the_mapping,
    only_the_initiator_or_an_admin_maps_an_import,
    failing_rows_are_corrected_or_dropped_in_the_review,
    a_corrected_import_with_extra_attributes_reports_and_reverts_as_corrected,
    an_import_awaiting_its_operator_is_discarded,
);
