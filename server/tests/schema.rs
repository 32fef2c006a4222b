//! The data model of SPEC §2 as the database enforces it, on SQLite and PostgreSQL.

mod common;

use app::entities::{
    account, client, client_attribute, desk, ib_program, introducing_broker, project, referral,
};
use app::model::ClientType;
use common::{Backend, fresh_database};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter,
};

async fn migrated(backend: Backend) -> (DatabaseConnection, Option<tempfile::TempDir>) {
    let (url, dir) = fresh_database(backend).await;
    let db = server::db::connect(&url).await.expect("connect");
    server::db::migrate(&db).await.expect("migrate");
    // Migrating an up-to-date database changes nothing.
    server::db::migrate(&db).await.expect("migrate again");
    (db, dir)
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

async fn defaults(db: &DatabaseConnection) -> (project::Model, desk::Model) {
    let p = project::Entity::find()
        .filter(project::Column::Name.eq("Default"))
        .one(db)
        .await
        .unwrap()
        .expect("the Default project exists");
    let d = desk::Entity::find()
        .filter(desk::Column::Name.eq("Default"))
        .filter(desk::Column::ProjectId.eq(p.id))
        .one(db)
        .await
        .unwrap()
        .expect("the Default desk exists in the Default project");
    (p, d)
}

async fn new_client(
    db: &DatabaseConnection,
    email: &str,
    username: &str,
) -> Result<client::Model, sea_orm::DbErr> {
    let (p, d) = defaults(db).await;
    client::ActiveModel {
        email: Set(email.into()),
        username: Set(username.into()),
        first_name: Set("Ann".into()),
        verification_level: Set(0),
        project_id: Set(p.id),
        desk_id: Set(d.id),
        active: Set(true),
        client_type: Set(ClientType::Personal),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

async fn default_project_and_desk_exist(backend: Backend) {
    let (db, _dir) = migrated(backend).await;
    let (p, d) = defaults(&db).await;
    assert_eq!(d.project_id, p.id);
    assert_eq!(project::Entity::find().all(&db).await.unwrap().len(), 1);
}

async fn client_emails_are_unique_regardless_of_case(backend: Backend) {
    let (db, _dir) = migrated(backend).await;
    let ann = new_client(&db, "Ann.Lee@Example.com", "ann").await.unwrap();
    assert_eq!(ann.email, "Ann.Lee@Example.com", "stored exactly as given");
    assert!(is_unique_violation(
        new_client(&db, "ann.lee@example.COM", "ann2").await
    ));
    assert!(
        is_unique_violation(new_client(&db, "bob@example.com", "ann").await),
        "usernames are unique"
    );
    assert!(new_client(&db, "bob@example.com", "bob").await.is_ok());
    // In every alphabet, as the server folds what it looks for.
    assert!(new_client(&db, "Édith@Example.fr", "edith").await.is_ok());
    assert!(
        is_unique_violation(new_client(&db, "éDITH@example.FR", "edith2").await),
        "É and é are the same letter"
    );
    assert!(new_client(&db, "Ψ@example.gr", "psi").await.is_ok());
    assert!(is_unique_violation(
        new_client(&db, "ψ@example.gr", "psi2").await
    ));
}

/// A database an older server wrote, whose SQLite `lower()` left `Ш` as it is: migration
/// 000012 computes the name and email indexes again with the server's folding, so that a
/// search through them finds `Шестаков`.
#[tokio::test]
async fn an_older_sqlite_file_has_its_case_folded_indexes_rebuilt() {
    use migration::MigratorTrait;
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let older = sea_orm::Database::connect(url.as_str()).await.unwrap();
    migration::Migrator::up(&older, Some(11)).await.unwrap();
    new_client(&older, "stepan@example.com", "stepan")
        .await
        .unwrap();
    older
        .execute_unprepared("UPDATE client SET last_name = 'Шестаков'")
        .await
        .unwrap();
    older.close().await.unwrap();

    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let found = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT email FROM client INDEXED BY ix_client_last_name_prefix \
             WHERE lower(last_name) >= 'шест' AND lower(last_name) < 'шесу'",
        ))
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        1,
        "the index still holds the name as SQLite folded it"
    );
}

