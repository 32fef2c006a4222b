//! The command line of SPEC §6: `migrate` and `user create`, run as the real binary.

mod common;

use common::{ADMIN_EMAIL, Backend, fresh_database};
use std::io::Write;
use std::process::{Command, Stdio};

fn server(database_url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env_remove("ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary runs");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("it finishes");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn stored_hash(database_url: &str, email: &str) -> Option<String> {
    let db = server::db::connect(database_url).await.unwrap();
    app::services::users::find_by_email(&db, email)
        .await
        .unwrap()
        .map(|u| u.password_hash)
}

async fn migrate_and_create_users(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let (ok, out, err) = server(&url, &["migrate"], None);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Database is up to date."), "{out}");

    // A password piped on standard input is used as given.
    let (ok, out, err) = server(
        &url,
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "operator",
        ],
        Some("piped-password-123\n"),
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Created operator user ops@example.com"),
        "{out}"
    );
    assert!(!out.contains("Password (shown only once)"), "{out}");
    let phc = stored_hash(&url, "ops@example.com")
        .await
        .expect("user exists");
    assert!(app::auth::password::verify("piped-password-123", &phc));

    // Without one, a password is generated and printed once.
    let (ok, out, err) = server(
        &url,
        &[
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--role",
            "MANAGER",
        ],
        Some(""),
    );
    assert!(ok, "{out}{err}");
    let generated = out
        .lines()
        .find_map(|l| l.strip_prefix("Password (shown only once): "))
        .expect("the generated password is printed")
        .trim()
        .to_owned();
    let phc = stored_hash(&url, "boss@example.com")
        .await
        .expect("user exists");
    assert!(app::auth::password::verify(&generated, &phc));

    // Mistakes are explained, and nothing is created.
    let (ok, _, err) = server(
        &url,
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "root",
        ],
        None,
    );
    assert!(!ok);
    assert!(err.contains("unknown role `root`"), "{err}");
    let (ok, _, err) = server(
        &url,
        &[
            "user",
            "create",
            "--email",
            "OPS@example.com",
            "--role",
            "admin",
        ],
        Some(""),
    );
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    assert!(stored_hash(&url, "x@example.com").await.is_none());

    // `token create` prints a token, once, that acts as the user.
    let (ok, out, err) = server(
        &url,
        &[
            "token",
            "create",
            "--user",
            "ops@example.com",
            "--name",
            "sync",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("Token (shown only once): "))
        .expect("the token is printed")
        .trim()
        .to_owned();
    let db = server::db::connect(&url).await.unwrap();
    let user = app::services::tokens::authenticate(&db, &token)
        .await
        .unwrap()
        .expect("the token works");
    assert_eq!(
        (user.email.as_str(), user.role),
        ("ops@example.com", app::model::Role::Operator)
    );
    let (ok, _, err) = server(
        &url,
        &[
            "token",
            "create",
            "--user",
            "ghost@example.com",
            "--name",
            "x",
        ],
        None,
    );
    assert!(!ok);
    assert!(
        err.contains("no back-office user `ghost@example.com`"),
        "{err}"
    );
}

