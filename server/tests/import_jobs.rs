//! Import jobs end to end through the service: file checks, batches, messages, statuses,
//! notifications, validate-only, identical files; on SQLite and PostgreSQL.

mod common;

use app::entities::{client, import_job, import_message, notification};
use app::import::prepare::Limits;
use app::jobs::{self as imports, NewImport};
use app::model::JobStatus;
use app::model::{AppError, CurrentUser, Delimiter, ImportAction, Role};
use common::{Backend, fresh_database};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

struct Setup {
    db: DatabaseConnection,
    operator: CurrentUser,
    _dir: Option<tempfile::TempDir>,
}

async fn setup(backend: Backend) -> Setup {
    let (url, dir) = fresh_database(backend).await;
    let db = server::db::connect(&url).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let system = app::auth::Caller::default();
    let (user, _) =
        app::services::users::create(&db, &system, "ops@example.com", Role::Operator, None)
            .await
            .unwrap();
    Setup {
        db,
        operator: CurrentUser {
            id: user.id,
            email: user.email,
            role: user.role,
            desks: app::model::Desks::All,
        },
        _dir: dir,
    }
}

fn upload(csv: &str, validate_only: bool) -> NewImport {
    NewImport {
        title: "Clients from the old CRM".into(),
        description: None,
        action: ImportAction::Users,
        delimiter: Delimiter::Auto,
        file_name: "clients.csv".into(),
        file: csv.as_bytes().to_vec().into(),
        validate_only,
        mapping: None,
        review_mapping: false,
        map_if_unmatched: false,
        submission: None,
    }
}

