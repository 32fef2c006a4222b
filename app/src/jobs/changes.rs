//! What an import changed, recorded in `import_change` so that it can be reverted (SPEC
//! §3.3). Updates keep, per row, the previous values of the fields they changed. Rows an
//! import created are recorded per batch as runs of ids (`[[first, last], …]`): a million
//! new clients take a few hundred change rows, and revert deletes them range by range.
//!
//! The fields an import may change are typed ([`ClientField`], [`AccountField`]): apply
//! records them and revert restores them through the same description.

use crate::entities::{account, client, import_change};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value as DbValue};
use serde_json::{Map, Value, json};

/// The tables an import writes, as named in `import_change.entity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entity {
    Client,
    Account,
    IntroducingBroker,
    Referral,
}

impl Entity {
    pub const ALL: [Entity; 4] = [
        Entity::Client,
        Entity::Account,
        Entity::IntroducingBroker,
        Entity::Referral,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Client => "client",
            Entity::Account => "account",
            Entity::IntroducingBroker => "introducing_broker",
            Entity::Referral => "referral",
        }
    }

    /// The table, which is also the entity's name.
    pub fn table(self) -> &'static str {
        self.as_str()
    }

    pub fn parse(s: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// How a row of it is named in a revert's log.
    pub fn label(self) -> &'static str {
        match self {
            Entity::Client => "Client",
            Entity::Account => "Account",
            Entity::IntroducingBroker => "IB membership",
            Entity::Referral => "Referral",
        }
    }
}

/// What a change record says happened, stored as its snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(sea_orm::sea_query::StringLen::None)"
)]
pub enum ChangeOp {
    /// One row, created (`entity_id`).
    #[sea_orm(string_value = "created")]
    Created,
    /// Runs of created rows: `new_values` holds `[[first, last], …]`.
    #[sea_orm(string_value = "created_ids")]
    CreatedIds,
    /// One row, updated: `previous_values` holds the fields it had before.
    #[sea_orm(string_value = "updated")]
    Updated,
}

impl ChangeOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Created => "created",
            ChangeOp::CreatedIds => "created_ids",
            ChangeOp::Updated => "updated",
        }
    }
}

/// The fields of a client an import may change, with their names in change records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientField {
    Email,
    Username,
    FirstName,
    MiddleName,
    LastName,
    Address,
    City,
    PostalCode,
    Country,
    Phone,
    DateOfBirth,
    VerificationLevel,
    Active,
    Type,
    ProjectId,
    DeskId,
    CreatedAt,
}

/// How a field's value is kept in a change record's JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    OptionalText,
    Int,
    BigInt,
    Bool,
    OptionalDate,
    Timestamp,
}

impl ClientField {
    pub const ALL: [ClientField; 17] = [
        ClientField::Email,
        ClientField::Username,
        ClientField::FirstName,
        ClientField::MiddleName,
        ClientField::LastName,
        ClientField::Address,
        ClientField::City,
        ClientField::PostalCode,
        ClientField::Country,
        ClientField::Phone,
        ClientField::DateOfBirth,
        ClientField::VerificationLevel,
        ClientField::Active,
        ClientField::Type,
        ClientField::ProjectId,
        ClientField::DeskId,
        ClientField::CreatedAt,
    ];

    /// The name in change records (kept from the first records ever written).
    pub fn name(self) -> &'static str {
        match self {
            ClientField::Email => "email",
            ClientField::Username => "username",
            ClientField::FirstName => "first_name",
            ClientField::MiddleName => "middle_name",
            ClientField::LastName => "last_name",
            ClientField::Address => "address",
            ClientField::City => "city",
            ClientField::PostalCode => "postal_code",
            ClientField::Country => "country",
            ClientField::Phone => "phone",
            ClientField::DateOfBirth => "date_of_birth",
            ClientField::VerificationLevel => "verification_level",
            ClientField::Active => "active",
            ClientField::Type => "type",
            ClientField::ProjectId => "project_id",
            ClientField::DeskId => "desk_id",
            ClientField::CreatedAt => "created_at",
        }
    }

    pub fn parse(name: &str) -> Option<ClientField> {
        ClientField::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn column(self) -> client::Column {
        use client::Column as C;
        match self {
            ClientField::Email => C::Email,
            ClientField::Username => C::Username,
            ClientField::FirstName => C::FirstName,
            ClientField::MiddleName => C::MiddleName,
            ClientField::LastName => C::LastName,
            ClientField::Address => C::Address,
            ClientField::City => C::City,
            ClientField::PostalCode => C::PostalCode,
            ClientField::Country => C::Country,
            ClientField::Phone => C::Phone,
            ClientField::DateOfBirth => C::DateOfBirth,
            ClientField::VerificationLevel => C::VerificationLevel,
            ClientField::Active => C::Active,
            ClientField::Type => C::ClientType,
            ClientField::ProjectId => C::ProjectId,
            ClientField::DeskId => C::DeskId,
            ClientField::CreatedAt => C::CreatedAt,
        }
    }

    fn kind(self) -> Kind {
        match self {
            ClientField::Email
            | ClientField::Username
            | ClientField::FirstName
            | ClientField::Type => Kind::Text,
            ClientField::MiddleName
            | ClientField::LastName
            | ClientField::Address
            | ClientField::City
            | ClientField::PostalCode
            | ClientField::Country
            | ClientField::Phone => Kind::OptionalText,
            ClientField::DateOfBirth => Kind::OptionalDate,
            ClientField::VerificationLevel => Kind::Int,
            ClientField::Active => Kind::Bool,
            ClientField::ProjectId | ClientField::DeskId => Kind::BigInt,
            ClientField::CreatedAt => Kind::Timestamp,
        }
    }

    /// The database value a change record's JSON value stands for.
    pub fn value(self, v: &Value) -> Result<DbValue, DbErr> {
        stored_value(self.kind(), v).ok_or_else(|| unreadable(self.name()))
    }
}

