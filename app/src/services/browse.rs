//! Reading clients, accounts and IB programs a page at a time (SPEC §4, §5).

use super::audit::{self, Entry, action};
use super::scope::{of_clients_within, on_desks};
use crate::auth::Caller;
use crate::entities::{
    account, client, client_attribute, desk, ib_program, import_change, introducing_broker,
    project, referral,
};
use crate::model::{
    ACCOUNT_SORTS, AccountFilter, AccountRecord, AppError, CLIENT_SORTS, ClientDetails,
    ClientFilter, ClientList, ClientRecord, ClientRef, CurrentUser, Desks, Membership, Named, Page,
    PartnerRecord, ProgramDetails, ProgramRecord, ReferralRecord, TouchedBy,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};
use std::collections::HashMap;

/// Which page of a list, and what to look for.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub search: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

pub const DEFAULT_PER_PAGE: u64 = 50;
pub const MAX_PER_PAGE: u64 = 500;

impl ListQuery {
    /// Page numbers start at 1; page sizes are capped.
    pub fn new(search: Option<String>, page: Option<u64>, per_page: Option<u64>) -> Self {
        ListQuery {
            search: search
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            page: Ord::max(page.unwrap_or(1), 1),
            per_page: per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, MAX_PER_PAGE),
        }
    }

    /// `items`, one page of `total`, as this query asked for it.
    pub fn page_of<T>(&self, items: Vec<T>, total: u64) -> Page<T> {
        Page {
            items,
            total,
            page: self.page,
            per_page: self.per_page,
        }
    }

    pub fn offset(&self) -> u64 {
        // Databases take a signed 64-bit offset.
        Ord::min(
            (self.page - 1).saturating_mul(self.per_page),
            i64::MAX as u64,
        )
    }
}

/// `LIKE` pattern for text that starts with `s` (its own wildcards taken literally).
fn prefix_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn starts_with<C: sea_orm::sea_query::IntoColumnRef>(
    col: C,
    pattern: &str,
    lower: bool,
) -> sea_orm::sea_query::SimpleExpr {
    let col = Expr::col(col);
    let subject = if lower {
        Func::lower(col).into()
    } else {
        sea_orm::sea_query::SimpleExpr::from(col)
    };
    subject.like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\'))
}

