//! API tokens: issued by admins, stored as a digest, shown once, revocable, acting as
//! their owner with the owner's role.

mod common;

use common::{Backend, TestApp, spawn_app};
use reqwest::{Client, StatusCode};

async fn whoami_with(app: &TestApp, token: &str) -> serde_json::Value {
    let res = Client::new()
        .post(app.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn issue(app: &TestApp, admin: &Client, owner: &str, name: &str) -> serde_json::Value {
    let res = app
        .call(
            admin,
            "admin/tokens/create",
            &[("owner_email", owner), ("name", name)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn a_token_acts_as_its_owner_with_the_owners_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    app.user(&admin, "ops@example.com", "operator").await;
    let issued = issue(&app, &admin, "ops@example.com", "nightly sync").await;
    let secret = issued["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("crm_"));

    let me = whoami_with(&app, &secret).await;
    assert_eq!(me["email"], "ops@example.com");
    assert_eq!(me["role"], "operator");
    // With the operator's role: admin functions are refused.
    let res = Client::new()
        .post(app.url("/api/admin/users"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Only the digest is stored, and the use is recorded.
    let digest = app::services::tokens::digest(&secret);
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM api_token WHERE token_hash = '{digest}' AND last_used_at IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM api_token WHERE token_hash LIKE '%{}%'",
            &secret[4..]
        ))
        .await,
        0
    );
    // The list never shows the secret.
    let list = app
        .call(&admin, "admin/tokens", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("nightly sync") && !list.contains(&secret));
    assert_eq!(app.audit_count("api_token.created").await, 1);
}

async fn revoked_tokens_and_tokens_of_disabled_users_stop_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    app.user(&admin, "ops@example.com", "operator").await;
    let first = issue(&app, &admin, "ops@example.com", "one").await;
    let second = issue(&app, &admin, "ops@example.com", "two").await;
    let (one, two) = (
        first["secret"].as_str().unwrap(),
        second["secret"].as_str().unwrap(),
    );

    let id = first["id"].to_string();
    assert_eq!(
        app.call(&admin, "admin/tokens/revoke", &[("id", &id)])
            .await
            .status(),
        StatusCode::OK
    );
    assert!(
        whoami_with(&app, one).await.is_null(),
        "a revoked token is refused"
    );
    assert_eq!(
        whoami_with(&app, two).await["email"],
        "ops@example.com",
        "the other still works"
    );

    let owner = app
        .scalar_i64("SELECT id FROM back_office_user WHERE email = 'ops@example.com'")
        .await
        .to_string();
    app.call(
        &admin,
        "admin/users/active",
        &[("id", &owner), ("active", "false")],
    )
    .await;
    assert!(
        whoami_with(&app, two).await.is_null(),
        "a disabled owner's tokens are refused"
    );
    assert!(whoami_with(&app, "crm_not-a-token").await.is_null());
}

async fn a_bad_token_is_never_rescued_by_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let res = admin
        .post(app.url("/api/me"))
        .bearer_auth("crm_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::Value::Null
    );
    assert_eq!(
        app.whoami(&admin).await["role"],
        "admin",
        "the session itself still works"
    );
}

async fn only_admins_issue_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let manager = app.user(&admin, "boss@example.com", "manager").await;
    let res = app
        .call(
            &manager,
            "admin/tokens/create",
            &[("owner_email", "boss@example.com"), ("name", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .call(
            &admin,
            "admin/tokens/create",
            &[("owner_email", "nobody@example.com"), ("name", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("no back-office user"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM api_token").await, 0);
}

on_both_databases!(
    a_token_acts_as_its_owner_with_the_owners_role,
    revoked_tokens_and_tokens_of_disabled_users_stop_working,
    a_bad_token_is_never_rescued_by_a_session,
    only_admins_issue_tokens,
);