/// The error a foreign key (or PostgreSQL's statement-level check that stands for the
/// client's two) gives. SQLite reports a refused delete (`ON DELETE RESTRICT`) under its
/// trigger code, 1811, with the foreign key's message.
fn is_foreign_key_violation(result: Result<impl std::fmt::Debug, sea_orm::DbErr>) -> bool {
    match result {
        Ok(v) => panic!("expected a foreign key violation, got {v:?}"),
        Err(e) => {
            matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
            ) || e.to_string().contains("FOREIGN KEY constraint failed")
        }
    }
}

/// Whether `result` failed on a unique index or key (and nothing else).
fn is_unique_violation(result: Result<impl std::fmt::Debug, sea_orm::DbErr>) -> bool {
    match result {
        Ok(v) => panic!("expected a unique violation, got {v:?}"),
        Err(e) => matches!(
            e.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ),
    }
}

/// Whether `result` failed on a `CHECK` constraint (SeaORM has no kind of its own for it).
fn is_check_violation(result: Result<impl std::fmt::Debug, sea_orm::DbErr>) -> bool {
    match result {
        Ok(v) => panic!("expected a check violation, got {v:?}"),
        Err(e) => {
            let text = e.to_string();
            text.contains("CHECK constraint failed") || text.contains("violates check constraint")
        }
    }
}

