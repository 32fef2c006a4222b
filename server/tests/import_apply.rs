//! Applying validated rows of the three import actions to the database, on SQLite and
//! PostgreSQL.

mod common;

use app::entities::{
    account, client, desk, ib_program, import_change, import_job, introducing_broker, project,
    referral,
};
use app::import::prepare::{Limits, RowOutcome, prepare};
use app::jobs::apply::{AccountImport, ApplyError, BatchReport, ClientImport, IbImport};
use app::jobs::keys::FileKeys;
use app::model::JobStatus;
use app::model::{Delimiter, Desks, ImportAction};
use common::{Backend, fresh_database};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

struct Db {
    db: DatabaseConnection,
    admin: i64,
    _dir: Option<tempfile::TempDir>,
}

async fn database(backend: Backend) -> Db {
    let (url, dir) = fresh_database(backend).await;
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let system = app::auth::Caller::default();
    let (admin, _) = app::services::users::create(
        &db,
        &system,
        "admin@example.com",
        app::model::Role::Admin,
        None,
    )
    .await
    .unwrap();
    Db {
        db,
        admin: admin.id,
        _dir: dir,
    }
}

async fn new_job(db: &Db) -> i64 {
    import_job::ActiveModel {
        title: Set("test".into()),
        action: Set("import-users".into()),
        delimiter: Set("auto".into()),
        file_name: Set("clients.csv".into()),
        file_size: Set(0),
        file_sha256: Set(String::new()),
        status: Set(JobStatus::InProgress),
        validate_only: Set(false),
        bulk: Set(false),
        initiated_by: Set(db.admin),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&db.db)
    .await
    .unwrap()
    .id
}

/// A new job and the validated rows of `csv` for `action`, with how many were invalid,
/// and the errors of rows refused for repeating a key of the file (as a job refuses them
/// before they reach the applier).
async fn prepared_rows(
    db: &Db,
    csv: &str,
    action: ImportAction,
) -> (i64, Vec<RowOutcome>, usize, Vec<ApplyError>) {
    let job = new_job(db).await;
    let file = prepare(csv.as_bytes(), action, Delimiter::Auto, Limits::default()).unwrap();
    let (invalid, valid): (Vec<RowOutcome>, Vec<RowOutcome>) = file
        .rows(chrono::Utc::now().date_naive())
        .partition(|r| matches!(r, RowOutcome::Invalid { .. }));
    let mut keys = FileKeys::new(valid.len() as u64);
    let mut kept = Vec::new();
    let mut repeated = Vec::new();
    for row in valid {
        match keys.claim(row) {
            RowOutcome::Invalid { line, errors } => {
                for e in errors {
                    let column = match e.column.as_deref() {
                        Some("Email") => Some("Email"),
                        Some("ID") => Some("ID"),
                        Some("Account number") => Some("Account number"),
                        other => panic!("unexpected column {other:?}"),
                    };
                    repeated.push(ApplyError {
                        line,
                        column,
                        value: e.value,
                        message: e.message,
                    });
                }
            }
            row => kept.push(row),
        }
    }
    (job, kept, invalid.len(), repeated)
}

fn sorted(mut report: BatchReport) -> BatchReport {
    report.errors.sort_by_key(|e| e.line);
    report
}

/// Imports `csv` (all of whose rows are valid) as one job in one batch.
async fn import(db: &Db, csv: &str) -> BatchReport {
    let (job, valid, invalid, repeated) = prepared_rows(db, csv, ImportAction::Users).await;
    assert_eq!(invalid, 0, "these files hold only valid rows");
    let rows = valid
        .into_iter()
        .filter_map(RowOutcome::into_client)
        .collect();
    let txn = db.db.begin().await.unwrap();
    let mut report = ClientImport::new(&txn, job, Desks::All)
        .await
        .unwrap()
        .apply(&txn, rows)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    report.errors.extend(repeated);
    sorted(report)
}