/// The fields of an account an import may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountField {
    ProductId,
    Currency,
}

impl AccountField {
    pub fn name(self) -> &'static str {
        match self {
            AccountField::ProductId => "product_id",
            AccountField::Currency => "currency",
        }
    }

    pub fn parse(name: &str) -> Option<AccountField> {
        [AccountField::ProductId, AccountField::Currency]
            .into_iter()
            .find(|f| f.name() == name)
    }

    pub fn column(self) -> account::Column {
        match self {
            AccountField::ProductId => account::Column::ProductId,
            AccountField::Currency => account::Column::Currency,
        }
    }

    pub fn value(self, v: &Value) -> Result<DbValue, DbErr> {
        let kind = match self {
            AccountField::ProductId => Kind::Int,
            AccountField::Currency => Kind::Text,
        };
        stored_value(kind, v).ok_or_else(|| unreadable(self.name()))
    }
}

fn unreadable(field: &str) -> DbErr {
    DbErr::Custom(format!("unreadable previous value of `{field}`"))
}

fn stored_value(kind: Kind, v: &Value) -> Option<DbValue> {
    Some(match kind {
        Kind::Text => DbValue::from(v.as_str()?.to_owned()),
        Kind::OptionalText => DbValue::from(v.as_str().map(str::to_owned)),
        Kind::Int => DbValue::from(i32::try_from(v.as_i64()?).ok()?),
        Kind::BigInt => DbValue::from(v.as_i64()?),
        Kind::Bool => DbValue::from(v.as_bool()?),
        Kind::OptionalDate => DbValue::from(match v.as_str() {
            None => None,
            Some(d) => Some(d.parse::<chrono::NaiveDate>().ok()?),
        }),
        Kind::Timestamp => DbValue::from(
            chrono::DateTime::parse_from_rfc3339(v.as_str()?)
                .ok()?
                .to_utc(),
        ),
    })
}

/// A change to one row: the fields and their values before and after.
#[derive(Debug, Default)]
pub struct Change {
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
}

impl Change {
    /// Records `field` going from `old` to `new` when `new` is given and differs; gives
    /// the value to write.
    pub fn set<T: PartialEq + Into<Value> + Clone>(
        &mut self,
        field: &str,
        old: T,
        new: Option<T>,
    ) -> Option<T> {
        let new = new.filter(|n| *n != old)?;
        self.before.insert(field.to_owned(), old.into());
        self.after.insert(field.to_owned(), new.clone().into());
        Some(new)
    }

    /// Records a date of birth (kept as `YYYY-MM-DD` text).
    pub fn set_date(
        &mut self,
        field: &str,
        old: Option<chrono::NaiveDate>,
        new: Option<chrono::NaiveDate>,
    ) -> Option<chrono::NaiveDate> {
        let new = new.filter(|n| Some(*n) != old)?;
        self.before.insert(
            field.to_owned(),
            old.map_or(Value::Null, |d| json!(d.to_string())),
        );
        self.after.insert(field.to_owned(), json!(new.to_string()));
        Some(new)
    }

    /// Records a timestamp (kept as RFC 3339 text).
    pub fn set_timestamp(
        &mut self,
        field: &str,
        old: chrono::DateTime<chrono::Utc>,
        new: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let new = new.filter(|n| *n != old)?;
        self.before
            .insert(field.to_owned(), json!(old.to_rfc3339()));
        self.after.insert(field.to_owned(), json!(new.to_rfc3339()));
        Some(new)
    }