async fn clients_need_an_existing_project_and_desk(backend: Backend) {
    let (db, _dir) = migrated(backend).await;
    let (p, d) = defaults(&db).await;
    let ann = new_client(&db, "ann@example.com", "ann").await.unwrap();
    let place = |project: i64, desk: i64| {
        let mut c: client::ActiveModel = ann.clone().into();
        c.project_id = Set(project);
        c.desk_id = Set(desk);
        c
    };
    assert!(
        is_foreign_key_violation(place(999_999, d.id).update(&db).await),
        "an update to a missing project"
    );
    assert!(
        is_foreign_key_violation(place(p.id, 999_999).update(&db).await),
        "an update to a missing desk"
    );
    // A statement of several rows is refused whole when one of them names a missing desk.
    let row = |email: &str, desk: i64| client::ActiveModel {
        email: Set(email.into()),
        username: Set(email.split('@').next().unwrap().into()),
        first_name: Set("Bo".into()),
        verification_level: Set(0),
        project_id: Set(p.id),
        desk_id: Set(desk),
        active: Set(true),
        client_type: Set(ClientType::Personal),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    let many = client::Entity::insert_many([
        row("bo@example.com", d.id),
        row("cy@example.com", 999_999),
        row("di@example.com", d.id),
    ])
    .exec(&db)
    .await;
    assert!(
        is_foreign_key_violation(many),
        "an insert naming a missing desk"
    );
    assert_eq!(
        client::Entity::find().count(&db).await.unwrap(),
        1,
        "nothing of it stays"
    );
    client::Entity::insert_many([row("bo@example.com", d.id), row("cy@example.com", d.id)])
        .exec(&db)
        .await
        .expect("valid rows go in");

    // A project or desk that clients use cannot be deleted; an unused one can.
    assert!(is_foreign_key_violation(
        desk::Entity::delete_by_id(d.id).exec(&db).await
    ));
    assert!(is_foreign_key_violation(
        project::Entity::delete_by_id(p.id).exec(&db).await
    ));
    let spare = desk::ActiveModel {
        name: Set("Spare".into()),
        project_id: Set(p.id),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    desk::Entity::delete_by_id(spare.id)
        .exec(&db)
        .await
        .unwrap();
    assert!(
        desk::Entity::find_by_id(d.id)
            .one(&db)
            .await
            .unwrap()
            .is_some()
    );
}

/// Every migration from 000006 on (PostgreSQL's statement-level checks, and the tables
/// they came to cover) goes down and up again, and the rules hold after each: with the
/// foreign keys they replaced, and again with the triggers.
async fn the_latest_migrations_go_down_and_up(backend: Backend) {
    use migration::MigratorTrait;
    let (db, _dir) = migrated(backend).await;
    let (p, d) = defaults(&db).await;
    // Down to just before 000006, however many migrations came after it.
    let since_000006 = migration::Migrator::migrations().len() as u32 - 5;
    migration::Migrator::down(&db, Some(since_000006))
        .await
        .expect("down");
    assert!(
        db.execute_unprepared("SELECT 1 FROM client_attribute")
            .await
            .is_err(),
        "000009 went down"
    );
    let ann = new_client(&db, "ann@example.com", "ann").await.unwrap();
    let mut moved: client::ActiveModel = ann.clone().into();
    moved.desk_id = Set(999_999);
    assert!(is_foreign_key_violation(moved.clone().update(&db).await));
    dependents_follow_their_client(&db, "down").await;
    migration::Migrator::up(&db, None).await.expect("up again");
    assert!(is_foreign_key_violation(moved.update(&db).await));
    assert!(is_foreign_key_violation(
        desk::Entity::delete_by_id(d.id).exec(&db).await
    ));
    assert!(is_foreign_key_violation(
        project::Entity::delete_by_id(p.id).exec(&db).await
    ));
    dependents_follow_their_client(&db, "up").await;
    // An extra attribute needs an existing client, and goes with it.
    let cy = new_client(&db, "cy@example.com", "cy").await.unwrap();
    let attribute = |client: i64| client_attribute::ActiveModel {
        client_id: Set(client),
        name: Set("External ID".into()),
        value: Set("EXT-1".into()),
    };
    assert!(is_foreign_key_violation(
        attribute(999_999).insert(&db).await
    ));
    attribute(cy.id).insert(&db).await.unwrap();
    client::Entity::delete_by_id(cy.id).exec(&db).await.unwrap();
    assert_eq!(
        client_attribute::Entity::find().count(&db).await.unwrap(),
        0,
        "the attribute went with its client"
    );
}

/// Every migration goes down, one at a time from the newest, until nothing of the schema is
/// left but the migrations' own table; then all go up again and the database works.
async fn every_migration_goes_down_and_up_again(backend: Backend) {
    use migration::MigratorTrait;
    let (db, _dir) = migrated(backend).await;
    let all = migration::Migrator::migrations().len();
    for left in (0..all).rev() {
        migration::Migrator::down(&db, Some(1))
            .await
            .unwrap_or_else(|e| panic!("down to {left} migrations: {e}"));
        assert_eq!(
            migration::Migrator::get_applied_migrations(&db)
                .await
                .unwrap()
                .len(),
            left
        );
    }
    let tables = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> 'seaql_migrations'"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
    };
    let left: Vec<String> = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            tables.to_owned(),
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    assert_eq!(left, Vec::<String>::new(), "tables left after every down");
    migration::Migrator::up(&db, None).await.expect("up again");
    defaults(&db).await;
    new_client(&db, "ann@example.com", "ann").await.unwrap();
}

async fn clients_take_their_dependents_along(backend: Backend) {
    let (db, _dir) = migrated(backend).await;
    dependents_follow_their_client(&db, "").await;
}

/// Accounts, IB memberships and referrals need an existing client, go when it goes, and
/// keep its id from changing. `tag` keeps the emails of several calls apart.
async fn dependents_follow_their_client(db: &DatabaseConnection, tag: &str) {
    let person = |name: &str| format!("{name}{tag}@example.com");
    let ann = new_client(db, &person("ann"), &format!("ann{tag}"))
        .await
        .unwrap();
    let partner = new_client(db, &person("partner"), &format!("partner{tag}"))
        .await
        .unwrap();
    let bob = new_client(db, &person("bob"), &format!("bob{tag}"))
        .await
        .unwrap();
    let program = ib_program::ActiveModel {
        name: Set(format!("Gold{tag}")),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let open = |client_id: i64, number: &str| account::ActiveModel {
        account_number: Set(format!("{number}{tag}")),
        client_id: Set(client_id),
        product_id: Set(1),
        currency: Set("USD".into()),
        created_at: Set(now()),
        ..Default::default()
    };
    let join = |client_id: i64| introducing_broker::ActiveModel {
        client_id: Set(client_id),
        program_id: Set(program.id),
        created_at: Set(now()),
        ..Default::default()
    };
    let refer = |partner_id: i64, client_id: i64| referral::ActiveModel {
        program_id: Set(program.id),
        client_id: Set(client_id),
        ib_client_id: Set(partner_id),
        created_at: Set(now()),
        ..Default::default()
    };
    const MISSING: i64 = 999_999;

    // Each of the three needs an existing client, in a statement of one row or several.
    assert!(is_foreign_key_violation(
        open(MISSING, "1").insert(db).await
    ));
    assert!(is_foreign_key_violation(
        account::Entity::insert_many([open(ann.id, "2"), open(MISSING, "3")])
            .exec(db)
            .await
    ));
    assert!(is_foreign_key_violation(join(MISSING).insert(db).await));
    join(partner.id).insert(db).await.unwrap();
    join(ann.id).insert(db).await.unwrap();
    assert!(is_foreign_key_violation(
        refer(partner.id, MISSING).insert(db).await
    ));
    let kept = open(partner.id, "4").insert(db).await.unwrap();
    let mut stray: account::ActiveModel = kept.clone().into();
    stray.client_id = Set(MISSING);
    assert!(
        is_foreign_key_violation(stray.update(db).await),
        "an account moved to a missing client"
    );

    open(ann.id, "5").insert(db).await.unwrap();
    open(ann.id, "6").insert(db).await.unwrap();
    let cy = new_client(db, &person("cy"), &format!("cy{tag}"))
        .await
        .unwrap();
    refer(partner.id, ann.id).insert(db).await.unwrap();
    refer(ann.id, bob.id).insert(db).await.unwrap();
    refer(partner.id, cy.id).insert(db).await.unwrap();

    // A referenced client keeps its id; one nobody refers to may change it.
    assert!(is_foreign_key_violation(
        client::Entity::update_many()
            .col_expr(
                client::Column::Id,
                sea_orm::sea_query::Expr::value(ann.id + 1_000_000)
            )
            .filter(client::Column::Id.eq(ann.id))
            .exec(db)
            .await
    ));
    let lone = new_client(db, &person("lone"), &format!("lone{tag}"))
        .await
        .unwrap();
    client::Entity::update_many()
        .col_expr(
            client::Column::Id,
            sea_orm::sea_query::Expr::value(lone.id + 1_000_000),
        )
        .filter(client::Column::Id.eq(lone.id))
        .exec(db)
        .await
        .expect("an unreferenced client's id can change");

    // Deleting Ann takes her two accounts, her membership, her referral by the partner and
    // the referral she made (through her membership); the others' rows stay.
    let count_accounts = |id: i64| {
        account::Entity::find()
            .filter(account::Column::ClientId.eq(id))
            .count(db)
    };
    assert_eq!(count_accounts(ann.id).await.unwrap(), 2);
    client::Entity::delete_by_id(ann.id).exec(db).await.unwrap();
    assert_eq!(count_accounts(ann.id).await.unwrap(), 0);
    assert_eq!(count_accounts(partner.id).await.unwrap(), 1);
    let members: Vec<i64> = introducing_broker::Entity::find()
        .filter(introducing_broker::Column::ProgramId.eq(program.id))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.client_id)
        .collect();
    assert_eq!(members, [partner.id]);
    let referrals: Vec<(i64, i64)> = referral::Entity::find()
        .filter(referral::Column::ProgramId.eq(program.id))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.ib_client_id, r.client_id))
        .collect();
    assert_eq!(referrals, [(partner.id, cy.id)]);

    // Deleting several clients in one statement takes all their rows, and the referrals
    // made through their memberships.
    open(bob.id, "7").insert(db).await.unwrap();
    client::Entity::delete_many()
        .filter(client::Column::Id.is_in([partner.id, bob.id]))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(count_accounts(partner.id).await.unwrap(), 0);
    assert_eq!(count_accounts(bob.id).await.unwrap(), 0);
    assert_eq!(
        referral::Entity::find()
            .filter(referral::Column::ProgramId.eq(program.id))
            .count(db)
            .await
            .unwrap(),
        0
    );
}