/// A project `Gold` with a desk `VIP`.
async fn gold_vip(db: &Db) -> (project::Model, desk::Model) {
    let gold = project::ActiveModel {
        name: Set("Gold".into()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&db.db)
    .await
    .unwrap();
    let vip = desk::ActiveModel {
        project_id: Set(gold.id),
        name: Set("VIP".into()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&db.db)
    .await
    .unwrap();
    (gold, vip)
}

async fn by_email(db: &Db, email: &str) -> client::Model {
    client::Entity::find()
        .filter(client::Column::Email.eq(email))
        .one(&db.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{email} exists"))
}

async fn by_number(db: &Db, number: &str) -> account::Model {
    account::Entity::find()
        .filter(account::Column::AccountNumber.eq(number))
        .one(&db.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("account {number} exists"))
}

const FILE: &str = "Email,First name,Last name,Country,Phone\n\
    ann@example.com,Ann,Lee,GB,+44 20 7946 0958\n\
    ann@example.org,Annie,Ray,de,\n\
    bob@example.com,Bob,,,\n";

async fn a_fresh_import_creates_clients_with_defaults(backend: Backend) {
    let db = database(backend).await;
    let report = import(&db, FILE).await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (3, 0, 0)
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    let ann = by_email(&db, "ann@example.com").await;
    let annie = by_email(&db, "ann@example.org").await;
    assert_eq!(
        (ann.username.as_str(), annie.username.as_str()),
        ("ann", "ann2"),
        "usernames are unique"
    );
    assert_eq!(ann.phone.as_deref(), Some("+442079460958"));
    assert_eq!(annie.country.as_deref(), Some("DE"));
    let default_project = project::Entity::find()
        .filter(project::Column::Name.eq("Default"))
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ann.project_id, default_project.id);
    assert_eq!(
        (ann.client_type.as_str(), ann.active, ann.verification_level),
        ("personal", true, 0)
    );
    let bob = by_email(&db, "bob@example.com").await;
    assert_eq!(bob.last_name, None);
    let mut recorded = Vec::new();
    for change in import_change::Entity::find()
        .filter(import_change::Column::Operation.eq("created_ids"))
        .all(&db.db)
        .await
        .unwrap()
    {
        let runs: Vec<(i64, i64)> =
            serde_json::from_str(change.new_values.as_deref().unwrap()).unwrap();
        recorded.extend(runs.into_iter().flat_map(|(a, b)| a..=b));
    }
    recorded.sort_unstable();
    let mut ids: Vec<i64> = client::Entity::find()
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort_unstable();
    assert_eq!(recorded, ids, "every creation is recorded for revert");
}

async fn re_importing_the_same_file_changes_nothing(backend: Backend) {
    let db = database(backend).await;
    import(&db, FILE).await;
    let before: Vec<client::Model> = client::Entity::find()
        .order_by_asc(client::Column::Id)
        .all(&db.db)
        .await
        .unwrap();
    let report = import(&db, FILE).await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (0, 0, 3)
    );
    let after: Vec<client::Model> = client::Entity::find()
        .order_by_asc(client::Column::Id)
        .all(&db.db)
        .await
        .unwrap();
    assert_eq!(before, after);
}

async fn an_update_file_changes_only_its_columns(backend: Backend) {
    let db = database(backend).await;
    import(&db, FILE).await;
    let report = import(
        &db,
        "email,CITY,Last name\nANN@example.com,Oslo,\nbob@example.com,,Stone\n",
    )
    .await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (0, 2, 0)
    );
    let ann = by_email(&db, "ann@example.com").await;
    assert_eq!(ann.city.as_deref(), Some("Oslo"));
    assert_eq!(
        ann.last_name.as_deref(),
        Some("Lee"),
        "an empty cell leaves the field alone"
    );
    assert_eq!(
        ann.phone.as_deref(),
        Some("+442079460958"),
        "an absent column leaves the field alone"
    );
    assert_eq!(
        ann.email, "ann@example.com",
        "matching by email does not rewrite its case"
    );
    let change = import_change::Entity::find()
        .filter(import_change::Column::EntityId.eq(ann.id))
        .filter(import_change::Column::Operation.eq("updated"))
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.previous_values.as_deref(), Some(r#"{"city":null}"#));
    assert_eq!(change.new_values.as_deref(), Some(r#"{"city":"Oslo"}"#));
}

/// An update by ID can change every field of a client, each column of its own type
/// (PostgreSQL writes each as one array), two clients alike in one statement; reverting
/// it gives every field its previous value back.
async fn an_update_can_change_every_field_and_its_revert_restores_them(backend: Backend) {
    let db = database(backend).await;
    let (gold, vip) = gold_vip(&db).await;
    import(&db, FILE).await;
    let ann = by_email(&db, "ann@example.com").await;
    let bob = by_email(&db, "bob@example.com").await;
    let csv = format!(
        "ID,Email,Username,First name,Middle name,Last name,Address,City,Postal code,\
         Country,Phone,Date of birth,Verification level,Active,Type,Project,Desk,Created\n\
         {},ann.new@example.com,ann_new,Anna,Maria,Lind,1 High St,Bergen,5003,NO,\
         +47 55 55 55 55,1990-02-03,3,false,corporate,Gold,{},2020-01-02T03:04:05Z\n\
         {},bob.new@example.com,bob_new,Robert,Jon,Stone,2 Low Rd,Paris,75001,FR,\
         +33 1 23 45 67 89,1985-12-31,2,no,corporate,Gold,{},2019-06-07\n",
        ann.id, vip.id, bob.id, vip.id
    );
    let (job, valid, invalid, repeated) = prepared_rows(&db, &csv, ImportAction::Users).await;
    assert_eq!((invalid, repeated.len()), (0, 0));
    let rows = valid
        .into_iter()
        .filter_map(RowOutcome::into_client)
        .collect();
    let txn = db.db.begin().await.unwrap();
    let report = ClientImport::new(&txn, job, Desks::All)
        .await
        .unwrap()
        .apply(&txn, rows)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!((report.created, report.updated), (0, 2), "{report:?}");
    assert!(report.errors.is_empty(), "{report:?}");

    let conn = &db.db;
    let after = |id: i64| async move {
        client::Entity::find_by_id(id)
            .one(conn)
            .await
            .unwrap()
            .unwrap()
    };
    let a = after(ann.id).await;
    let when = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    assert_eq!(
        (
            a.email.as_str(),
            a.username.as_str(),
            a.first_name.as_str(),
            a.middle_name.as_deref(),
            a.last_name.as_deref(),
            a.address.as_deref(),
            a.city.as_deref(),
            a.postal_code.as_deref(),
            a.country.as_deref(),
            a.phone.as_deref(),
        ),
        (
            "ann.new@example.com",
            "ann_new",
            "Anna",
            Some("Maria"),
            Some("Lind"),
            Some("1 High St"),
            Some("Bergen"),
            Some("5003"),
            Some("NO"),
            Some("+4755555555"),
        )
    );
    assert_eq!(
        (
            a.date_of_birth,
            a.verification_level,
            a.active,
            a.client_type,
            a.project_id,
            a.desk_id,
            a.created_at,
        ),
        (
            chrono::NaiveDate::from_ymd_opt(1990, 2, 3),
            3,
            false,
            app::model::ClientType::Corporate,
            gold.id,
            vip.id,
            when("2020-01-02T03:04:05Z"),
        )
    );
    let b = after(bob.id).await;
    assert_eq!(
        (
            b.email.as_str(),
            b.username.as_str(),
            b.city.as_deref(),
            b.date_of_birth,
            b.verification_level,
            b.active,
            b.created_at,
        ),
        (
            "bob.new@example.com",
            "bob_new",
            Some("Paris"),
            chrono::NaiveDate::from_ymd_opt(1985, 12, 31),
            2,
            false,
            when("2019-06-07T00:00:00Z"),
        )
    );

    let txn = db.db.begin().await.unwrap();
    let reverted = app::jobs::revert::revert(&txn, job).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(
        (
            reverted.deleted,
            reverted.restored,
            reverted.not_reverted.len()
        ),
        (0, 2, 0)
    );
    for (before, id) in [(&ann, ann.id), (&bob, bob.id)] {
        let mut now = after(id).await;
        now.updated_at = before.updated_at;
        assert_eq!(&now, before, "every field restored");
    }
}

async fn rows_are_matched_by_id_first(backend: Backend) {
    let db = database(backend).await;
    import(&db, FILE).await;
    let bob = by_email(&db, "bob@example.com").await;
    let ann = by_email(&db, "ann@example.com").await;
    let csv = format!(
        "ID,Email\n{},robert@example.com\n{},ann@example.org\n999999,x@example.com\n",
        bob.id, ann.id
    );
    let report = import(&db, &csv).await;
    assert_eq!(report.updated, 1);
    assert_eq!(
        by_email(&db, "robert@example.com").await.id,
        bob.id,
        "a new email through the ID"
    );
    let messages: Vec<(u64, &str)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].1.contains("belongs to another client"),
        "{messages:?}"
    );
    assert_eq!(messages[1], (4, "There is no client with ID 999999"));
}

async fn duplicates_unknown_places_and_missing_names_are_refused(backend: Backend) {
    let db = database(backend).await;
    let (gold, vip) = gold_vip(&db).await;
    let csv = format!(
        "Email,First name,Project,Desk,Username\n\
         a@example.com,Ann,Gold,{},\n\
         A@EXAMPLE.com,Ann again,,,\n\
         b@example.com,Bo,Silver,,\n\
         c@example.com,,,,\n\
         d@example.com,Di,Gold,,\n\
         e@example.com,Ed,,,ann_custom\n\
         f@example.com,Fi,,,ann_custom\n",
        vip.id
    );
    let report = import(&db, &csv).await;
    assert_eq!(report.created, 2, "{:?}", report.errors);
    let a = by_email(&db, "a@example.com").await;
    assert_eq!(
        (a.project_id, a.desk_id),
        (gold.id, vip.id),
        "project by name, desk by id"
    );
    assert_eq!(by_email(&db, "e@example.com").await.username, "ann_custom");
    let got: Vec<(u64, Option<&str>)> = report.errors.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(
        got,
        [
            (3, Some("Email")),
            (4, Some("Project")),
            (5, Some("First name")),
            (6, Some("Desk")),
            (8, Some("Username"))
        ]
    );
    assert!(report.errors[0].message.contains("already on line 2"));
    assert!(report.errors[3].message.contains("has no `Default` desk"));
}

async fn import_accounts(db: &Db, csv: &str) -> BatchReport {
    let (job, valid, invalid, repeated) = prepared_rows(db, csv, ImportAction::Accounts).await;
    assert_eq!(invalid, 0, "these files hold only valid rows");
    let rows = valid
        .into_iter()
        .filter_map(RowOutcome::into_account)
        .collect();
    let txn = db.db.begin().await.unwrap();
    let mut report = AccountImport::new(job, Desks::All)
        .apply(&txn, rows)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    report.errors.extend(repeated);
    sorted(report)
}

async fn accounts_belong_to_existing_clients(backend: Backend) {
    let db = database(backend).await;
    import(&db, FILE).await;
    let csv = "Email,Account number,Product ID,Product currency
        ANN@example.com,MT-1,1,usd
        bob@example.com,MT-2,2,USDT
        ghost@example.com,MT-3,1,EUR
";
    let report = import_accounts(&db, csv).await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (2, 0, 0)
    );
    assert_eq!(report.errors.len(), 1);
    assert_eq!(
        (report.errors[0].line, report.errors[0].column),
        (4, Some("Email"))
    );
    assert!(
        report.errors[0]
            .message
            .contains("There is no client with this email")
    );
    let mt1 = by_number(&db, "MT-1").await;
    assert_eq!(
        (mt1.client_id, mt1.currency.as_str()),
        (by_email(&db, "ann@example.com").await.id, "USD")
    );

    // Same client: updated or unchanged; a number repeated in the file: refused.
    let csv = "Email,Account number,Product ID,Product currency\n\
        ann@example.com,MT-1,5,USD\n\
        bob@example.com,MT-2,2,USDT\n\
        ann@example.com,MT-2,2,USDT\n\
        bob@example.com,MT-1,1,USD\n";
    let report = import_accounts(&db, csv).await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (0, 1, 1)
    );
    let got: Vec<(u64, &str)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (4, "This account number is already on line 3 of this file"),
            (5, "This account number is already on line 2 of this file"),
        ]
    );
    // Another client's account is never taken over.
    let report = import_accounts(
        &db,
        "Email,Account number,Product ID,Product currency\nann@example.com,MT-2,2,USDT\n",
    )
    .await;
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].column, Some("Account number"));
    assert!(
        report.errors[0]
            .message
            .contains("belongs to another client"),
        "{:?}",
        report.errors
    );
    let mt1_now = by_number(&db, "MT-1").await;
    assert_eq!(
        (mt1_now.id, mt1_now.client_id, mt1_now.product_id),
        (mt1.id, mt1.client_id, 5),
        "the product changed, nothing else"
    );
    assert_eq!(mt1_now.currency, "USD");
    assert_eq!(
        mt1_now.created_at.timestamp_micros(),
        mt1.created_at.timestamp_micros()
    );
    let mt2 = by_number(&db, "MT-2").await;
    assert_eq!(
        mt2.client_id,
        by_email(&db, "bob@example.com").await.id,
        "not moved to another client"
    );
    let change = import_change::Entity::find()
        .filter(import_change::Column::Entity.eq("account"))
        .filter(import_change::Column::Operation.eq("updated"))
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        change.previous_values.as_deref(),
        Some(r#"{"product_id":1}"#)
    );
}

