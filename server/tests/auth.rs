//! Sign-in, sessions, roles and the cross-site guard, over HTTP against the real server.

mod common;

use common::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, Options, session_cookie, spawn_app, spawn_app_with,
};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

async fn admin_signs_in_and_is_recognised(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client();
    assert_eq!(app.whoami(&client).await, serde_json::Value::Null);

    let res = app
        .sign_in(&client, "ADMIN@example.com", ADMIN_PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        session_cookie(res.headers()).is_some(),
        "a session cookie is set"
    );

    let me = app.whoami(&client).await;
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "admin");
    assert_eq!(app.audit_count("sign_in.succeeded").await, 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM back_office_user WHERE last_login_at IS NOT NULL")
            .await,
        1
    );
}

async fn wrong_password_and_unknown_email_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client();

    let wrong = app.sign_in(&client, ADMIN_EMAIL, "not-the-password").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app
        .sign_in(&client, "nobody@example.com", "not-the-password")
        .await;
    let unknown_status = unknown.status();
    let unknown_body = unknown.text().await.unwrap();

    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_status, wrong_status);
    assert_eq!(unknown_body, wrong_body);
    assert!(wrong_body.contains("InvalidCredentials"), "{wrong_body}");
    assert_eq!(app.whoami(&client).await, serde_json::Value::Null);
    // Every attempt is in the audit log, with the email that was tried.
    assert_eq!(app.audit_count("sign_in.failed").await, 2);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM audit_event WHERE subject = 'nobody@example.com'")
            .await,
        1
    );
}

async fn repeated_failures_for_one_account_are_slowed_down(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client();
    let free = app::services::sign_in::FREE_FAILURES;
    for _ in 0..free {
        let res = app.sign_in(&client, ADMIN_EMAIL, "wrong").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let started = Instant::now();
    let res = app.sign_in(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let waited = started.elapsed();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the right password still works"
    );
    assert!(
        waited >= app::services::sign_in::delay_after(free),
        "after {free} failures an attempt waits, it took {waited:?}"
    );
    // Another account is not affected by this one's failures.
    let started = Instant::now();
    app.sign_in(&client, "someone-else@example.com", "wrong")
        .await;
    assert!(started.elapsed() < Duration::from_millis(900));
}

async fn passwords_are_stored_as_argon2id(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    app.user(&admin, "operator@example.com", "operator").await;
    let hashes: Vec<String> = {
        use sea_orm::{EntityTrait, QueryOrder};
        app::entities::back_office_user::Entity::find()
            .order_by_asc(app::entities::back_office_user::Column::Id)
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.password_hash)
            .collect()
    };
    assert_eq!(hashes.len(), 2);
    for phc in hashes {
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        let params = phc.split('$').nth(3).expect("parameters");
        let get = |key: &str| -> u32 {
            params
                .split(',')
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        assert!(get("m=") >= 19_456, "{phc}");
        assert!(get("t=") >= 2, "{phc}");
        assert_eq!(get("p="), 1, "{phc}");
    }
}

async fn session_cookie_is_http_only_and_same_site_and_renewed_at_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client();
    let first = session_cookie(
        app.sign_in(&client, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .headers(),
    )
    .expect("cookie");
    assert!(first.contains("HttpOnly"), "{first}");
    assert!(first.contains("SameSite=Lax"), "{first}");
    assert!(first.contains("Path=/"), "{first}");

    let second = session_cookie(
        app.sign_in(&client, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .headers(),
    )
    .expect("cookie");
    let id = |c: &str| c.split(';').next().unwrap_or_default().to_owned();
    assert_ne!(
        id(&first),
        id(&second),
        "signing in issues a new session id"
    );
    // The old session no longer exists on the server.
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM session").await, 1);
}

async fn sign_out_removes_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM session").await, 1);
    let res = app.call(&admin, "logout", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM session").await, 0);
    assert_eq!(app.whoami(&admin).await, serde_json::Value::Null);
    assert_eq!(app.audit_count("sign_out").await, 1);
}

async fn operator_is_refused_admin_functions_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let operator = app.user(&admin, "operator@example.com", "operator").await;

    let res = app.call(&operator, "admin/users", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .create_user(&operator, "x@example.com", "admin", "")
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM back_office_user WHERE email = 'x@example.com'")
            .await,
        0,
        "nothing was created"
    );

    let page = operator.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let html = page.text().await.unwrap();
    assert!(html.contains("Access denied"), "the page says why");

    // The same calls work for the admin.
    let res = app.call(&admin, "admin/users", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let users: serde_json::Value = res.json().await.unwrap();
    assert_eq!(users.as_array().map(Vec::len), Some(2));

    // Each refusal is in the audit log, attributed to the operator.
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'access.forbidden' AND actor_email = 'operator@example.com'"
        )
        .await,
        3
    );
}

