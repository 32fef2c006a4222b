//! Admin → Projects and desks, and the audit log (SPEC §4).

use super::audit::{self, Entry, action};
use super::browse::ListQuery;
use crate::auth::Caller;
use crate::entities::{audit_event, client, desk, project};
use crate::model::{AppError, AuditRecord, Named, Page, ProjectRecord};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use std::collections::HashMap;

/// Every project with its desks and how many clients it holds.
pub async fn projects(db: &DatabaseConnection) -> Result<Vec<ProjectRecord>, AppError> {
    let counts =
        super::browse::counts_by(db, client::Entity::find(), client::Column::ProjectId).await?;
    let mut desks: HashMap<i64, Vec<Named>> = HashMap::new();
    for d in desk::Entity::find()
        .order_by_asc(desk::Column::Name)
        .all(db)
        .await?
    {
        desks.entry(d.project_id).or_default().push(Named {
            id: d.id,
            name: d.name,
        });
    }
    Ok(project::Entity::find()
        .order_by_asc(project::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|p| ProjectRecord {
            desks: desks.remove(&p.id).unwrap_or_default(),
            clients: counts.get(&p.id).copied().unwrap_or(0),
            id: p.id,
            name: p.name,
        })
        .collect())
}

fn name_of(name: &str, what: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Invalid(format!("Give the {what} a name.")));
    }
    Ok(name.to_owned())
}

/// A new project, with a desk named `Default` so its clients always have a desk.
pub async fn create_project(
    db: &DatabaseConnection,
    caller: &Caller,
    name: &str,
) -> Result<(), AppError> {
    let name = name_of(name, "project")?;
    if project::Entity::find()
        .filter(
            Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
                project::Column::Name,
            )))
            .eq(crate::model::fold_case(&name)),
        )
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "There is already a project named `{name}`."
        )));
    }
    let now = chrono::Utc::now();
    let txn = db.begin().await?;
    let created = project::ActiveModel {
        name: Set(name.clone()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    desk::ActiveModel {
        project_id: Set(created.id),
        name: Set("Default".to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::PROJECT_CREATED,
            subject: Some(format!("project #{}", created.id)),
            details: Some(name),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A new desk in a project.
pub async fn create_desk(
    db: &DatabaseConnection,
    caller: &Caller,
    project_id: i64,
    name: &str,
) -> Result<(), AppError> {
    let name = name_of(name, "desk")?;
    let owner = project::Entity::find_by_id(project_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no project with ID {project_id}.")))?;
    if desk::Entity::find()
        .filter(desk::Column::ProjectId.eq(project_id))
        .filter(desk::Column::Name.eq(name.as_str()))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "Project `{}` already has a desk named `{name}`.",
            owner.name
        )));
    }
    let txn = db.begin().await?;
    let created = desk::ActiveModel {
        project_id: Set(project_id),
        name: Set(name.clone()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        caller,
        Entry {
            action: action::DESK_CREATED,
            subject: Some(format!("desk #{}", created.id)),
            details: Some(format!("{} / {name}", owner.name)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The audit log, newest first, optionally of one user (by email) and one action.
pub async fn audit_log(
    db: &DatabaseConnection,
    actor: Option<&str>,
    action_name: Option<&str>,
    q: &ListQuery,
) -> Result<Page<AuditRecord>, AppError> {
    let mut find = audit_event::Entity::find();
    if let Some(actor) = actor {
        find = find.filter(
            Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
                audit_event::Column::ActorEmail,
            )))
            .eq(super::email_key(actor)),
        );
    }
    if let Some(a) = action_name {
        find = find.filter(audit_event::Column::Action.eq(a));
    }
    let total = find.clone().count(db).await?;
    let items = find
        .order_by_desc(audit_event::Column::Id)
        .offset(q.offset())
        .limit(q.per_page)
        .all(db)
        .await?
        .into_iter()
        .map(|e| AuditRecord {
            id: e.id,
            at: e.at.to_rfc3339(),
            actor: e.actor_email,
            action: e.action,
            subject: e.subject,
            details: e.details,
            remote_addr: e.remote_addr,
        })
        .collect();
    Ok(q.page_of(items, total))
}