async fn import_ibs(db: &Db, csv: &str) -> (BatchReport, usize) {
    let (job, valid, invalid, _) = prepared_rows(db, csv, ImportAction::Ibs).await;
    let rows = valid.into_iter().filter_map(RowOutcome::into_ib).collect();
    let txn = db.db.begin().await.unwrap();
    let report = IbImport::new(job, Desks::All)
        .apply(&txn, rows)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    (sorted(report), invalid)
}

async fn partners_join_programs_and_refer_clients_once(backend: Backend) {
    let db = database(backend).await;
    import(&db, "Email,First name\npartner@example.com,Pat\nother@example.com,Oli\nann@example.com,Ann\nbob@example.com,Bob\n").await;
    let gold = ib_program::ActiveModel {
        name: Set("Gold".into()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&db.db)
    .await
    .unwrap();
    let csv = format!(
        "IB Email,Client Email,IB Type ID\n\
         partner@example.com,ann@example.com,{g}\n\
         partner@example.com,,{g}\n\
         other@example.com,ANN@example.com,{g}\n\
         partner@example.com,ghost@example.com,{g}\n\
         partner@example.com,bob@example.com,999\n\
         partner@example.com,partner@example.com,{g}\n\
         other@example.com,bob@example.com,{g}\n",
        g = gold.id
    );
    let (report, invalid) = import_ibs(&db, &csv).await;
    assert_eq!(
        invalid, 1,
        "the self-referral on line 7 is refused before the database"
    );
    assert_eq!(
        (report.created, report.unchanged),
        (2, 1),
        "{:?}",
        report.errors
    );
    let got: Vec<(u64, Option<&str>)> = report.errors.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(
        got,
        [
            (4, Some("Client Email")),
            (5, Some("Client Email")),
            (6, Some("IB Type ID"))
        ]
    );
    assert!(
        report.errors[0]
            .message
            .contains("already referred by another partner")
    );
    assert!(
        report.errors[2]
            .message
            .contains("no IB program with ID 999")
    );

    let partner = by_email(&db, "partner@example.com").await;
    let other = by_email(&db, "other@example.com").await;
    let members: Vec<i64> = introducing_broker::Entity::find()
        .order_by_asc(introducing_broker::Column::ClientId)
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.client_id)
        .collect();
    // Ids within a batch follow the email index, not the file.
    let mut expected = vec![partner.id, other.id];
    expected.sort_unstable();
    assert_eq!(members, expected);
    let referrals: Vec<(i64, i64)> = referral::Entity::find()
        .order_by_asc(referral::Column::ClientId)
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.client_id, r.ib_client_id))
        .collect();
    assert_eq!(
        referrals,
        [
            (by_email(&db, "ann@example.com").await.id, partner.id),
            (by_email(&db, "bob@example.com").await.id, other.id)
        ]
    );

    // The same file again changes nothing.
    let (again, _) = import_ibs(&db, &csv).await;
    assert_eq!((again.created, again.unchanged), (0, 3));
}

on_both_databases!(
    partners_join_programs_and_refer_clients_once,
    accounts_belong_to_existing_clients,
    a_fresh_import_creates_clients_with_defaults,
    re_importing_the_same_file_changes_nothing,
    an_update_file_changes_only_its_columns,
    an_update_can_change_every_field_and_its_revert_restores_them,
    rows_are_matched_by_id_first,
    duplicates_unknown_places_and_missing_names_are_refused,
);