async fn create_and_run(s: &Setup, csv: &str, validate_only: bool) -> import_job::Model {
    let caller = app::auth::Caller {
        user: Some(s.operator.clone()),
        remote_addr: None,
    };
    let job = imports::create(
        &s.db,
        &caller,
        &s.operator,
        upload(csv, validate_only),
        // Files of several batches.
        Limits {
            max_rows: 100_000,
            ..Limits::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(job.status, JobStatus::New);
    let claimed = imports::claim_next(&s.db, "test-worker", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed, Some(job.id));
    imports::run(
        &s.db,
        job.id,
        "test-worker",
        &imports::RunOptions {
            heartbeat_every: std::time::Duration::from_secs(5),
            bulk_min_rows: app::jobs::bulk::BULK_MIN_ROWS,
            stale_after: std::time::Duration::from_secs(30),
        },
    )
    .await
    .unwrap()
}

async fn messages(s: &Setup, job: i64, level: &str) -> Vec<import_message::Model> {
    import_message::Entity::find()
        .filter(import_message::Column::JobId.eq(job))
        .filter(import_message::Column::Level.eq(level))
        .order_by_asc(import_message::Column::Id)
        .all(&s.db)
        .await
        .unwrap()
}

const MIXED: &str = "Email,First name,Country,Shoe size\n\
    ann@example.com,Ann,GB,38\n\
    bob@example.com,Bob,Atlantis,44\n\
    cy@example.com,Cy,de,40\n";

async fn a_file_with_good_and_bad_rows_succeeds_with_errors(backend: Backend) {
    let s = setup(backend).await;
    let job = create_and_run(&s, MIXED, false).await;
    assert_eq!(job.status, JobStatus::SuccessWithErrors);
    assert_eq!(
        (
            job.total_rows,
            job.processed_rows,
            job.created_rows,
            job.updated_rows,
            job.unchanged_rows,
            job.error_rows
        ),
        (3, 3, 2, 0, 0, 1)
    );
    assert!(job.finished_at.is_some() && job.started_at.is_some());
    assert_eq!(job.encoding.as_deref(), Some("UTF-8"));
    assert_eq!(client::Entity::find().count(&s.db).await.unwrap(), 2);

    let errors = messages(&s, job.id, "error").await;
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(
        (e.line, e.column.as_deref(), e.value.as_deref()),
        (Some(3), Some("Country"), Some("Atlantis"))
    );
    assert!(e.message.contains("is not a country"));
    let log: Vec<String> = messages(&s, job.id, "info")
        .await
        .into_iter()
        .map(|m| m.message)
        .collect();
    assert!(
        log[0].starts_with("Read as UTF-8 with comma separators: 3 data rows."),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|m| m.contains("Ignored columns this import does not know: Shoe size")),
        "{log:?}"
    );

    let note = notification::Entity::find()
        .one(&s.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (note.user_id, note.job_id, note.text.as_str()),
        (
            s.operator.id,
            Some(job.id),
            "Finished with 1 error: 2 created, 0 updated, 0 unchanged"
        )
    );
}

async fn an_identical_file_is_recognised_and_changes_nothing(backend: Backend) {
    let s = setup(backend).await;
    let first = create_and_run(&s, MIXED, false).await;
    let second = create_and_run(&s, MIXED, false).await;
    assert_eq!(
        (
            second.created_rows,
            second.unchanged_rows,
            second.error_rows
        ),
        (0, 2, 1)
    );
    assert_eq!(client::Entity::find().count(&s.db).await.unwrap(), 2);
    let log: Vec<String> = messages(&s, second.id, "info")
        .await
        .into_iter()
        .map(|m| m.message)
        .collect();
    let expected = format!(
        "An identical file (the same content, byte for byte) was imported before, as import #{}",
        first.id
    );
    assert!(log.iter().any(|m| m.starts_with(&expected)), "{log:?}");
}

async fn validate_only_writes_nothing_and_predicts(backend: Backend) {
    let s = setup(backend).await;
    let job = create_and_run(&s, MIXED, true).await;
    assert_eq!(job.status, JobStatus::AwaitingConfirmation);
    assert_eq!(
        (job.created_rows, job.error_rows),
        (2, 1),
        "what the import would do"
    );
    assert_eq!(
        client::Entity::find().count(&s.db).await.unwrap(),
        0,
        "nothing written"
    );
    assert_eq!(
        messages(&s, job.id, "error").await.len(),
        1,
        "the errors are reported"
    );
    assert!(
        messages(&s, job.id, "change").await.is_empty(),
        "no updates"
    );

    // A validate-only update keeps a sample of what it would change, field by field, and
    // still writes nothing; confirming it leaves the sample behind.
    create_and_run(&s, MIXED, false).await;
    let update = "Email,Country,First name\n\
        ann@example.com,FR,Ann\n\
        cy@example.com,de,Cyrus\n";
    let job = create_and_run(&s, update, true).await;
    assert_eq!(job.status, JobStatus::AwaitingConfirmation);
    assert_eq!((job.updated_rows, job.unchanged_rows), (2, 0));
    let sample: Vec<(Option<String>, Option<String>, String)> = messages(&s, job.id, "change")
        .await
        .into_iter()
        .map(|m| (m.column, m.value, m.message))
        .collect();
    assert_eq!(
        sample,
        [
            (
                Some("Country".into()),
                Some("FR".into()),
                "Client ann@example.com: Country `GB` → `FR`".into()
            ),
            (
                Some("First name".into()),
                Some("Cyrus".into()),
                "Client cy@example.com: First name `Cy` → `Cyrus`".into()
            ),
        ]
    );
    let ann = client::Entity::find()
        .filter(client::Column::Email.eq("ann@example.com"))
        .one(&s.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ann.country.as_deref(), Some("GB"), "nothing written");
    let caller = app::auth::Caller {
        user: Some(s.operator.clone()),
        remote_addr: None,
    };
    app::jobs::confirm(&s.db, &caller, &s.operator, job.id)
        .await
        .unwrap();
    assert!(messages(&s, job.id, "change").await.is_empty());
}

async fn a_file_of_only_bad_rows_fails(backend: Backend) {
    let s = setup(backend).await;
    let job = create_and_run(
        &s,
        "Email,First name\nnot-an-email,Ann\nann@example.com,\n",
        false,
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.error_rows, 2);
    let note = notification::Entity::find()
        .one(&s.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(note.text, "Failed: no row could be imported (2 errors)");
}

async fn a_refused_file_creates_no_job(backend: Backend) {
    let s = setup(backend).await;
    let caller = app::auth::Caller::default();
    let err = imports::create(
        &s.db,
        &caller,
        &s.operator,
        upload("Email,First name\n", false),
        Limits::default(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        AppError::Invalid("The file has a header line but no data rows.".into())
    );
    let limits = Limits {
        max_bytes: 10,
        max_rows: 5_000,
    };
    let err = imports::create(
        &s.db,
        &caller,
        &s.operator,
        upload(MIXED, false),
        limits,
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("the limit is 10 bytes"), "{err}");
    assert_eq!(import_job::Entity::find().count(&s.db).await.unwrap(), 0);
}

async fn large_files_run_in_batches(backend: Backend) {
    let s = setup(backend).await;
    let rows = imports::BATCH_ROWS * 2 + 17;
    let mut csv = String::from("Email,First name\n");
    for i in 0..rows {
        csv.push_str(&format!("client{i}@example.com,Client {i}\n"));
    }
    let job = create_and_run(&s, &csv, false).await;
    assert_eq!(job.status, JobStatus::Success);
    assert_eq!(
        (job.processed_rows, job.created_rows),
        (rows as i64, rows as i64)
    );
    assert_eq!(
        client::Entity::find().count(&s.db).await.unwrap(),
        rows as u64
    );
    let note = notification::Entity::find()
        .one(&s.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        note.text,
        format!(
            "Finished: {} created, 0 updated, 0 unchanged",
            app::model::grouped(rows as i64)
        )
    );
}

/// Into an empty table, batches are written without look-ups; a later batch whose
/// username turns out taken (by a username generated in an earlier batch) is rolled back and
/// written again with look-ups, which refuse that row alone.
async fn a_taken_username_after_the_first_batch_is_refused_alone(backend: Backend) {
    let s = setup(backend).await;
    let rows = imports::BATCH_ROWS + 10;
    let mut csv = String::from("Email,First name,Username\n");
    csv.push_str("info@a.example,Ann,\n");
    for i in 1..rows - 1 {
        csv.push_str(&format!("client{i}@example.com,Client {i},\n"));
    }
    // In the second batch: the username generated for the first row.
    csv.push_str("late@example.com,Late,info\n");
    let job = create_and_run(&s, &csv, false).await;
    assert_eq!(job.status, JobStatus::SuccessWithErrors);
    assert_eq!(
        (job.processed_rows, job.created_rows, job.error_rows),
        (rows as i64, rows as i64 - 1, 1)
    );
    let errors = messages(&s, job.id, "error").await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, Some(rows as i64 + 1));
    assert_eq!(errors[0].column.as_deref(), Some("Username"));
    assert_eq!(
        errors[0].message,
        "This username is already used by another client"
    );
    assert_eq!(
        client::Entity::find().count(&s.db).await.unwrap(),
        rows as u64 - 1
    );
}

/// Usernames made from one email local part get the next free suffix: into an empty table
/// (the batch alone holds them) and into a table that holds some (looked up), past a block
/// of 64 candidates; a username asked for that the batch already gave is refused.
async fn usernames_of_one_local_part_get_the_next_free_suffix(backend: Backend) {
    let s = setup(backend).await;
    let usernames = |names: Vec<client::Model>| {
        let mut u: Vec<String> = names.into_iter().map(|c| c.username).collect();
        u.sort();
        u
    };
    let expected = |range: std::ops::RangeInclusive<u32>| {
        let mut u: Vec<String> = range
            .map(|n| {
                if n == 1 {
                    "info".into()
                } else {
                    format!("info{n}")
                }
            })
            .collect();
        u.sort();
        u
    };
    let mut csv = String::from("Email,First name,Username\n");
    for i in 1..=100 {
        csv.push_str(&format!("info@d{i}.example,Ann,\n"));
    }
    csv.push_str("asks@example.com,Bo,info7\n");
    let job = create_and_run(&s, &csv, false).await;
    assert_eq!((job.created_rows, job.error_rows), (100, 1));
    let errors = messages(&s, job.id, "error").await;
    assert_eq!(errors[0].line, Some(102));
    assert_eq!(errors[0].value.as_deref(), Some("info7"));
    let all = client::Entity::find().all(&s.db).await.unwrap();
    assert_eq!(usernames(all), expected(1..=100));

    let mut csv = String::from("Email,First name\n");
    for i in 1..=70 {
        csv.push_str(&format!("info@e{i}.example,Cy\n"));
    }
    let job = create_and_run(&s, &csv, false).await;
    assert_eq!((job.created_rows, job.error_rows), (70, 0));
    let all = client::Entity::find().all(&s.db).await.unwrap();
    assert_eq!(usernames(all), expected(1..=170));
}

/// A whole batch of rows, each with three bad cells: every error is recorded, however many
/// statements that takes (one statement may bind only so many values).
async fn a_batch_full_of_errors_records_every_one(backend: Backend) {
    let s = setup(backend).await;
    let bad = imports::BATCH_ROWS;
    let mut csv = String::from("Email,First name,Country,Date of birth\n");
    for i in 0..bad {
        csv.push_str(&format!(
            "client{i}-at-example.com,Client,Narnia,1990-13-{i:02}\n"
        ));
    }
    csv.push_str("good@example.com,Good,GB,1990-01-31\n");
    let job = create_and_run(&s, &csv, false).await;
    assert_eq!(job.status, JobStatus::SuccessWithErrors);
    assert_eq!(
        (job.processed_rows, job.created_rows, job.error_rows),
        (bad as i64 + 1, 1, bad as i64)
    );
    let errors = import_message::Entity::find()
        .filter(import_message::Column::JobId.eq(job.id))
        .filter(import_message::Column::Level.eq("error"))
        .count(&s.db)
        .await
        .unwrap();
    assert_eq!(errors, 3 * bad as u64, "three messages for each bad row");
    let last = import_message::Entity::find()
        .filter(import_message::Column::JobId.eq(job.id))
        .filter(import_message::Column::Line.eq(bad as i64 + 1))
        .order_by_asc(import_message::Column::Id)
        .all(&s.db)
        .await
        .unwrap();
    let mut columns: Vec<_> = last.iter().filter_map(|m| m.column.clone()).collect();
    columns.sort();
    assert_eq!(columns, ["Country", "Date of birth", "Email"]);
}

/// Every column of a new client is stored as the file gives it, and an empty cell as no
/// value (PostgreSQL receives nullable columns as arrays with a mask of NULLs: each bit
/// must land on its own column).
async fn every_column_of_a_new_client_is_stored_as_given(backend: Backend) {
    let s = setup(backend).await;
    let csv = "Email,First name,Middle name,Last name,Username,Date of birth,Country,Phone number,Address,City,Postal code,Verification level,Active,Type,Created\n\
        full@example.com,Ann,Maria,Lee,annlee,1990-02-03,GB,+44 20 7946 0958,1 High St,London,N1 9GU,2,no,corporate,2020-05-06T07:08:09.123456Z\n\
        bare@example.com,Bo,,,,,,,,,,,,,\n";
    let job = create_and_run(&s, csv, false).await;
    assert_eq!(
        (job.status, job.created_rows, job.error_rows),
        (JobStatus::Success, 2, 0),
        "{:?}",
        messages(&s, job.id, "error").await
    );
    let find = async |email: &str| {
        client::Entity::find()
            .filter(client::Column::Email.eq(email))
            .one(&s.db)
            .await
            .unwrap()
            .unwrap()
    };
    let full = find("full@example.com").await;
    assert_eq!(
        (
            full.first_name.as_str(),
            full.middle_name.as_deref(),
            full.last_name.as_deref(),
            full.username.as_str(),
            full.date_of_birth,
            full.country.as_deref(),
            full.phone.as_deref(),
            full.address.as_deref(),
            full.city.as_deref(),
            full.postal_code.as_deref(),
        ),
        (
            "Ann",
            Some("Maria"),
            Some("Lee"),
            "annlee",
            chrono::NaiveDate::from_ymd_opt(1990, 2, 3),
            Some("GB"),
            Some("+442079460958"),
            Some("1 High St"),
            Some("London"),
            Some("N1 9GU"),
        )
    );
    assert_eq!(
        (
            full.verification_level,
            full.active,
            full.client_type,
            full.created_at.to_rfc3339(),
        ),
        (
            2,
            false,
            app::model::ClientType::Corporate,
            "2020-05-06T07:08:09.123456+00:00".to_owned(),
        )
    );
    let bare = find("bare@example.com").await;
    assert_eq!(
        (
            bare.middle_name,
            bare.last_name,
            bare.date_of_birth,
            bare.country,
            bare.phone,
            bare.address,
            bare.city,
            bare.postal_code,
            bare.verification_level,
            bare.active,
            bare.client_type,
        ),
        (
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            0,
            true,
            app::model::ClientType::Personal
        )
    );
    assert_eq!(bare.username, "bare");
    assert_eq!(bare.created_at, bare.updated_at, "created now");
}

on_both_databases!(
    every_column_of_a_new_client_is_stored_as_given,
    a_taken_username_after_the_first_batch_is_refused_alone,
    usernames_of_one_local_part_get_the_next_free_suffix,
    a_batch_full_of_errors_records_every_one,
    a_file_with_good_and_bad_rows_succeeds_with_errors,
    an_identical_file_is_recognised_and_changes_nothing,
    validate_only_writes_nothing_and_predicts,
    a_file_of_only_bad_rows_fails,
    a_refused_file_creates_no_job,
    large_files_run_in_batches,
);