async fn import_a_file_from_the_command_line(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let (ok, out, err) = server(
        &url,
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "operator",
        ],
        Some(""),
    );
    assert!(ok, "{out}{err}");
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("clients.csv");
    std::fs::write(
        &file,
        "Email;First name;Country\nann@example.com;Ann;GB\nbob@example.com;Bob;Atlantis\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let import = [
        "import",
        "--action",
        "import-users",
        "--file",
        path,
        "--as",
        "ops@example.com",
    ];

    let (ok, out, err) = server(&url, &[&import[..], &["--validate-only"]].concat(), None);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(
            "awaiting_confirmation — 2 rows: 1 created, 0 updated, 0 unchanged, 1 errors."
        ),
        "{out}"
    );
    let db = server::db::connect(&url).await.unwrap();
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        app::entities::client::Entity::find()
            .count(&db)
            .await
            .unwrap(),
        0,
        "validate-only writes nothing"
    );

    let (ok, out, err) = server(&url, &import, None);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("success_with_errors — 2 rows: 1 created"),
        "{out}"
    );
    // Run by a script, the command prints its summary and no progress bar.
    assert!(!err.contains("rows ·"), "{err}");
    assert!(
        out.contains("line 3, Country: `Atlantis` is not a country"),
        "{out}"
    );
    assert_eq!(
        app::entities::client::Entity::find()
            .count(&db)
            .await
            .unwrap(),
        1
    );

    // On a terminal (here the pseudo-terminal of `script`) it shows its progress while it
    // runs, then clears it for the summary.
    let command = std::iter::once(env!("CARGO_BIN_EXE_server"))
        .chain(import)
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let terminal = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::null())
        .output()
        .expect("`script` (util-linux) runs the command on a pseudo-terminal");
    let shown = String::from_utf8_lossy(&terminal.stdout);
    assert!(terminal.status.success(), "{shown}");
    assert!(shown.contains("/2 rows ·"), "{shown}");
    assert!(shown.contains("— 2 rows: 0 created"), "{shown}");

    // A mapping: a partner's own column names, one kept as an extra attribute.
    let partner = folder.path().join("partner.csv");
    std::fs::write(&partner, "Mail,Given,Ref\ncy@example.com,Cy,EXT-9\n").unwrap();
    let mapped = [
        "import",
        "--action",
        "import-users",
        "--file",
        partner.to_str().unwrap(),
        "--as",
        "ops@example.com",
        "--mapping",
        r#"{"Mail": "Email", "Given": "First name", "Ref": "extra:External ID"}"#,
    ];
    let (ok, out, err) = server(&url, &mapped, None);
    assert!(ok, "{out}{err}");
    assert!(out.contains("success — 1 rows: 1 created"), "{out}");
    use sea_orm::{ColumnTrait, QueryFilter};
    let kept = app::entities::client_attribute::Entity::find()
        .filter(app::entities::client_attribute::Column::Value.eq("EXT-9"))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].name, "External ID");
    let mut bad = mapped;
    bad[8] = r#"{"Mail": "Fax"}"#;
    let (ok, _, err) = server(&url, &bad, None);
    assert!(!ok);
    assert!(
        err.contains("`Fax` is not a field of import-users"),
        "{err}"
    );

    // A bad file is refused with its reason, and an unknown user is named.
    std::fs::write(&file, b"PK\x03\x04binary").unwrap();
    let (ok, _, err) = server(&url, &import, None);
    assert!(!ok);
    assert!(err.contains("Excel workbook (.xlsx)"), "{err}");
    let (ok, _, err) = server(
        &url,
        &[
            "import",
            "--action",
            "import-users",
            "--file",
            path,
            "--as",
            "nobody@example.com",
        ],
        None,
    );
    assert!(!ok);
    assert!(
        err.contains("no active back-office user `nobody@example.com`"),
        "{err}"
    );
}

/// `server serve` on an empty database with nothing configured but the database and the
/// address: the first admin gets a generated password, printed once, that signs in; the
/// session cookie is `Secure` with the `__Host-` prefix and HSTS is sent (the default is
/// a deployment behind HTTPS).
async fn the_default_configuration(backend: Backend) {
    use std::io::{BufRead, BufReader};
    let (url, _dir) = fresh_database(backend).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env_remove("ADMIN_PASSWORD")
        .env_remove("COOKIE_SECURE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary runs");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().expect("stdout");
    let _server = Kill(child);
    let (mut password, mut address, mut printed) = (None, None, Vec::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line of output");
        if let Some(p) = line.trim().strip_prefix("Password (shown only once): ") {
            password = Some(p.to_owned());
        }
        if let Some(a) = line.trim().strip_prefix("Back office listening on ") {
            address = Some(a.to_owned());
            break;
        }
        printed.push(line);
    }
    let password = password.unwrap_or_else(|| panic!("no password printed: {printed:?}"));
    let address = address.expect("the address");
    assert!(password.len() >= 16, "{password}");
    assert_eq!(
        stored_hash(&url, ADMIN_EMAIL)
            .await
            .map(|phc| app::auth::password::verify(&password, &phc)),
        Some(true)
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(format!("{address}/api/login"))
        .form(&[("email", ADMIN_EMAIL), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = common::host_session_cookie(&res);
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
}

on_both_databases!(
    migrate_and_create_users,
    import_a_file_from_the_command_line,
    the_default_configuration
);