/// The smallest text greater than every text that starts with `prefix` (in code point
/// order, which is UTF-8 byte order), if there is one.
fn after_prefix(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A client column as searched and sorted: folded to lower case when `lower`, compared in
/// byte order (PostgreSQL: the `C` collation), as the indexes of migration 000004 are.
fn comparable(column: &str, lower: bool, backend: DbBackend) -> sea_orm::sea_query::SimpleExpr {
    let value = if lower {
        format!("lower({column})")
    } else {
        column.to_owned()
    };
    match backend {
        DbBackend::Postgres => Expr::cust(format!("{value} COLLATE \"C\"")),
        _ => Expr::cust(value),
    }
}

/// `subject` starts with `prefix`, written as a range an index can walk.
fn prefix_range(subject: sea_orm::sea_query::SimpleExpr, prefix: &str) -> Condition {
    let mut range = Condition::all().add(subject.clone().gte(prefix));
    if let Some(end) = after_prefix(prefix) {
        range = range.add(subject.lt(end));
    }
    range
}

/// The names of the extra attributes in use, read from the index on `(name, value)` by
/// skipping from one name to the next (a handful of look-ups however many clients).
pub const ATTRIBUTE_NAMES: &str = "WITH RECURSIVE n(name) AS (\
    SELECT min(name) FROM client_attribute \
    UNION ALL SELECT (SELECT min(name) FROM client_attribute WHERE name > n.name) \
    FROM n WHERE n.name IS NOT NULL) \
    SELECT name FROM n WHERE name IS NOT NULL";

/// Clients with an extra attribute whose value is `search` exactly: one probe of the index
/// on `(name, value)` per attribute name.
fn attribute_search(search: &str, backend: DbBackend) -> sea_orm::sea_query::SimpleExpr {
    let ids = |value: &str| {
        format!(
            "SELECT a.client_id FROM client_attribute a \
             WHERE a.value = {value} AND a.name IN ({ATTRIBUTE_NAMES})"
        )
    };
    // PostgreSQL: the ids as an array computed once, which its bitmap scan of the primary
    // key ORs with the other conditions' indexes (`id IN (subquery)` would be checked row
    // by row: 0.4 s over 300,000 clients against 0.5 ms). SQLite ORs the subquery's ids
    // with the other indexes as it is.
    let sql = match backend {
        DbBackend::Postgres => format!("client.id = ANY(ARRAY({}))", ids("$1")),
        _ => format!("client.id IN ({})", ids("?")),
    };
    Expr::cust_with_values(sql, [search.trim().to_owned()])
}

/// Clients whose email, first or last name (ignoring case) or phone starts with `search`,
/// or with an extra attribute of exactly that value.
fn client_search(search: &str, backend: DbBackend) -> Condition {
    let lower = crate::model::fold_case(search);
    Condition::any()
        .add(attribute_search(search, backend))
        .add(prefix_range(comparable("email", true, backend), &lower))
        .add(prefix_range(
            comparable("first_name", true, backend),
            &lower,
        ))
        .add(prefix_range(comparable("last_name", true, backend), &lower))
        .add(prefix_range(comparable("phone", false, backend), search))
}

struct Places {
    projects: HashMap<i64, String>,
    desks: HashMap<i64, String>,
}

impl Places {
    async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, sea_orm::DbErr> {
        Ok(Places {
            projects: project::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|p| (p.id, p.name))
                .collect(),
            desks: desk::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|d| (d.id, d.name))
                .collect(),
        })
    }

    fn record(&self, c: client::Model) -> ClientRecord {
        let named = |id: i64, names: &HashMap<i64, String>| Named {
            id,
            name: names.get(&id).cloned().unwrap_or_default(),
        };
        ClientRecord {
            project: named(c.project_id, &self.projects),
            desk: named(c.desk_id, &self.desks),
            id: c.id,
            email: c.email,
            username: c.username,
            first_name: c.first_name,
            middle_name: c.middle_name,
            last_name: c.last_name,
            date_of_birth: c.date_of_birth.map(|d| d.to_string()),
            country: c.country,
            phone: c.phone,
            address: c.address,
            city: c.city,
            postal_code: c.postal_code,
            verification_level: c.verification_level,
            active: c.active,
            client_type: c.client_type.as_str().to_owned(),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

/// Which way a list is sorted; ties are broken by id so pages never overlap.
fn order(desc: bool) -> sea_orm::Order {
    if desc {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    }
}

fn invalid(reason: String) -> AppError {
    AppError::Request(reason)
}

/// The start of a day, UTC, `days_after` days after `date` (a date of the years 1 to 9999,
/// written `YYYY-MM-DD`); `None` past the year 9999, which no stored time reaches (SQLite
/// compares times as text, and `+10000-01-01` sorts before `2026`).
fn day_start(
    date: &str,
    days_after: u64,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
    use chrono::Datelike;
    let shown: String = date.chars().take(40).collect();
    let not_a_date = || invalid(format!("{shown:?} is not a date like 2026-01-31."));
    let d = crate::model::plain_date(date)
        .ok_or_else(not_a_date)?
        .checked_add_days(chrono::Days::new(days_after))
        .ok_or_else(not_a_date)?;
    Ok((d.year() <= 9999).then(|| d.and_time(chrono::NaiveTime::MIN).and_utc()))
}

/// The clients a filter selects among those on `desks`, sorted as it asks.
pub fn client_query(
    f: &ClientFilter,
    desks: &Desks,
    backend: DbBackend,
) -> Result<sea_orm::Select<client::Entity>, AppError> {
    use client::Column as C;
    let mut find = client::Entity::find().filter(on_desks(desks));
    if let Some(s) = &f.search {
        find = find.filter(client_search(s, backend));
    }
    if let Some(p) = f.project {
        find = find.filter(C::ProjectId.eq(p));
    }
    if let Some(d) = f.desk {
        find = find.filter(C::DeskId.eq(d));
    }
    if let Some(a) = f.active {
        find = find.filter(C::Active.eq(a));
    }
    if let Some(t) = &f.client_type {
        find = find.filter(C::ClientType.eq(t.as_str()));
    }
    if let Some(c) = &f.country {
        find = find.filter(C::Country.eq(c.as_str()));
    }
    if let Some(v) = f.verification_level {
        find = find.filter(C::VerificationLevel.eq(v));
    }
    if let Some(from) = f
        .created_from
        .as_deref()
        .map(|d| day_start(d, 0))
        .transpose()?
        .flatten()
    {
        find = find.filter(C::CreatedAt.gte(from));
    }
    if let Some(to) = f
        .created_to
        .as_deref()
        .map(|d| day_start(d, 1))
        .transpose()?
        .flatten()
    {
        find = find.filter(C::CreatedAt.lt(to));
    }
    // Names and emails sort ignoring case, by the expressions the indexes hold.
    let column = match f.sort.checked(&CLIENT_SORTS).map_err(invalid)?.as_deref() {
        Some("first_name") => Some(comparable("first_name", true, backend)),
        Some("last_name") => Some(comparable("last_name", true, backend)),
        Some("email") => Some(comparable("email", true, backend)),
        Some("project") => Some(Expr::col(C::ProjectId)),
        Some("desk") => Some(Expr::col(C::DeskId)),
        Some("active") => Some(Expr::col(C::Active)),
        Some("type") => Some(Expr::col(C::ClientType)),
        Some("country") => Some(Expr::col(C::Country)),
        Some("verification_level") => Some(Expr::col(C::VerificationLevel)),
        Some("created_at") => Some(Expr::col(C::CreatedAt)),
        _ => None,
    };
    let sorted = column.is_some();
    if let Some(column) = column {
        find = find.order_by(column, order(f.sort.desc));
    }
    Ok(find.order_by(C::Id, order(f.sort.desc && !sorted)))
}

pub async fn clients(
    db: &DatabaseConnection,
    q: &ListQuery,
    filter: &ClientFilter,
    desks: &Desks,
) -> Result<Page<ClientRecord>, AppError> {
    let find = client_query(filter, desks, db.get_database_backend())?;
    let total = find.clone().count(db).await?;
    let rows = find.offset(q.offset()).limit(q.per_page).all(db).await?;
    let places = Places::load(db).await?;
    Ok(q.page_of(rows.into_iter().map(|c| places.record(c)).collect(), total))
}

/// How many rows past the current page a page of a list counts. Counting every row of a
/// large table on every page view is what made a list slow, so beyond this the page says
/// "more than"; the API still answers exact totals.
pub const COUNT_AHEAD: u64 = 10_000;

/// How many rows `find` selects, counting no further than `limit` (ignoring its order,
/// which a count does not need).
async fn count_up_to<E: EntityTrait>(
    db: &DatabaseConnection,
    find: sea_orm::Select<E>,
    id: impl ColumnTrait,
    limit: u64,
) -> Result<u64, AppError> {
    use sea_orm::QueryTrait;
    use sea_orm::sea_query::Alias;
    let mut rows = find.select_only().column(id).limit(limit).into_query();
    rows.clear_order_by();
    let count = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from_subquery(rows, Alias::new("rows"))
        .to_owned();
    let n = match db.query_one(&count).await? {
        Some(row) => row.try_get_by_index::<i64>(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A page of the clients on `desks` with the projects and desks the filter form offers
/// (those of `desks`). Its total is exact up to [`COUNT_AHEAD`] rows past the page, a
/// lower bound beyond.
pub async fn client_list(
    db: &DatabaseConnection,
    q: &ListQuery,
    filter: &ClientFilter,
    within: &Desks,
) -> Result<ClientList, AppError> {
    let find = client_query(filter, within, db.get_database_backend())?;
    let limit = q.offset().saturating_add(COUNT_AHEAD).saturating_add(1);
    let counted = count_up_to(db, find.clone(), client::Column::Id, limit).await?;
    let rows = find.offset(q.offset()).limit(q.per_page).all(db).await?;
    let places = Places::load(db).await?;
    let page = q.page_of(
        rows.into_iter().map(|c| places.record(c)).collect(),
        Ord::min(counted, limit - 1),
    );
    let offered = desk::Entity::find()
        .order_by_asc(desk::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .filter(|d| within.allows(d.id))
        .collect::<Vec<_>>();
    let projects: Vec<project::Model> = project::Entity::find()
        .order_by_asc(project::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .filter(|p| !within.is_limited() || offered.iter().any(|d| d.project_id == p.id))
        .collect();
    let project_names: HashMap<i64, String> =
        projects.iter().map(|p| (p.id, p.name.clone())).collect();
    let desks = offered
        .into_iter()
        .map(|d| Named {
            id: d.id,
            name: format!(
                "{} / {}",
                project_names
                    .get(&d.project_id)
                    .cloned()
                    .unwrap_or_default(),
                d.name
            ),
        })
        .collect();
    Ok(ClientList {
        page,
        total_exact: counted < limit,
        projects: projects
            .into_iter()
            .map(|p| Named {
                id: p.id,
                name: p.name,
            })
            .collect(),
        desks,
    })
}

/// Reads every client of a filter on some desks `size` at a time, for an export.
pub struct ClientChunks {
    filter: ClientFilter,
    desks: Desks,
    places: Option<Places>,
    size: u64,
    offset: u64,
}

impl ClientChunks {
    pub fn new(filter: ClientFilter, desks: Desks, size: u64) -> Self {
        ClientChunks {
            filter,
            desks,
            places: None,
            size: Ord::max(size, 1),
            offset: 0,
        }
    }

    /// The next rows, or `None` after the last.
    pub async fn next<C: ConnectionTrait>(
        &mut self,
        db: &C,
    ) -> Result<Option<Vec<ClientRecord>>, AppError> {
        if self.places.is_none() {
            self.places = Some(Places::load(db).await?);
        }
        let rows = client_query(&self.filter, &self.desks, db.get_database_backend())?
            .offset(self.offset)
            .limit(self.size)
            .all(db)
            .await?;
        self.offset += self.size;
        Ok(match &self.places {
            Some(places) if !rows.is_empty() => {
                Some(rows.into_iter().map(|c| places.record(c)).collect())
            }
            _ => None,
        })
    }
}

/// Client `id`, when it is on `desks` (403 when it is on another).
pub async fn client(
    db: &DatabaseConnection,
    desks: &Desks,
    id: i64,
) -> Result<ClientRecord, AppError> {
    let c = client::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no client with ID {id}.")))?;
    if !desks.allows(c.desk_id) {
        return Err(AppError::Forbidden);
    }
    Ok(Places::load(db).await?.record(c))
}

/// Short references to clients by id.
async fn client_refs<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, ClientRef>, AppError> {
    let ids: Vec<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(client::Entity::find()
        .filter(client::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| {
            (
                c.id,
                ClientRef {
                    id: c.id,
                    email: c.email,
                    first_name: c.first_name,
                    last_name: c.last_name,
                },
            )
        })
        .collect())
}

fn client_ref(refs: &HashMap<i64, ClientRef>, id: i64) -> ClientRef {
    refs.get(&id).cloned().unwrap_or(ClientRef {
        id,
        email: String::new(),
        first_name: String::new(),
        last_name: None,
    })
}

async fn program_names(db: &DatabaseConnection) -> Result<HashMap<i64, String>, AppError> {
    Ok(ib_program::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

fn named(names: &HashMap<i64, String>, id: i64) -> Named {
    Named {
        id,
        name: names.get(&id).cloned().unwrap_or_default(),
    }
}

/// Referrals as records, with their clients and programs named.
async fn referral_records(
    db: &DatabaseConnection,
    rows: Vec<referral::Model>,
) -> Result<Vec<ReferralRecord>, AppError> {
    let programs = program_names(db).await?;
    let refs = client_refs(db, rows.iter().flat_map(|r| [r.client_id, r.ib_client_id])).await?;
    Ok(rows
        .into_iter()
        .map(|r| ReferralRecord {
            program: named(&programs, r.program_id),
            partner: client_ref(&refs, r.ib_client_id),
            client: client_ref(&refs, r.client_id),
            created_at: r.created_at.to_rfc3339(),
        })
        .collect())
}

/// The most referrals a client page lists; the program page pages through all of them.
const CLIENT_PAGE_REFERRALS: u64 = 200;

/// A client with everything linked to it (SPEC §4).
/// The imports listed are those `user` may see (an operator's own).
pub async fn client_details(
    db: &DatabaseConnection,
    user: &CurrentUser,
    id: i64,
) -> Result<ClientDetails, AppError> {
    let client_record = client(db, &user.desks, id).await?;
    let owner = ClientRef {
        id,
        email: client_record.email.clone(),
        first_name: client_record.first_name.clone(),
        last_name: client_record.last_name.clone(),
    };
    let accounts = account::Entity::find()
        .filter(account::Column::ClientId.eq(id))
        .order_by_asc(account::Column::AccountNumber)
        .all(db)
        .await?
        .into_iter()
        .map(|a| account_record(a, owner.clone()))
        .collect();
    let programs = program_names(db).await?;
    let referral_counts = counts_by(
        db,
        referral::Entity::find()
            .filter(referral::Column::IbClientId.eq(id))
            .filter(referrals_within(&user.desks)),
        referral::Column::ProgramId,
    )
    .await?;
    let memberships = introducing_broker::Entity::find()
        .filter(introducing_broker::Column::ClientId.eq(id))
        .order_by_asc(introducing_broker::Column::ProgramId)
        .all(db)
        .await?
        .into_iter()
        .map(|m| Membership {
            program: named(&programs, m.program_id),
            referrals: referral_counts.get(&m.program_id).copied().unwrap_or(0),
        })
        .collect();
    let referred_by = referral::Entity::find()
        .filter(referral::Column::ClientId.eq(id))
        .filter(referrals_within(&user.desks))
        .order_by_asc(referral::Column::ProgramId)
        .all(db)
        .await?;
    let referrals = referral::Entity::find()
        .filter(referral::Column::IbClientId.eq(id))
        .filter(referrals_within(&user.desks))
        .order_by_asc(referral::Column::Id)
        .limit(CLIENT_PAGE_REFERRALS)
        .all(db)
        .await?;
    // Records of this client alone, and records of runs of created ids that may hold it
    // (found through the index on the first id of their runs).
    use crate::jobs::changes::{ChangeOp, runs_hold};
    use import_change::Column as Ch;
    let records = import_change::Entity::find()
        .filter(Ch::Entity.eq("client"))
        .filter(
            Condition::any()
                .add(
                    Ch::EntityId
                        .eq(id)
                        .and(Ch::Operation.ne(ChangeOp::CreatedIds.as_str())),
                )
                .add(
                    Ch::Operation
                        .eq(ChangeOp::CreatedIds.as_str())
                        .and(Ch::EntityId.lte(id))
                        .and(Ch::LastEntityId.gte(id)),
                ),
        )
        .order_by_desc(Ch::Id)
        .all(db)
        .await?;
    let mut imports = Vec::new();
    for change in records {
        let operation = if change.operation == ChangeOp::CreatedIds {
            if !runs_hold(change.new_values.as_deref(), id) {
                continue;
            }
            ChangeOp::Created.as_str().to_owned()
        } else {
            change.operation.as_str().to_owned()
        };
        let job_id = change.job_id;
        if let Ok(job) = super::import_views::record(db, job_id).await
            && crate::model::policy::may_see_job(user, job.initiated_by.id)
        {
            imports.push(TouchedBy { job, operation });
        }
    }
    Ok(ClientDetails {
        client: client_record,
        accounts,
        memberships,
        referred_by: referral_records(db, referred_by).await?,
        referrals: referral_records(db, referrals).await?,
        imports,
        attributes: client_attributes(db, id).await?,
    })
}

/// Referrals a user limited to `desks` sees: both the partner and the client on them.
fn referrals_within(desks: &Desks) -> Condition {
    of_clients_within(referral::Column::ClientId, desks)
        .add(of_clients_within(referral::Column::IbClientId, desks))
}

/// The extra attributes of client `id` (name, value), by name.
pub async fn client_attributes(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Vec<(String, String)>, AppError> {
    Ok(client_attribute::Entity::find()
        .filter(client_attribute::Column::ClientId.eq(id))
        .order_by_asc(client_attribute::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.name, a.value))
        .collect())
}

fn account_record(a: account::Model, client: ClientRef) -> AccountRecord {
    AccountRecord {
        id: a.id,
        account_number: a.account_number,
        client,
        product_id: a.product_id,
        currency: a.currency,
        created_at: a.created_at.to_rfc3339(),
    }
}

/// The accounts a filter selects, sorted as it asks: search by account number, or by the
/// email, name or phone of the owner.
pub fn account_query(
    f: &AccountFilter,
    desks: &Desks,
    backend: DbBackend,
) -> Result<sea_orm::Select<account::Entity>, AppError> {
    use account::Column as A;
    let mut find = account::Entity::find().filter(of_clients_within(A::ClientId, desks));
    if let Some(s) = &f.search {
        let owners = Query::select()
            .column(client::Column::Id)
            .from(client::Entity)
            .cond_where(client_search(s, backend))
            .to_owned();
        find = find.filter(
            Condition::any()
                .add(starts_with(A::AccountNumber, &prefix_pattern(s), false))
                .add(A::ClientId.in_subquery(owners)),
        );
    }
    if let Some(c) = &f.currency {
        find = find.filter(A::Currency.eq(c.as_str()));
    }
    if let Some(p) = f.product_id {
        find = find.filter(A::ProductId.eq(p));
    }
    let column = match f.sort.checked(&ACCOUNT_SORTS).map_err(invalid)?.as_deref() {
        Some("account_number") => Some(A::AccountNumber),
        Some("client") => Some(A::ClientId),
        Some("product_id") => Some(A::ProductId),
        Some("currency") => Some(A::Currency),
        Some("created_at") => Some(A::CreatedAt),
        _ => None,
    };
    if let Some(column) = column {
        find = find.order_by(column, order(f.sort.desc));
    }
    Ok(find.order_by(A::Id, order(f.sort.desc && column.is_none())))
}

async fn account_records<C: ConnectionTrait>(
    db: &C,
    rows: Vec<account::Model>,
) -> Result<Vec<AccountRecord>, AppError> {
    let refs = client_refs(db, rows.iter().map(|a| a.client_id)).await?;
    Ok(rows
        .into_iter()
        .map(|a| {
            let owner = client_ref(&refs, a.client_id);
            account_record(a, owner)
        })
        .collect())
}

pub async fn accounts(
    db: &DatabaseConnection,
    q: &ListQuery,
    filter: &AccountFilter,
    desks: &Desks,
) -> Result<Page<AccountRecord>, AppError> {
    let find = account_query(filter, desks, db.get_database_backend())?;
    let total = find.clone().count(db).await?;
    let rows = find.offset(q.offset()).limit(q.per_page).all(db).await?;
    Ok(q.page_of(account_records(db, rows).await?, total))
}

/// Reads every account of a filter `size` at a time, for an export.
pub struct AccountChunks {
    filter: AccountFilter,
    desks: Desks,
    size: u64,
    offset: u64,
}

impl AccountChunks {
    pub fn new(filter: AccountFilter, desks: Desks, size: u64) -> Self {
        AccountChunks {
            filter,
            desks,
            size: Ord::max(size, 1),
            offset: 0,
        }
    }

    /// The next rows, or `None` after the last.
    pub async fn next<C: ConnectionTrait>(
        &mut self,
        db: &C,
    ) -> Result<Option<Vec<AccountRecord>>, AppError> {
        let rows = account_query(&self.filter, &self.desks, db.get_database_backend())?
            .offset(self.offset)
            .limit(self.size)
            .all(db)
            .await?;
        self.offset += self.size;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(account_records(db, rows).await?))
    }
}

/// A program and one of its tabs: `partners` (with referral counts) or `clients` (the
/// referred clients with their partner).
pub async fn program_details(
    db: &DatabaseConnection,
    desks: &Desks,
    id: i64,
    clients_tab: bool,
    q: &ListQuery,
) -> Result<ProgramDetails, AppError> {
    let program = programs(db, desks)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| AppError::NotFound(format!("There is no IB program with ID {id}.")))?;
    if clients_tab {
        let find = referral::Entity::find()
            .filter(referral::Column::ProgramId.eq(id))
            .filter(referrals_within(desks));
        let total = find.clone().count(db).await?;
        let rows = find
            .order_by_asc(referral::Column::Id)
            .offset(q.offset())
            .limit(q.per_page)
            .all(db)
            .await?;
        return Ok(ProgramDetails {
            program,
            partners: None,
            clients: Some(q.page_of(referral_records(db, rows).await?, total)),
        });
    }
    let find = introducing_broker::Entity::find()
        .filter(introducing_broker::Column::ProgramId.eq(id))
        .filter(of_clients_within(
            introducing_broker::Column::ClientId,
            desks,
        ));
    let total = find.clone().count(db).await?;
    let rows = find
        .order_by_asc(introducing_broker::Column::Id)
        .offset(q.offset())
        .limit(q.per_page)
        .all(db)
        .await?;
    let partner_ids: Vec<i64> = rows.iter().map(|m| m.client_id).collect();
    let counts = counts_by(
        db,
        referral::Entity::find()
            .filter(referral::Column::ProgramId.eq(id))
            .filter(referral::Column::IbClientId.is_in(partner_ids.clone()))
            .filter(referrals_within(desks)),
        referral::Column::IbClientId,
    )
    .await?;
    let refs = client_refs(db, partner_ids).await?;
    let partners = rows
        .into_iter()
        .map(|m| PartnerRecord {
            client: client_ref(&refs, m.client_id),
            referrals: counts.get(&m.client_id).copied().unwrap_or(0),
            joined_at: m.created_at.to_rfc3339(),
        })
        .collect();
    Ok(ProgramDetails {
        program,
        partners: Some(q.page_of(partners, total)),
        clients: None,
    })
}

/// How many rows of `rows` each value of `group` has.
pub(crate) async fn counts_by<E: EntityTrait, C: ColumnTrait>(
    db: &DatabaseConnection,
    rows: sea_orm::Select<E>,
    group: C,
) -> Result<HashMap<i64, u64>, AppError> {
    let counted: Vec<(i64, i64)> = rows
        .select_only()
        .column(group)
        .column_as(Expr::col(group).count(), "n")
        .group_by(group)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counted
        .into_iter()
        .map(|(g, n)| (g, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Every program, with the partners and referrals on `desks` counted.
pub async fn programs(
    db: &DatabaseConnection,
    desks: &Desks,
) -> Result<Vec<ProgramRecord>, AppError> {
    let partners = counts_by(
        db,
        introducing_broker::Entity::find().filter(of_clients_within(
            introducing_broker::Column::ClientId,
            desks,
        )),
        introducing_broker::Column::ProgramId,
    )
    .await?;
    let referrals = counts_by(
        db,
        referral::Entity::find().filter(referrals_within(desks)),
        referral::Column::ProgramId,
    )
    .await?;
    Ok(ib_program::Entity::find()
        .order_by_asc(ib_program::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|p| ProgramRecord {
            partners: partners.get(&p.id).copied().unwrap_or(0),
            referrals: referrals.get(&p.id).copied().unwrap_or(0),
            id: p.id,
            name: p.name,
            created_at: p.created_at.to_rfc3339(),
        })
        .collect())
}

/// Creates an IB program, with the id other systems know it by when one is given.
pub async fn create_program(
    db: &DatabaseConnection,
    caller: &Caller,
    id: Option<i64>,
    name: &str,
) -> Result<ProgramRecord, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Invalid("Give the program a name.".into()));
    }
    if let Some(id) = id {
        if id <= 0 {
            return Err(AppError::Invalid(
                "A program id is a positive whole number.".into(),
            ));
        }
        if ib_program::Entity::find_by_id(id).one(db).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "There is already an IB program with ID {id}."
            )));
        }
    }
    if ib_program::Entity::find()
        .filter(ib_program::Column::Name.eq(name))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "There is already an IB program named `{name}`."
        )));
    }
    let mut model = ib_program::ActiveModel {
        name: Set(name.to_owned()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    if let Some(id) = id {
        model.id = Set(id);
    }
    let txn = db.begin().await?;
    let program = model.insert(&txn).await?;
    if id.is_some() && db.get_database_backend() == DbBackend::Postgres {
        // An explicit id leaves the identity sequence behind; move it past the largest id.
        txn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT setval(pg_get_serial_sequence('ib_program', 'id'), \
             (SELECT MAX(id) FROM ib_program))",
        ))
        .await?;
    }
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::PROGRAM_CREATED,
            subject: Some(format!("IB program #{}", program.id)),
            details: Some(program.name.clone()),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ProgramRecord {
        id: program.id,
        name: program.name,
        partners: 0,
        referrals: 0,
        created_at: program.created_at.to_rfc3339(),
    })
}

/// Renames an IB program; its id, which files refer to, stays.
pub async fn rename_program(
    db: &DatabaseConnection,
    caller: &Caller,
    id: i64,
    name: &str,
) -> Result<(), AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Invalid("Give the program a name.".into()));
    }
    let program = ib_program::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no IB program with ID {id}.")))?;
    if ib_program::Entity::find()
        .filter(ib_program::Column::Name.eq(name))
        .filter(ib_program::Column::Id.ne(id))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "There is already an IB program named `{name}`."
        )));
    }
    let old = program.name.clone();
    let mut model: ib_program::ActiveModel = program.into();
    model.name = Set(name.to_owned());
    let txn = db.begin().await?;
    model.update(&txn).await?;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::PROGRAM_RENAMED,
            subject: Some(format!("IB program #{id}")),
            details: Some(format!("{old} → {name}")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
