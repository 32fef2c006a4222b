//! The engine's apply and revert layers on a real database, without a server, on SQLite
//! and PostgreSQL: every client field changed and put back, accounts and IB rows created,
//! updated and deleted again, and what a revert leaves alone and why. They run in seconds,
//! so `scripts/mutants.sh` runs them for every mutant of the engine.

#![cfg(feature = "ssr")]

mod common;

use app::auth::Caller;
use app::entities::{account, client, desk, import_job, introducing_broker, project, referral};
use app::jobs::apply::BatchReport;
use app::jobs::revert::{RevertReport, revert};
use app::model::{ClientType, Delimiter, ImportAction, JobStatus};
use chrono::{NaiveDate, TimeZone, Utc};
use common::{Backend, Fixture, describe};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

/// Applies `csv` as one job; every row must pass the file-level stages.
async fn run(f: &Fixture, action: ImportAction, csv: &str) -> (i64, BatchReport) {
    f.apply_as_job(action, csv.as_bytes(), Delimiter::Auto, today())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// (created, updated, unchanged, errors as the bad-files catalogue writes them).
fn outcome(report: &BatchReport) -> (u64, u64, u64, Vec<String>) {
    (
        report.created,
        report.updated,
        report.unchanged,
        report.errors.iter().map(describe).collect(),
    )
}

/// Reverts `job` in one transaction and marks it reverted, as the revert action does.
async fn undo(f: &Fixture, job: i64) -> RevertReport {
    let txn = f.db.begin().await.unwrap();
    let report = revert(&txn, job).await.unwrap();
    import_job::ActiveModel {
        id: Set(job),
        status: Set(JobStatus::Reverted),
        ..Default::default()
    }
    .update(&txn)
    .await
    .unwrap();
    txn.commit().await.unwrap();
    report
}

async fn client(f: &Fixture, email: &str) -> Option<client::Model> {
    client::Entity::find()
        .filter(client::Column::Email.eq(email))
        .one(&f.db)
        .await
        .unwrap()
}

async fn account(f: &Fixture, number: &str) -> Option<account::Model> {
    account::Entity::find()
        .filter(account::Column::AccountNumber.eq(number))
        .one(&f.db)
        .await
        .unwrap()
}

/// The client as a revert must give it back: everything but the time of the last change.
fn kept(c: &client::Model) -> client::Model {
    client::Model {
        updated_at: Utc.timestamp_opt(0, 0).unwrap(),
        ..c.clone()
    }
}

/// Project `name` with a desk `desk` besides its `Default` one; answers (project, desk).
async fn project_with_desk(f: &Fixture, name: &str, desk_name: &str) -> (i64, i64) {
    let caller = Caller::default();
    app::services::admin::create_project(&f.db, &caller, name)
        .await
        .unwrap();
    let project = project::Entity::find()
        .filter(project::Column::Name.eq(name))
        .one(&f.db)
        .await
        .unwrap()
        .unwrap();
    app::services::admin::create_desk(&f.db, &caller, project.id, desk_name)
        .await
        .unwrap();
    let desk = desk::Entity::find()
        .filter(desk::Column::ProjectId.eq(project.id))
        .filter(desk::Column::Name.eq(desk_name))
        .one(&f.db)
        .await
        .unwrap()
        .unwrap();
    (project.id, desk.id)
}

async fn program(f: &Fixture, id: i64) {
    app::entities::ib_program::ActiveModel {
        id: Set(id),
        name: Set(format!("Program {id}")),
        created_at: Set(Utc::now()),
    }
    .insert(&f.db)
    .await
    .unwrap();
}

const EVERY_FIELD: &str = "Email,Username,First name,Middle name,Last name,Date of birth,Country,Phone number,Address,City,Postal code,Verification level,Project,Desk,Active,Type,Created\n";

/// Every field of a client is written as the file says, changed by a second file, and put
/// back by reverting it; reverting the first deletes the client. An email is changed by
/// id and put back too.
async fn every_client_field_is_changed_and_put_back(backend: Backend) {
    let f = Fixture::new(backend).await;
    let default_project = project::Entity::find()
        .filter(project::Column::Name.eq("Default"))
        .one(&f.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let (latam, east) = project_with_desk(&f, "Latam", "East").await;

    let (created, report) = run(
        &f,
        ImportAction::Users,
        &format!(
            "{EVERY_FIELD}ann@example.com,ann,Ann,Maria,Archer,1985-03-14,GB,+44 20 7946 0958,1 High Street,London,SW1A 1AA,1,Default,Default,yes,personal,2020-01-02T03:04:05Z\n\
             bob@example.com,,Bob,,,,,,,,,,,,,,\n"
        ),
    )
    .await;
    assert_eq!(outcome(&report), (2, 0, 0, vec![]));
    let ann = client(&f, "ann@example.com").await.unwrap();
    let default_desk = ann.desk_id;
    assert_eq!(
        kept(&ann),
        client::Model {
            id: ann.id,
            email: "ann@example.com".into(),
            username: "ann".into(),
            first_name: "Ann".into(),
            middle_name: Some("Maria".into()),
            last_name: Some("Archer".into()),
            date_of_birth: NaiveDate::from_ymd_opt(1985, 3, 14),
            country: Some("GB".into()),
            phone: Some("+442079460958".into()),
            address: Some("1 High Street".into()),
            city: Some("London".into()),
            postal_code: Some("SW1A 1AA".into()),
            verification_level: 1,
            project_id: default_project,
            desk_id: default_desk,
            active: true,
            client_type: ClientType::Personal,
            created_at: Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap(),
            updated_at: Utc.timestamp_opt(0, 0).unwrap(),
        }
    );
    let bob = client(&f, "bob@example.com").await.unwrap();
    assert_eq!(
        (
            bob.username.as_str(),
            bob.middle_name.as_deref(),
            bob.country.as_deref(),
            bob.verification_level,
            bob.active,
            bob.client_type,
            bob.project_id
        ),
        (
            "bob",
            None,
            None,
            0,
            true,
            ClientType::Personal,
            default_project
        )
    );

    let (changed, report) = run(
        &f,
        ImportAction::Users,
        &format!(
            "{EVERY_FIELD}ann@example.com,ann.b,Anna,Marie,Baker,1986-04-15,FR,+33 1 23 45 67 89,2 Rue de Rivoli,Paris,75001,2,Latam,East,no,corporate,2021-05-06T07:08:09Z\n\
             bob@example.com,,Bob,,,,,,,,,,,,,,\n"
        ),
    )
    .await;
    assert_eq!(outcome(&report), (0, 1, 1, vec![]));
    let anna = client(&f, "ann@example.com").await.unwrap();
    assert_eq!(
        kept(&anna),
        client::Model {
            id: ann.id,
            email: "ann@example.com".into(),
            username: "ann.b".into(),
            first_name: "Anna".into(),
            middle_name: Some("Marie".into()),
            last_name: Some("Baker".into()),
            date_of_birth: NaiveDate::from_ymd_opt(1986, 4, 15),
            country: Some("FR".into()),
            phone: Some("+33123456789".into()),
            address: Some("2 Rue de Rivoli".into()),
            city: Some("Paris".into()),
            postal_code: Some("75001".into()),
            verification_level: 2,
            project_id: latam,
            desk_id: east,
            active: false,
            client_type: ClientType::Corporate,
            created_at: Utc.with_ymd_and_hms(2021, 5, 6, 7, 8, 9).unwrap(),
            updated_at: Utc.timestamp_opt(0, 0).unwrap(),
        }
    );
    assert!(anna.updated_at > ann.updated_at, "the change is dated");

    let (renamed, report) = run(
        &f,
        ImportAction::Users,
        &format!("ID,Email\n{},ann.new@example.com\n", ann.id),
    )
    .await;
    assert_eq!(outcome(&report), (0, 1, 0, vec![]));
    assert!(client(&f, "ann.new@example.com").await.is_some());

    let report = undo(&f, renamed).await;
    assert_eq!(
        report,
        RevertReport {
            deleted: 0,
            restored: 1,
            not_reverted: vec![],
            rebuilt_indexes: false,
        }
    );
    assert_eq!(
        client(&f, "ann@example.com").await.map(|c| kept(&c)),
        Some(kept(&anna))
    );
    let report = undo(&f, changed).await;
    assert_eq!(
        report,
        RevertReport {
            deleted: 0,
            restored: 1,
            not_reverted: vec![],
            rebuilt_indexes: false,
        }
    );
    assert_eq!(
        client(&f, "ann@example.com").await.map(|c| kept(&c)),
        Some(kept(&ann))
    );
    assert_eq!(
        client(&f, "bob@example.com").await.map(|c| kept(&c)),
        Some(kept(&bob)),
        "the unchanged row is left as it was"
    );
    let report = undo(&f, created).await;
    assert_eq!(
        report,
        RevertReport {
            deleted: 2,
            restored: 0,
            not_reverted: vec![],
            rebuilt_indexes: false,
        }
    );
    assert_eq!(client::Entity::find().count(&f.db).await.unwrap(), 0);
    f.close().await;
}

/// Accounts are created, updated and refused; IB memberships and referrals created; and
/// a revert deletes what each created and puts back what it changed, value by value.
async fn accounts_and_partners_are_applied_and_reverted(backend: Backend) {
    let f = Fixture::new(backend).await;
    program(&f, 7).await;
    let (_, report) = run(
        &f,
        ImportAction::Users,
        "Email,First name\nann@example.com,Ann\nbob@example.com,Bob\ncy@example.com,Cy\n",
    )
    .await;
    assert_eq!(outcome(&report), (3, 0, 0, vec![]));
    let id = |c: Option<client::Model>| c.unwrap().id;
    let (ann, bob, cy) = (
        id(client(&f, "ann@example.com").await),
        id(client(&f, "bob@example.com").await),
        id(client(&f, "cy@example.com").await),
    );

    let (opened, report) = run(
        &f,
        ImportAction::Accounts,
        "Email,Account number,Product ID,Product currency\n\
         ann@example.com,MT5-1,3,USD\n\
         bob@example.com,MT5-2,3,EUR\n",
    )
    .await;
    assert_eq!(outcome(&report), (2, 0, 0, vec![]));
    let (changed, report) = run(
        &f,
        ImportAction::Accounts,
        "Email,Account number,Product ID,Product currency\n\
         ann@example.com,MT5-1,4,USDT\n\
         bob@example.com,MT5-2,3,EUR\n\
         cy@example.com,MT5-1,3,USD\n\
         cy@example.com,MT5-3,5,GBP\n\
         nobody@example.com,MT5-4,3,USD\n",
    )
    .await;
    assert_eq!(
        outcome(&report),
        (
            1,
            1,
            1,
            vec![
                format!("line 4 Account number: This account belongs to another client (ID {ann})"),
                "line 6 Email: There is no client with this email: import the client first".into(),
            ]
        )
    );
    let number = |a: Option<account::Model>| a.map(|a| (a.client_id, a.product_id, a.currency));
    assert_eq!(
        number(account(&f, "MT5-1").await),
        Some((ann, 4, "USDT".into()))
    );
    assert_eq!(
        number(account(&f, "MT5-3").await),
        Some((cy, 5, "GBP".into()))
    );

    let (joined, report) = run(
        &f,
        ImportAction::Ibs,
        "IB Email,Client Email,IB Type ID\n\
         ann@example.com,bob@example.com,7\n\
         ann@example.com,bob@example.com,7\n\
         ann@example.com,,7\n\
         cy@example.com,bob@example.com,7\n\
         ann@example.com,cy@example.com,8\n",
    )
    .await;
    assert_eq!(
        outcome(&report),
        (
            1,
            0,
            2,
            vec![
                format!(
                    "line 5 Client Email: This client is already referred by another partner (client ID {ann}) in this program"
                ),
                "line 6 IB Type ID: There is no IB program with ID 8".into(),
            ]
        )
    );
    let memberships = introducing_broker::Entity::find().all(&f.db).await.unwrap();
    assert_eq!(
        memberships
            .iter()
            .map(|m| (m.client_id, m.program_id))
            .collect::<Vec<_>>(),
        vec![(ann, 7)]
    );
    let referrals = referral::Entity::find().all(&f.db).await.unwrap();
    assert_eq!(
        referrals
            .iter()
            .map(|r| (r.program_id, r.client_id, r.ib_client_id))
            .collect::<Vec<_>>(),
        vec![(7, bob, ann)]
    );

    let report = undo(&f, joined).await;
    assert_eq!(
        report,
        RevertReport {
            deleted: 2,
            restored: 0,
            not_reverted: vec![],
            rebuilt_indexes: false,
        }
    );
    assert_eq!(
        introducing_broker::Entity::find()
            .count(&f.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(referral::Entity::find().count(&f.db).await.unwrap(), 0);

    let report = undo(&f, changed).await;
    assert_eq!(
        report,
        RevertReport {
            deleted: 1,
            restored: 1,
            not_reverted: vec![],
            rebuilt_indexes: false,
        }
    );
    assert_eq!(
        number(account(&f, "MT5-1").await),
        Some((ann, 3, "USD".into()))
    );
    assert_eq!(
        number(account(&f, "MT5-2").await),
        Some((bob, 3, "EUR".into()))
    );
    assert_eq!(number(account(&f, "MT5-3").await), None);
    let report = undo(&f, opened).await;
    assert_eq!(report.deleted, 2);
    assert_eq!(account::Entity::find().count(&f.db).await.unwrap(), 0);
    f.close().await;
}

/// What a revert leaves alone, and says why: a row a later import changed (until that
/// import is reverted itself), a created client that later rows depend on, a row deleted
/// since, and a membership a later referral names. The rest of the same revert is done.
async fn a_revert_leaves_alone_what_later_imports_need(backend: Backend) {
    let f = Fixture::new(backend).await;
    program(&f, 7).await;
    // Two clients first, so that the run of ids reverted below does not start at 1.
    let (_, report) = run(
        &f,
        ImportAction::Users,
        "Email,First name\np@example.com,P\nq@example.com,Q\n",
    )
    .await;
    assert_eq!(report.created, 2);
    let mut first = String::from("Email,First name,City\n");
    for name in ["a", "b", "c", "d", "e", "f"] {
        first.push_str(&format!("{name}@example.com,{name},London\n"));
    }
    let (created, report) = run(&f, ImportAction::Users, &first).await;
    assert_eq!(report.created, 6);
    let id = async |email: &str| client(&f, email).await.unwrap().id;
    let (b, c, d, e) = (
        id("b@example.com").await,
        id("c@example.com").await,
        id("d@example.com").await,
        id("e@example.com").await,
    );
    // b and e are changed by later imports; c is given an account; d is deleted by hand.
    let (moved, _) = run(&f, ImportAction::Users, "Email,City\nb@example.com,Leeds\n").await;
    let (moved_again, _) = run(&f, ImportAction::Users, "Email,City\nb@example.com,Paris\n").await;
    let (rome, _) = run(&f, ImportAction::Users, "Email,City\ne@example.com,Rome\n").await;
    let (_, report) = run(
        &f,
        ImportAction::Accounts,
        "Email,Account number,Product ID,Product currency\nc@example.com,MT5-9,1,USD\n",
    )
    .await;
    assert_eq!(report.created, 1);
    client::Entity::delete_by_id(d).exec(&f.db).await.unwrap();

    // The first update is held back by the second…
    let report = undo(&f, moved).await;
    assert_eq!(
        report,
        RevertReport {
            deleted: 0,
            restored: 0,
            not_reverted: vec![format!(
                "Client #{b} was not reverted: import #{moved_again} changed it afterwards."
            )],
            rebuilt_indexes: false,
        }
    );
    assert_eq!(
        client(&f, "b@example.com").await.unwrap().city.as_deref(),
        Some("Paris")
    );
    // Reverting the second puts back the value the first gave; the first, reverted,
    // holds nothing back any more.
    let report = undo(&f, moved_again).await;
    assert_eq!(report.restored, 1);
    assert_eq!(
        client(&f, "b@example.com").await.unwrap().city.as_deref(),
        Some("Leeds")
    );

    let report = undo(&f, created).await;
    assert_eq!(
        report,
        RevertReport {
            deleted: 3,
            restored: 0,
            not_reverted: vec![
                format!("Client #{e} was not reverted: import #{rome} changed it afterwards."),
                format!("Client #{c} was not reverted: other records made since depend on it."),
                format!("Client #{d} was not reverted: it no longer exists."),
            ],
            rebuilt_indexes: false,
        }
    );
    let left: Vec<String> = client::Entity::find()
        .all(&f.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.email)
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(
        left,
        [
            "c@example.com",
            "e@example.com",
            "p@example.com",
            "q@example.com"
        ]
    );

    // A membership that a later import's referral names stays.
    let (partner, _) = run(
        &f,
        ImportAction::Ibs,
        "IB Email,Client Email,IB Type ID\np@example.com,,7\n",
    )
    .await;
    let (_, report) = run(
        &f,
        ImportAction::Ibs,
        "IB Email,Client Email,IB Type ID\np@example.com,q@example.com,7\n",
    )
    .await;
    assert_eq!(outcome(&report), (1, 0, 0, vec![]));
    let membership = introducing_broker::Entity::find()
        .one(&f.db)
        .await
        .unwrap()
        .unwrap();
    let report = undo(&f, partner).await;
    assert_eq!(
        report,
        RevertReport {
            deleted: 0,
            restored: 0,
            not_reverted: vec![format!(
                "IB membership #{} was not reverted: other records made since depend on it.",
                membership.id
            )],
            rebuilt_indexes: false,
        }
    );
    assert_eq!(referral::Entity::find().count(&f.db).await.unwrap(), 1);
    f.close().await;
}

/// What a review shows of the first changes a run recorded: one line per field, the
/// record named by its email (a client) or its number, field names as a person reads
/// them, nothing shown as `(empty)`, and no more than asked for.
async fn a_review_shows_the_first_changes_field_by_field(backend: Backend) {
    use app::jobs::changes::{FieldChange, first_field_changes};
    let f = Fixture::new(backend).await;
    run(
        &f,
        ImportAction::Users,
        "Email,First name,City,Verification level\nann@example.com,Ann,London,1\nbob@example.com,Bob,,0\n",
    )
    .await;
    run(
        &f,
        ImportAction::Accounts,
        "Email,Account number,Product ID,Product currency\nann@example.com,MT5-1,3,USD\n",
    )
    .await;
    let (users, _) = run(
        &f,
        ImportAction::Users,
        "Email,Middle name,City,Date of birth,Verification level\n\
         ann@example.com,Maria,Leeds,1990-02-03,2\n\
         bob@example.com,,Paris,,\n",
    )
    .await;
    let (accounts, _) = run(
        &f,
        ImportAction::Accounts,
        "Email,Account number,Product ID,Product currency\nann@example.com,MT5-1,4,EUR\n",
    )
    .await;
    let change = |record: &str, field: &str, before: &str, after: &str| FieldChange {
        record: record.into(),
        field: field.into(),
        before: before.into(),
        after: after.into(),
    };
    let (ann, bob) = ("Client ann@example.com", "Client bob@example.com");
    assert_eq!(
        first_field_changes(&f.db, users, 20).await.unwrap(),
        [
            // In the order the run recorded them: the apply writes rows that change the
            // same fields together.
            change(bob, "City", "(empty)", "Paris"),
            change(ann, "City", "London", "Leeds"),
            change(ann, "Date of birth", "(empty)", "1990-02-03"),
            change(ann, "Middle name", "(empty)", "Maria"),
            change(ann, "Verification level", "1", "2"),
        ]
    );
    assert_eq!(
        first_field_changes(&f.db, users, 3).await.unwrap(),
        [
            change(bob, "City", "(empty)", "Paris"),
            change(ann, "City", "London", "Leeds"),
            change(ann, "Date of birth", "(empty)", "1990-02-03"),
        ]
    );
    let number = account(&f, "MT5-1").await.unwrap().id;
    assert_eq!(
        first_field_changes(&f.db, accounts, 20).await.unwrap(),
        [
            change(&format!("Account #{number}"), "Currency", "USD", "EUR"),
            change(&format!("Account #{number}"), "Product id", "3", "4"),
        ]
    );
    f.close().await;
}

/// A row whose earlier values the database now refuses is left, in its own savepoint, and
/// the revert says why; the others are put back. A referral deleted by hand since is
/// listed as gone.
async fn a_revert_says_why_the_database_refused_a_row(backend: Backend) {
    let f = Fixture::new(backend).await;
    program(&f, 7).await;
    let (_, east) = project_with_desk(&f, "Latam", "East").await;
    run(
        &f,
        ImportAction::Users,
        "Email,First name,Username,Project,Desk,City\n\
         ann@example.com,Ann,ann,Latam,East,London\n\
         bob@example.com,Bob,bobby,,,London\n\
         cy@example.com,Cy,cy,,,London\n\
         dee@example.com,Dee,dee,,,London\n",
    )
    .await;
    let (update, report) = run(
        &f,
        ImportAction::Users,
        "Email,Username,Project,Desk,City\n\
         ann@example.com,ann,Default,Default,Leeds\n\
         bob@example.com,robert,,,Leeds\n\
         cy@example.com,cy,,,Leeds\n\
         dee@example.com,dee,,,Leeds\n",
    )
    .await;
    assert_eq!(outcome(&report), (0, 4, 0, vec![]));
    // Since then: Ann's earlier desk is deleted, Bob's earlier username is taken, and Dee
    // is deleted by hand.
    desk::Entity::delete_by_id(east).exec(&f.db).await.unwrap();
    let dee = client(&f, "dee@example.com").await.unwrap().id;
    client::Entity::delete_by_id(dee).exec(&f.db).await.unwrap();
    run(
        &f,
        ImportAction::Users,
        "Email,First name,Username\ndan@example.com,Dan,bobby\n",
    )
    .await;
    let id = async |email: &str| client(&f, email).await.unwrap().id;
    let (ann, bob) = (id("ann@example.com").await, id("bob@example.com").await);
    assert_eq!(
        undo(&f, update).await,
        RevertReport {
            deleted: 0,
            restored: 1,
            not_reverted: vec![
                format!(
                    "Client #{bob} was not reverted: another record now holds one of its earlier values (such as its username)."
                ),
                format!(
                    "Client #{ann} was not reverted: a record its earlier values refer to (such as its desk) was deleted since."
                ),
                format!("Client #{dee} was not reverted: it no longer exists."),
            ],
            rebuilt_indexes: false,
        }
    );
    let city = async |email: &str| client(&f, email).await.unwrap().city;
    assert_eq!(city("cy@example.com").await.as_deref(), Some("London"));
    assert_eq!(city("ann@example.com").await.as_deref(), Some("Leeds"));
    assert_eq!(city("bob@example.com").await.as_deref(), Some("Leeds"));

    let (joined, report) = run(
        &f,
        ImportAction::Ibs,
        "IB Email,Client Email,IB Type ID\nann@example.com,bob@example.com,7\nann@example.com,cy@example.com,7\n",
    )
    .await;
    assert_eq!(report.created, 2);
    let cy = id("cy@example.com").await;
    let gone = referral::Entity::find()
        .filter(referral::Column::ClientId.eq(cy))
        .one(&f.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    referral::Entity::delete_by_id(gone)
        .exec(&f.db)
        .await
        .unwrap();
    let report = undo(&f, joined).await;
    assert_eq!(
        (report.deleted, report.not_reverted),
        (
            2,
            vec![format!(
                "Referral #{gone} was not reverted: it no longer exists."
            )]
        )
    );
    assert_eq!(
        introducing_broker::Entity::find()
            .count(&f.db)
            .await
            .unwrap(),
        0
    );
    f.close().await;
}

/// Extra attributes (kept columns of a partner's file) are added, changed and put back by
/// a revert: one the import added goes, one it changed gets its value back. A client
/// deleted since gets nothing back.
async fn extra_attributes_are_put_back_by_a_revert(backend: Backend) {
    use app::entities::client_attribute;
    let f = Fixture::new(backend).await;
    let mapping = r#"{"Mail": "Email", "Name": "First name", "Ref": "extra:Reference", "Tier": "extra:Tier"}"#;
    let apply = async |csv: &str| {
        f.apply_mapped(
            ImportAction::Users,
            csv.as_bytes(),
            Delimiter::Auto,
            Some(mapping),
            today(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let (_, report) =
        apply("Mail,Name,Ref,Tier\nann@example.com,Ann,R-1,\ncy@example.com,Cy,C-1,silver\n").await;
    assert_eq!(outcome(&report), (2, 0, 0, vec![]));
    let (changed, report) =
        apply("Mail,Name,Ref,Tier\nann@example.com,Ann,R-2,gold\ncy@example.com,Cy,C-2,gold\n")
            .await;
    assert_eq!(outcome(&report), (0, 2, 0, vec![]));
    let cy = client(&f, "cy@example.com").await.unwrap().id;
    client::Entity::delete_by_id(cy).exec(&f.db).await.unwrap();
    let attributes = async || {
        let mut all: Vec<(String, String)> = client_attribute::Entity::find()
            .all(&f.db)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.name, a.value))
            .collect();
        all.sort();
        all
    };
    assert_eq!(
        attributes().await,
        [
            ("Reference".into(), "R-2".into()),
            ("Tier".into(), "gold".into())
        ]
    );
    let report = undo(&f, changed).await;
    assert_eq!(
        (report.restored, report.not_reverted),
        (
            1,
            vec![format!(
                "Client #{cy} was not reverted: it no longer exists."
            )]
        )
    );
    assert_eq!(attributes().await, [("Reference".into(), "R-1".into())]);
    f.close().await;
}

/// A user who works with some desks only imports clients, accounts and partners there:
/// a row that would read, change or place a client outside them is refused by name, and
/// nothing outside them changes.
async fn an_import_limited_to_some_desks_stays_within_them(backend: Backend) {
    let f = Fixture::new(backend).await;
    program(&f, 7).await;
    let (latam, east) = project_with_desk(&f, "Latam", "East").await;
    let (_, report) = run(
        &f,
        ImportAction::Users,
        "Email,First name,Project,Desk,City\n\
         ann@example.com,Ann,Latam,East,London\n\
         cy@example.com,Cy,Latam,East,London\n\
         bob@example.com,Bob,,,London\n\
         fay@example.com,Fay,Latam,,London\n",
    )
    .await;
    assert_eq!(outcome(&report), (4, 0, 0, vec![]));
    // A project named without a desk: its own `Default` desk.
    let latam_default = desk::Entity::find()
        .filter(desk::Column::ProjectId.eq(latam))
        .filter(desk::Column::Name.eq("Default"))
        .one(&f.db)
        .await
        .unwrap()
        .expect("a new project's Default desk");
    assert_eq!(
        client(&f, "fay@example.com").await.unwrap().desk_id,
        latam_default.id
    );
    let within = async |action: ImportAction, csv: &str| {
        f.apply_within(
            action,
            csv.as_bytes(),
            Delimiter::Auto,
            None,
            app::model::Desks::Only(vec![east]),
            today(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .1
    };
    let outside = "This client is on a desk outside the ones you work with";
    let not_ours = "Desk `Default / Default` is not one of the desks you work with";

    let report = within(
        ImportAction::Users,
        "Email,First name,Project,Desk,City\n\
         ann@example.com,Ann,,,Leeds\n\
         bob@example.com,Bob,,,Leeds\n\
         cy@example.com,Cy,Default,Default,Leeds\n\
         dan@example.com,Dan,,,Leeds\n\
         eve@example.com,Eve,Latam,East,Leeds\n",
    )
    .await;
    assert_eq!(
        outcome(&report),
        (
            1,
            1,
            0,
            vec![
                format!("line 3 Email: {outside}"),
                format!("line 4 Desk: {not_ours}"),
                format!("line 5 Desk: {not_ours}"),
            ]
        )
    );
    let city = async |email: &str| client(&f, email).await.map(|c| c.city.unwrap_or_default());
    assert_eq!(city("ann@example.com").await.as_deref(), Some("Leeds"));
    assert_eq!(city("bob@example.com").await.as_deref(), Some("London"));
    assert_eq!(city("cy@example.com").await.as_deref(), Some("London"));
    assert_eq!(city("dan@example.com").await, None);
    assert_eq!(city("eve@example.com").await.as_deref(), Some("Leeds"));

    let report = within(
        ImportAction::Accounts,
        "Email,Account number,Product ID,Product currency\n\
         ann@example.com,MT5-1,3,USD\n\
         bob@example.com,MT5-2,3,USD\n",
    )
    .await;
    assert_eq!(
        outcome(&report),
        (1, 0, 0, vec![format!("line 3 Email: {outside}")])
    );
    assert!(account(&f, "MT5-1").await.is_some());
    assert!(account(&f, "MT5-2").await.is_none());

    let report = within(
        ImportAction::Ibs,
        "IB Email,Client Email,IB Type ID\n\
         ann@example.com,bob@example.com,7\n\
         bob@example.com,cy@example.com,7\n\
         ann@example.com,cy@example.com,7\n",
    )
    .await;
    assert_eq!(
        outcome(&report),
        (
            1,
            0,
            0,
            vec![
                format!("line 2 Client Email: {outside}"),
                format!("line 3 IB Email: {outside}"),
            ]
        )
    );
    let referred: Vec<i64> = referral::Entity::find()
        .all(&f.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.client_id)
        .collect();
    assert_eq!(referred, [client(&f, "cy@example.com").await.unwrap().id]);
    f.close().await;
}

/// The rebuild of the client indexes at a bulk import's end records the job's heartbeat:
/// on SQLite nothing else can write while an index is built, and a job whose heartbeat
/// looked as old as the rebuild was taken over from its live worker by a waiting claim.
async fn rebuilding_the_indexes_keeps_the_jobs_heartbeat(backend: Backend) {
    let f = Fixture::new(backend).await;
    let job = f.new_job(ImportAction::Users).await;
    let long_ago = Utc::now() - chrono::Duration::hours(1);
    import_job::ActiveModel {
        id: Set(job),
        worker_id: Set(Some("worker-1".into())),
        heartbeat_at: Set(Some(long_ago)),
        ..Default::default()
    }
    .update(&f.db)
    .await
    .unwrap();
    app::jobs::bulk::ensure_client_indexes(&f.db, Some((job, "worker-1")))
        .await
        .unwrap();
    let beat = import_job::Entity::find_by_id(job)
        .one(&f.db)
        .await
        .unwrap()
        .unwrap()
        .heartbeat_at
        .unwrap();
    assert!(
        beat > Utc::now() - chrono::Duration::minutes(1),
        "the heartbeat is from {beat}"
    );
    f.close().await;
}

/// The usernames of every client, by email.
async fn usernames(f: &Fixture) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = client::Entity::find()
        .all(&f.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.email, c.username))
        .collect();
    all.sort();
    all
}

/// A first load into an empty table writes its batches without looking anything up. A
/// batch that finds a username taken after all is redone: looking everything up from
/// then on, or, in bulk mode (no email of the file can be in the table), looking up only
/// usernames and staying on the fast path. Generated usernames skip the taken ones, and
/// a username asked for that another client has is refused, for a new client and for a
/// change.
async fn a_fresh_load_falls_back_when_a_username_is_taken(backend: Backend) {
    let taken = "Username: This username is already used by another client";
    for emails_new in [false, true] {
        let f = Fixture::new(backend).await;
        let (reports, still_fresh) = f
            .apply_fresh_batches(
                &[
                    "Email,First name,Username\nann@x.example,Ann,\nann@y.example,Ann,\nann@v.example,Ann,\n",
                    "Email,First name,Username\ncy@example.com,Cy,ann\ndee@example.com,Dee,\n",
                    "Email,First name,Username\nbob@example.com,Bob,\nann@z.example,Ann,\n",
                ],
                emails_new,
                today(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let outcomes: Vec<_> = reports.iter().map(outcome).collect();
        assert_eq!(
            outcomes,
            [
                (3, 0, 0, vec![]),
                (1, 0, 0, vec![format!("line 2 {taken}")]),
                (2, 0, 0, vec![]),
            ],
            "emails_new: {emails_new}"
        );
        assert_eq!(
            still_fresh, emails_new,
            "fresh after a clash, bulk mode or not"
        );
        let names = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(e, u)| (e.to_string(), u.to_string()))
                .collect()
        };
        assert_eq!(
            usernames(&f).await,
            names(&[
                ("ann@v.example", "ann3"),
                ("ann@x.example", "ann"),
                ("ann@y.example", "ann2"),
                ("ann@z.example", "ann4"),
                ("bob@example.com", "bob"),
                ("dee@example.com", "dee"),
            ])
        );
        // A change to a username another client has is refused; the rest of the row is not
        // written either.
        let (_, report) = run(
            &f,
            ImportAction::Users,
            "Email,First name,Username\nann@y.example,Annie,ann\nbob@example.com,Bobby,bob\n",
        )
        .await;
        assert_eq!(outcome(&report), (0, 1, 0, vec![format!("line 2 {taken}")]));
        assert_eq!(client(&f, "ann@y.example").await.unwrap().first_name, "Ann");
        // Another job searches the suffixes from the start: past the ones taken.
        let (_, report) = run(
            &f,
            ImportAction::Users,
            "Email,First name\nann@w.example,Ann\n",
        )
        .await;
        assert_eq!(outcome(&report), (1, 0, 0, vec![]));
        assert_eq!(client(&f, "ann@w.example").await.unwrap().username, "ann5");
        f.close().await;
    }
}

/// A generated username looks past a whole block of taken suffixes (they are looked up
/// 64 at a time).
async fn a_generated_username_looks_past_a_block_of_taken_ones(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut file = String::from("Email,First name,Username\nx@example.com,X,x\n");
    for k in 2..=66 {
        file.push_str(&format!("x{k}@example.com,X,x{k}\n"));
    }
    let (_, report) = run(&f, ImportAction::Users, &file).await;
    assert_eq!(outcome(&report), (66, 0, 0, vec![]));
    let (_, report) = run(
        &f,
        ImportAction::Users,
        "Email,First name\nx@example.org,X\n",
    )
    .await;
    assert_eq!(outcome(&report), (1, 0, 0, vec![]));
    assert_eq!(client(&f, "x@example.org").await.unwrap().username, "x67");
    f.close().await;
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_databases!(
    every_client_field_is_changed_and_put_back,
    accounts_and_partners_are_applied_and_reverted,
    a_revert_leaves_alone_what_later_imports_need,
    a_review_shows_the_first_changes_field_by_field,
    a_revert_says_why_the_database_refused_a_row,
    extra_attributes_are_put_back_by_a_revert,
    an_import_limited_to_some_desks_stays_within_them,
    rebuilding_the_indexes_keeps_the_jobs_heartbeat,
    a_fresh_load_falls_back_when_a_username_is_taken,
    a_generated_username_looks_past_a_block_of_taken_ones,
);
