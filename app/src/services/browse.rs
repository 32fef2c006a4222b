//! Reading clients, accounts and IB programs a page at a time (SPEC §4, §5).

use super::audit::{self, Entry, action};
use crate::auth::Caller;
use crate::entities::{account, client, desk, ib_program, introducing_broker, project, referral};
use crate::model::{AccountRecord, AppError, ClientRecord, ClientRef, Named, Page, ProgramRecord};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
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

/// Clients whose email, first or last name or phone starts with `search` (ignoring case).
fn client_search(search: &str) -> Condition {
    let lower = prefix_pattern(&search.to_lowercase());
    let exact = prefix_pattern(search);
    Condition::any()
        .add(starts_with(client::Column::Email, &lower, true))
        .add(starts_with(client::Column::FirstName, &lower, true))
        .add(starts_with(client::Column::LastName, &lower, true))
        .add(starts_with(client::Column::Phone, &exact, false))
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
            client_type: c.client_type,
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

pub async fn clients(
    db: &DatabaseConnection,
    q: &ListQuery,
) -> Result<Page<ClientRecord>, AppError> {
    let mut find = client::Entity::find();
    if let Some(s) = &q.search {
        find = find.filter(client_search(s));
    }
    let total = find.clone().count(db).await?;
    let rows = find
        .order_by_asc(client::Column::Id)
        .offset(q.offset())
        .limit(q.per_page)
        .all(db)
        .await?;
    let places = Places::load(db).await?;
    Ok(q.page_of(rows.into_iter().map(|c| places.record(c)).collect(), total))
}

pub async fn client(db: &DatabaseConnection, id: i64) -> Result<ClientRecord, AppError> {
    let c = client::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no client with ID {id}.")))?;
    Ok(Places::load(db).await?.record(c))
}

/// Accounts whose number starts with `search`, or whose client's email, name or phone does.
pub async fn accounts(
    db: &DatabaseConnection,
    q: &ListQuery,
) -> Result<Page<AccountRecord>, AppError> {
    let mut find = account::Entity::find();
    if let Some(s) = &q.search {
        let owners = Query::select()
            .column(client::Column::Id)
            .from(client::Entity)
            .cond_where(client_search(s))
            .to_owned();
        find = find.filter(
            Condition::any()
                .add(starts_with(
                    account::Column::AccountNumber,
                    &prefix_pattern(s),
                    false,
                ))
                .add(account::Column::ClientId.in_subquery(owners)),
        );
    }
    let total = find.clone().count(db).await?;
    let rows = find
        .order_by_asc(account::Column::Id)
        .offset(q.offset())
        .limit(q.per_page)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|a| a.client_id).collect();
    let owners: HashMap<i64, client::Model> = client::Entity::find()
        .filter(client::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let items = rows
        .into_iter()
        .map(|a| {
            let owner = owners.get(&a.client_id);
            AccountRecord {
                id: a.id,
                account_number: a.account_number,
                client: ClientRef {
                    id: a.client_id,
                    email: owner.map(|c| c.email.clone()).unwrap_or_default(),
                    first_name: owner.map(|c| c.first_name.clone()).unwrap_or_default(),
                    last_name: owner.and_then(|c| c.last_name.clone()),
                },
                product_id: a.product_id,
                currency: a.currency,
                created_at: a.created_at.to_rfc3339(),
            }
        })
        .collect();
    Ok(q.page_of(items, total))
}

async fn counts_by_program<E: EntityTrait, C: ColumnTrait>(
    db: &DatabaseConnection,
    program: C,
) -> Result<HashMap<i64, u64>, AppError> {
    let rows: Vec<(i64, i64)> = E::find()
        .select_only()
        .column(program)
        .column_as(Expr::col(program).count(), "n")
        .group_by(program)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(p, n)| (p, u64::try_from(n).unwrap_or(0)))
        .collect())
}

pub async fn programs(db: &DatabaseConnection) -> Result<Vec<ProgramRecord>, AppError> {
    let partners = counts_by_program::<introducing_broker::Entity, _>(
        db,
        introducing_broker::Column::ProgramId,
    )
    .await?;
    let referrals =
        counts_by_program::<referral::Entity, _>(db, referral::Column::ProgramId).await?;
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
    let program = model.insert(db).await?;
    if id.is_some() && db.get_database_backend() == DbBackend::Postgres {
        // An explicit id leaves the identity sequence behind; move it past the largest id.
        db.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT setval(pg_get_serial_sequence('ib_program', 'id'), \
             (SELECT MAX(id) FROM ib_program))",
        ))
        .await?;
    }
    audit::record(
        db,
        caller,
        Entry {
            action: action::PROGRAM_CREATED,
            subject: Some(format!("IB program #{}", program.id)),
            details: Some(program.name.clone()),
        },
    )
    .await?;
    Ok(ProgramRecord {
        id: program.id,
        name: program.name,
        partners: 0,
        referrals: 0,
        created_at: program.created_at.to_rfc3339(),
    })
}