async fn anonymous_callers_are_refused_and_pages_redirect_to_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client();
    let res = app.call(&client, "admin/users", &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.call(&client, "overview", &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let page = client
        .get(app.url("/accounts?page=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()["location"],
        "/login?next=/accounts%3Fpage%3D2"
    );

    // Signing in with that `next` comes back to the page first asked for.
    let res = app
        .call(
            &client,
            "login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", "/accounts?page=2"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["location"], "/accounts?page=2");
    // …but never to another site.
    let res = app
        .call(
            &client,
            "login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(res.headers()["location"], "/clients");

    let page = client.get(app.url("/accounts")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

async fn sign_in_works_without_javascript(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client();
    let form_page = app.url("/login?next=/accounts");
    let plain_form_post = |password: &'static str| {
        client
            .post(app.url("/api/login"))
            .header("Accept", "text/html")
            .header("Referer", form_page.clone())
            .form(&[
                ("email", ADMIN_EMAIL),
                ("password", password),
                ("next", "/accounts"),
            ])
            .send()
    };

    // A refusal sends the browser back to the form, which shows the error.
    let res = plain_form_post("wrong").await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&form_page), "{back}");
    assert!(back.contains("__err="), "{back}");
    let html = client
        .get(&back)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Incorrect email or password."),
        "the form shows why"
    );

    // Success goes on to the page first asked for, signed in.
    let res = plain_form_post(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/accounts");
    let page = client.get(app.url("/accounts")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(ADMIN_EMAIL));
}

async fn cross_site_posts_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let res = admin
        .post(app.url("/api/admin/users/create"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("email", "evil@example.com"),
            ("role", "admin"),
            ("password", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "Cross-site request refused.");

    let res = admin
        .post(app.url("/api/logout"))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Nothing happened: no user created, still signed in.
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM back_office_user WHERE email = 'evil@example.com'")
            .await,
        0
    );
    assert_eq!(app.whoami(&admin).await["email"], ADMIN_EMAIL);
    assert_eq!(app.audit_count("access.cross_site_refused").await, 2);

    // The same request from the site itself goes through.
    let res = admin
        .post(app.url("/api/admin/users/create"))
        .header("Origin", format!("http://{}", app.addr))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("email", "new@example.com"),
            ("role", "manager"),
            ("password", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn disabling_a_user_ends_their_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let operator = app.user(&admin, "operator@example.com", "operator").await;
    assert_eq!(app.whoami(&operator).await["email"], "operator@example.com");
    let id = app
        .scalar_i64("SELECT id FROM back_office_user WHERE email = 'operator@example.com'")
        .await
        .to_string();

    let res = app
        .call(
            &admin,
            "admin/users/active",
            &[("id", &id), ("active", "false")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // The operator's existing session stops working at once…
    assert_eq!(app.whoami(&operator).await, serde_json::Value::Null);
    let page = operator.get(app.url("/clients")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM session WHERE user_id = {id}"
        ))
        .await,
        0
    );
    // …and signing in again is refused with the generic message.
    let res = app
        .sign_in(&operator, "operator@example.com", "a-long-test-password")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Re-enabled, the operator can sign in again.
    app.call(
        &admin,
        "admin/users/active",
        &[("id", &id), ("active", "true")],
    )
    .await;
    let res = app
        .sign_in(&operator, "operator@example.com", "a-long-test-password")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn admin_manages_users(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;

    // A generated password is returned once and works.
    let res = app
        .create_user(&admin, "Manager@Example.com", "manager", "")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (user, generated): (serde_json::Value, serde_json::Value) = res.json().await.unwrap();
    assert_eq!(user["role"], "manager");
    let password = generated["password"]
        .as_str()
        .expect("a generated password")
        .to_owned();
    let manager = app.client();
    assert_eq!(
        app.sign_in(&manager, "manager@example.com", &password)
            .await
            .status(),
        StatusCode::OK
    );

    // Emails are unique regardless of case.
    let res = app
        .create_user(&admin, "MANAGER@example.com", "operator", "")
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // Bad input gets a specific message.
    let res = app
        .create_user(&admin, "not-an-email", "operator", "")
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("not a valid email address")
    );
    let res = app
        .create_user(&admin, "short@example.com", "operator", "short")
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Changing the role takes effect on the user's next request.
    let id = user["id"].to_string();
    let res = app
        .call(
            &admin,
            "admin/users/role",
            &[("id", &id), ("role", "admin")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.whoami(&manager).await["role"], "admin");

    // Resetting the password ends the user's sessions; the new password works.
    let res = app
        .call(&admin, "admin/users/reset-password", &[("id", &id)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let reset: serde_json::Value = res.json().await.unwrap();
    assert_eq!(app.whoami(&manager).await, serde_json::Value::Null);
    let new_password = reset["password"].as_str().unwrap();
    assert_ne!(new_password, password);
    assert_eq!(
        app.sign_in(&manager, "manager@example.com", &password)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in(&manager, "manager@example.com", new_password)
            .await
            .status(),
        StatusCode::OK
    );

    // The last active admin can be neither disabled nor demoted.
    app.call(
        &admin,
        "admin/users/role",
        &[("id", &id), ("role", "manager")],
    )
    .await;
    let admin_id = app
        .scalar_i64(&format!(
            "SELECT id FROM back_office_user WHERE email = '{ADMIN_EMAIL}'"
        ))
        .await
        .to_string();
    let res = app
        .call(
            &admin,
            "admin/users/role",
            &[("id", &admin_id), ("role", "operator")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("last active admin"));
    // Disabling oneself is refused first, by its own rule.
    let res = app
        .call(
            &admin,
            "admin/users/active",
            &[("id", &admin_id), ("active", "false")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("You cannot disable your own account.")
    );
    // The last-admin rule itself, where no such rule stands before it (another admin's
    // request that raced this one, or a caller that is no user).
    let refused = app::services::users::set_active(
        &app.db,
        &app::auth::Caller::default(),
        admin_id.parse().unwrap(),
        false,
    )
    .await
    .expect_err("the last active admin stays active");
    assert!(
        matches!(&refused, app::model::AppError::Conflict(m) if m.contains("last active admin")),
        "{refused:?}"
    );
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM back_office_user WHERE email = '{ADMIN_EMAIL}' AND active = TRUE"
        ))
        .await,
        1
    );

    for action in ["user.created", "user.role_changed", "user.password_reset"] {
        assert!(app.audit_count(action).await >= 1, "{action} is audited");
    }
}

async fn idle_sessions_end(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            session_idle: Duration::from_secs(2),
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin().await;
    assert_eq!(app.whoami(&admin).await["email"], ADMIN_EMAIL);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(app.whoami(&admin).await, serde_json::Value::Null);
    // The expired record is refused on load and purged by the periodic clean-up.
    let store = app::auth::session_store::DbSessionStore::new(app.db.clone());
    assert_eq!(store.delete_expired().await.unwrap(), 1);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM session").await, 0);
}

async fn sessions_end_after_the_absolute_timeout_however_busy(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            session_idle: Duration::from_secs(60),
            session_absolute: Duration::from_secs(2),
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin().await;
    let started = Instant::now();
    let mut ended = None;
    while started.elapsed() < Duration::from_secs(6) {
        if app.whoami(&admin).await.is_null() {
            ended = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ended = ended.expect("the session ended despite constant use");
    assert!(
        ended >= Duration::from_secs(2),
        "not before the timeout: {ended:?}"
    );
}

/// Sign-in folds the case of every alphabet, as email uniqueness and search do: a user
/// created as `Édith.Шестакова@Example.fr` signs in as `ÉDITH.шестакова@example.FR`, and
/// no second user may take that address in another case.
async fn sign_in_folds_case_in_every_alphabet(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let password = "a-long-test-password";
    let res = app
        .create_user(&admin, "Édith.Шестакова@Example.fr", "operator", password)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let client = app.client();
    let res = app
        .sign_in(&client, "ÉDITH.шестакова@example.FR", password)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.whoami(&client).await["email"],
        "Édith.Шестакова@Example.fr"
    );
    let res = app
        .create_user(&admin, "édith.ШЕСТАКОВА@example.fr", "manager", password)
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // Another letter is another address.
    let res = app
        .sign_in(&app.client(), "Edith.Шестакова@Example.fr", password)
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

on_both_databases!(
    sign_in_folds_case_in_every_alphabet,
    admin_signs_in_and_is_recognised,
    wrong_password_and_unknown_email_get_the_same_answer,
    repeated_failures_for_one_account_are_slowed_down,
    passwords_are_stored_as_argon2id,
    session_cookie_is_http_only_and_same_site_and_renewed_at_sign_in,
    sign_out_removes_the_session,
    operator_is_refused_admin_functions_and_pages,
    anonymous_callers_are_refused_and_pages_redirect_to_sign_in,
    sign_in_works_without_javascript,
    cross_site_posts_are_refused,
    disabling_a_user_ends_their_sessions,
    admin_manages_users,
    idle_sessions_end,
    sessions_end_after_the_absolute_timeout_however_busy,
);