async fn account_numbers_are_unique_and_products_positive(backend: Backend) {
    let (db, _dir) = migrated(backend).await;
    let ann = new_client(&db, "ann@example.com", "ann").await.unwrap();
    let bob = new_client(&db, "bob@example.com", "bob").await.unwrap();
    let open = |client_id: i64, number: &str, product: i64| account::ActiveModel {
        account_number: Set(number.into()),
        client_id: Set(client_id),
        product_id: Set(product),
        currency: Set("USD".into()),
        created_at: Set(now()),
        ..Default::default()
    };
    open(ann.id, "100001", 1).insert(&db).await.unwrap();
    assert!(is_unique_violation(
        open(bob.id, "100001", 1).insert(&db).await
    ));
    assert!(
        is_check_violation(open(bob.id, "100002", 0).insert(&db).await),
        "product ids are positive"
    );
    assert!(
        is_foreign_key_violation(open(999_999, "100003", 1).insert(&db).await),
        "the client must exist"
    );
}

async fn referrals_follow_the_program_rules(backend: Backend) {
    let (db, _dir) = migrated(backend).await;
    let partner = new_client(&db, "partner@example.com", "partner")
        .await
        .unwrap();
    let ann = new_client(&db, "ann@example.com", "ann").await.unwrap();
    let other = new_client(&db, "other@example.com", "other").await.unwrap();
    let gold = ib_program::ActiveModel {
        name: Set("Gold".into()),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    let join = |client_id: i64| introducing_broker::ActiveModel {
        client_id: Set(client_id),
        program_id: Set(gold.id),
        created_at: Set(now()),
        ..Default::default()
    };
    join(partner.id).insert(&db).await.unwrap();
    assert!(
        is_unique_violation(join(partner.id).insert(&db).await),
        "one membership per client and program"
    );
    join(other.id).insert(&db).await.unwrap();

    let refer = |partner_id: i64, client_id: i64| referral::ActiveModel {
        program_id: Set(gold.id),
        client_id: Set(client_id),
        ib_client_id: Set(partner_id),
        created_at: Set(now()),
        ..Default::default()
    };
    refer(partner.id, ann.id).insert(&db).await.unwrap();
    assert!(
        is_unique_violation(refer(other.id, ann.id).insert(&db).await),
        "at most one referring partner per program"
    );
    assert!(
        is_check_violation(refer(partner.id, partner.id).insert(&db).await),
        "no self-referral"
    );
    assert!(
        is_foreign_key_violation(refer(ann.id, other.id).insert(&db).await),
        "only a partner of the program can refer"
    );
}

async fn back_office_emails_are_unique_regardless_of_case(backend: Backend) {
    let (db, _dir) = migrated(backend).await;
    let system = app::auth::Caller::default();
    use app::model::Role;
    app::services::users::create(
        &db,
        &system,
        "Op@Example.com",
        Role::Operator,
        Some("long-enough-pw".into()),
    )
    .await
    .unwrap();
    let again =
        app::services::users::create(&db, &system, "op@example.com", Role::Manager, None).await;
    assert!(
        matches!(again, Err(app::model::AppError::Conflict(_))),
        "{again:?}"
    );
    // The database refuses it too, whatever the service checks.
    let raw = app::entities::back_office_user::ActiveModel {
        email: Set("OP@EXAMPLE.COM".into()),
        password_hash: Set("x".into()),
        role: Set("operator".into()),
        active: Set(true),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&db)
    .await;
    assert!(is_unique_violation(raw));
}

async fn pragma<T: sea_orm::TryGetable>(db: &DatabaseConnection, name: &str) -> T {
    use sea_orm::Statement;
    let sql = Statement::from_string(db.get_database_backend(), format!("PRAGMA {name}"));
    db.query_one_raw(sql)
        .await
        .expect("pragma runs")
        .expect("pragma answers")
        .try_get_by_index::<T>(0)
        .expect("pragma value")
}

/// PostgreSQL refused to `TRUNCATE` a table a foreign key references; where statement-level
/// checks stand for foreign keys, a guard refuses it while rows refer to the table.
#[tokio::test]
async fn postgres_refuses_to_truncate_a_table_rows_refer_to() {
    let (db, _dir) = migrated(Backend::Postgres).await;
    let ann = new_client(&db, "ann@example.com", "ann").await.unwrap();
    account::ActiveModel {
        account_number: Set("100001".into()),
        client_id: Set(ann.id),
        product_id: Set(1),
        currency: Set("USD".into()),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    for table in ["client", "desk"] {
        let refused = db.execute_unprepared(&format!("TRUNCATE {table}")).await;
        assert!(
            refused.as_ref().is_err_and(|e| e
                .to_string()
                .contains("cannot truncate a table referenced in a foreign key constraint")),
            "TRUNCATE {table}: {refused:?}"
        );
    }
    assert_eq!(client::Entity::find().count(&db).await.unwrap(), 1);
    db.execute_unprepared("TRUNCATE account").await.unwrap();
    db.execute_unprepared("TRUNCATE client").await.unwrap();
    assert_eq!(client::Entity::find().count(&db).await.unwrap(), 0);
}

/// `lower()` on a connection of the server, on both databases: every alphabet folded,
/// text with nothing to fold unchanged, a number read as text, NULL kept.
async fn lower_folds_every_alphabet(backend: Backend) {
    let (db, _dir) = migrated(backend).await;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT lower('ÉDITH Шестаков ΘΑΛΑΣΣΙΝΉ') AS mixed, lower('ann@example.com') AS plain, \
             lower('Ann@Example.COM') AS ascii, lower(CAST(123 AS TEXT)) AS number, \
             lower(NULL) AS absent"
                .to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    let text = |column: &str| row.try_get::<Option<String>>("", column).unwrap();
    assert_eq!(text("mixed").as_deref(), Some("édith шестаков θαλασσινή"));
    assert_eq!(text("plain").as_deref(), Some("ann@example.com"));
    assert_eq!(text("ascii").as_deref(), Some("ann@example.com"));
    assert_eq!(text("number").as_deref(), Some("123"));
    assert_eq!(text("absent"), None);
}

#[tokio::test]
async fn sqlite_lower_answers_text_for_any_value() {
    let (db, _dir) = migrated(Backend::Sqlite).await;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT typeof(lower(123)) AS kind, lower(123) AS number, hex(lower(X'41C3')) = '61C3' AS bytes"
                .to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "kind").unwrap(), "text");
    assert_eq!(row.try_get::<String>("", "number").unwrap(), "123");
    assert_eq!(
        row.try_get::<i64>("", "bytes").unwrap(),
        1,
        "not UTF-8: ASCII folded, the rest kept"
    );
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let (db, _dir) = migrated(Backend::Sqlite).await;
    assert_eq!(pragma::<String>(&db, "journal_mode").await, "wal");
    assert_eq!(pragma::<i32>(&db, "foreign_keys").await, 1);
}

on_both_databases!(
    every_migration_goes_down_and_up_again,
    lower_folds_every_alphabet,
    default_project_and_desk_exist,
    client_emails_are_unique_regardless_of_case,
    clients_need_an_existing_project_and_desk,
    the_latest_migrations_go_down_and_up,
    clients_take_their_dependents_along,
    account_numbers_are_unique_and_products_positive,
    referrals_follow_the_program_rules,
    back_office_emails_are_unique_regardless_of_case,
);