    pub fn is_empty(&self) -> bool {
        self.after.is_empty()
    }
}

/// The record of one created or updated row.
pub fn change_record(
    job_id: i64,
    entity: Entity,
    entity_id: i64,
    operation: ChangeOp,
    change: Option<Change>,
) -> import_change::ActiveModel {
    let (before, after) = change.map_or((None, None), |c| {
        (
            Some(Value::Object(c.before).to_string()),
            Some(Value::Object(c.after).to_string()),
        )
    });
    import_change::ActiveModel {
        job_id: Set(job_id),
        entity: Set(entity.as_str().into()),
        entity_id: Set(entity_id),
        operation: Set(operation),
        previous_values: Set(before),
        new_values: Set(after),
        ..Default::default()
    }
}

/// Records that rows of `entity` were updated, each with what changed: one statement on
/// PostgreSQL (the ids and both JSON texts as arrays, unnested), multi-row inserts elsewhere.
pub async fn record_updates<C: ConnectionTrait>(
    txn: &C,
    job_id: i64,
    entity: Entity,
    updates: Vec<(i64, Change)>,
) -> Result<(), DbErr> {
    if updates.is_empty() {
        return Ok(());
    }
    if txn.get_database_backend() != DbBackend::Postgres {
        let records = updates
            .into_iter()
            .map(|(id, c)| change_record(job_id, entity, id, ChangeOp::Updated, Some(c)))
            .collect();
        return super::write::insert_all(txn, records).await;
    }
    let mut ids = Vec::with_capacity(updates.len());
    let mut before = Vec::with_capacity(updates.len());
    let mut after = Vec::with_capacity(updates.len());
    for (id, c) in updates {
        ids.push(id);
        before.push(Value::Object(c.before).to_string());
        after.push(Value::Object(c.after).to_string());
    }
    let sql = "INSERT INTO import_change \
        (job_id, entity, entity_id, operation, previous_values, new_values) \
        SELECT $1, $2, r.id, $3, r.p, r.n FROM unnest($4::bigint[], $5::text[], $6::text[]) \
        AS r(id, p, n)";
    let values: [DbValue; 6] = [
        job_id.into(),
        entity.as_str().into(),
        ChangeOp::Updated.as_str().into(),
        ids.into(),
        before.into(),
        after.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// Runs of consecutive ids, `(first, last)` inclusive, in the order given.
pub fn id_runs(ids: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let mut sorted: Vec<i64> = ids.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for id in sorted {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == id => *last = id,
            _ => runs.push((id, id)),
        }
    }
    runs
}

/// Most runs kept in one change record, so that a record stays small whatever the ids.
const RUNS_PER_RECORD: usize = 1_000;

/// The records of the rows of `entity` one batch created.
pub fn created_records(
    job_id: i64,
    entity: Entity,
    ids: impl IntoIterator<Item = i64>,
) -> Vec<import_change::ActiveModel> {
    id_runs(ids)
        .chunks(RUNS_PER_RECORD)
        .map(|runs| import_change::ActiveModel {
            job_id: Set(job_id),
            entity: Set(entity.as_str().into()),
            entity_id: Set(runs[0].0),
            last_entity_id: Set(runs.last().map(|r| r.1)),
            operation: Set(ChangeOp::CreatedIds),
            new_values: Set(Some(
                Value::Array(runs.iter().map(|(a, b)| json!([a, b])).collect()).to_string(),
            )),
            ..Default::default()
        })
        .collect()
}

/// Whether the runs of a `created_ids` record hold `id`.
pub fn runs_hold(new_values: Option<&str>, id: i64) -> bool {
    read_runs(new_values).is_ok_and(|runs| runs.iter().any(|(a, b)| (*a..=*b).contains(&id)))
}

/// The runs of a `created_ids` record.
pub fn read_runs(new_values: Option<&str>) -> Result<Vec<(i64, i64)>, DbErr> {
    let bad = || DbErr::Custom("unreadable runs of created ids".into());
    let runs: Vec<(i64, i64)> =
        serde_json::from_str(new_values.ok_or_else(bad)?).map_err(|_| bad())?;
    if runs.iter().any(|(a, b)| a > b) {
        return Err(bad());
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_runs_and_back() {
        assert_eq!(id_runs([5, 1, 2, 3, 7, 6, 10]), [(1, 3), (5, 7), (10, 10)]);
        assert_eq!(id_runs([]), []);
        let records = created_records(9, Entity::Client, [4, 5, 6, 8]);
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.entity_id, Set(4));
        assert_eq!(r.last_entity_id, Set(Some(8)));
        assert_eq!(r.operation, Set(ChangeOp::CreatedIds));
        let Set(Some(text)) = &r.new_values else {
            panic!("runs are stored")
        };
        assert_eq!(read_runs(Some(text)).unwrap(), [(4, 6), (8, 8)]);
        assert!(runs_hold(Some(text), 5) && runs_hold(Some(text), 8));
        assert!(!runs_hold(Some(text), 7) && !runs_hold(Some(text), 3));
        assert!(!runs_hold(None, 5) && !runs_hold(Some("[[3,2]]"), 3));
        assert!(read_runs(Some("[[3,2]]")).is_err());
        assert!(read_runs(None).is_err());
        let many = created_records(1, Entity::Client, (0..5_000).map(|i| i * 2));
        assert_eq!(many.len(), 5, "1,000 runs a record");
    }

    #[test]
    fn the_review_shows_nothing_as_empty() {
        for nothing in [None, Some(&Value::Null), Some(&json!(""))] {
            assert_eq!(shown(nothing), "(empty)");
        }
        assert_eq!(shown(Some(&json!("Leeds"))), "Leeds");
        assert_eq!(shown(Some(&json!(2))), "2");
        assert_eq!(field_label("date_of_birth"), "Date of birth");
        assert_eq!(field_label("extra:Tier"), "Tier");
    }

    #[test]
    fn every_client_field_reads_back_what_apply_records() {
        for field in ClientField::ALL {
            assert_eq!(ClientField::parse(field.name()), Some(field));
        }
        let mut c = Change::default();
        c.set_date(
            "date_of_birth",
            None,
            chrono::NaiveDate::from_ymd_opt(1990, 2, 3),
        );
        assert_eq!(
            ClientField::DateOfBirth
                .value(&c.before["date_of_birth"])
                .unwrap(),
            DbValue::from(Option::<chrono::NaiveDate>::None)
        );
        assert_eq!(
            ClientField::DateOfBirth
                .value(&c.after["date_of_birth"])
                .unwrap(),
            DbValue::from(chrono::NaiveDate::from_ymd_opt(1990, 2, 3))
        );
        assert!(ClientField::VerificationLevel.value(&json!("x")).is_err());
        assert_eq!(
            ClientField::MiddleName.value(&Value::Null).unwrap(),
            DbValue::from(Option::<String>::None)
        );
    }
}

/// One field a validate-only run would change, as the review shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// The record: `Client ann@example.com`, `Account #12`.
    pub record: String,
    /// The field, as a person reads it: `City`, `Date of birth`.
    pub field: String,
    pub before: String,
    pub after: String,
}

/// A field name of a change record as a person reads it: `date_of_birth` → `Date of birth`;
/// an extra attribute by its own name.
fn field_label(field: &str) -> String {
    if let Some(attribute) = field.strip_prefix(super::apply::extras::CHANGE_PREFIX) {
        return attribute.to_owned();
    }
    let spaced = field.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A value of a change record as text; nothing shows as `(empty)`.
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(empty)".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "(empty)".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The first updates job `job_id` has recorded (inside the transaction of a validate-only
/// run, before it is rolled back), field by field, at most `limit` fields.
pub async fn first_field_changes<C: ConnectionTrait>(
    txn: &C,
    job_id: i64,
    limit: usize,
) -> Result<Vec<FieldChange>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let records = import_change::Entity::find()
        .filter(import_change::Column::JobId.eq(job_id))
        .filter(import_change::Column::Operation.eq(ChangeOp::Updated))
        .order_by_asc(import_change::Column::Id)
        .limit(limit as u64)
        .all(txn)
        .await?;
    let client_ids: Vec<i64> = records
        .iter()
        .filter(|r| r.entity == Entity::Client.as_str())
        .map(|r| r.entity_id)
        .collect();
    let emails: std::collections::HashMap<i64, String> = client::Entity::find()
        .filter(client::Column::Id.is_in(client_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|c| (c.id, c.email))
        .collect();
    let mut fields = Vec::new();
    for r in records {
        let record = match (Entity::parse(&r.entity), emails.get(&r.entity_id)) {
            (Some(Entity::Client), Some(email)) => format!("Client {email}"),
            (Some(entity), _) => format!("{} #{}", entity.label(), r.entity_id),
            (None, _) => format!("{} #{}", r.entity, r.entity_id),
        };
        let parse = |text: &Option<String>| -> Map<String, Value> {
            text.as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default()
        };
        let (before, after) = (parse(&r.previous_values), parse(&r.new_values));
        for (field, new) in &after {
            fields.push(FieldChange {
                record: record.clone(),
                field: field_label(field),
                before: shown(before.get(field)),
                after: shown(Some(new)),
            });
        }
        if fields.len() >= limit {
            break;
        }
    }
    fields.truncate(limit);
    Ok(fields)
}
