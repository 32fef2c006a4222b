//! Writing validated rows to the database, one batch per transaction (SPEC §3.1, §3.3):
//! one applier per action. Each batch looks up what it touches in bulk, inserts new rows in
//! multi-row statements, updates only the fields that change, and records what it did
//! ([`super::changes`]) so the import can be reverted.

mod accounts;
mod clients;
pub mod extras;
mod ibs;

pub use accounts::AccountImport;
pub use clients::ClientImport;
pub use ibs::IbImport;

use crate::entities::{client, desk, project};
use crate::import::prepare::RowOutcome;
use crate::import::validate::ClientRow;
use crate::model::Desks;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryFilter, TransactionTrait};
use std::collections::HashMap;

/// The appliers of one job, one per action.
pub enum Applier {
    Clients(ClientImport),
    Accounts(AccountImport),
    Ibs(IbImport),
}

impl Applier {
    /// Applies a batch of valid rows inside `txn` (the caller commits it).
    pub async fn apply<C: ConnectionTrait + TransactionTrait>(
        &mut self,
        txn: &C,
        rows: Vec<RowOutcome>,
    ) -> Result<BatchReport, DbErr> {
        match self {
            Applier::Clients(a) => {
                a.apply(
                    txn,
                    rows.into_iter()
                        .filter_map(RowOutcome::into_client)
                        .collect(),
                )
                .await
            }
            Applier::Accounts(a) => {
                a.apply(
                    txn,
                    rows.into_iter()
                        .filter_map(RowOutcome::into_account)
                        .collect(),
                )
                .await
            }
            Applier::Ibs(a) => {
                a.apply(
                    txn,
                    rows.into_iter().filter_map(RowOutcome::into_ib).collect(),
                )
                .await
            }
        }
    }
}

/// A row the database refused, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyError {
    pub line: u64,
    pub column: Option<&'static str>,
    pub value: Option<String>,
    pub message: String,
}

/// What one batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub errors: Vec<ApplyError>,
}

pub(crate) fn refuse(
    line: u64,
    column: Option<&'static str>,
    value: Option<&str>,
    message: String,
) -> ApplyError {
    ApplyError {
        line,
        column,
        value: value.map(str::to_owned),
        message,
    }
}

/// A row naming a client that does not exist (yet).
pub(crate) fn unknown_client(line: u64, column: &'static str, email: &str) -> ApplyError {
    refuse(
        line,
        Some(column),
        Some(email),
        "There is no client with this email: import the client first".into(),
    )
}

/// A row for a client on a desk the job's initiator is not limited to (SPEC §8).
pub(crate) fn outside_desks(line: u64, column: &'static str, value: &str) -> ApplyError {
    refuse(
        line,
        Some(column),
        Some(value),
        "This client is on a desk outside the ones you work with".into(),
    )
}

/// Projects and desks, loaded once per import (they are few), found by id or name, and
/// the desks the job's initiator may import into.
pub(crate) struct Directory {
    pub(crate) projects: Vec<project::Model>,
    pub(crate) desks: Vec<desk::Model>,
    pub(crate) within: Desks,
}

impl Directory {
    /// The row's error when it would put a client on desk `desk_id`, outside the
    /// initiator's desks.
    pub(crate) fn refuse_outside(&self, line: u64, desk_id: i64) -> Option<ApplyError> {
        if self.within.allows(desk_id) {
            return None;
        }
        let desk = self.desks.iter().find(|d| d.id == desk_id);
        let project = desk.and_then(|d| self.projects.iter().find(|p| p.id == d.project_id));
        let name = match (project, desk) {
            (Some(p), Some(d)) => format!("{} / {}", p.name, d.name),
            _ => desk_id.to_string(),
        };
        Some(refuse(
            line,
            Some("Desk"),
            Some(&name),
            format!("Desk `{name}` is not one of the desks you work with"),
        ))
    }

    pub(crate) fn project(&self, key: &str) -> Option<&project::Model> {
        let id = key.parse::<i64>().ok();
        self.projects
            .iter()
            .find(|p| Some(p.id) == id)
            .or_else(|| self.projects.iter().find(|p| p.name == key))
    }

    pub(crate) fn default_desk(&self, project_id: i64) -> Option<&desk::Model> {
        self.desks
            .iter()
            .find(|d| d.project_id == project_id && d.name == "Default")
    }

    /// The project and desk a row asks for; `None` when it names neither.
    pub(crate) fn placement(&self, row: &ClientRow) -> Result<Option<(i64, i64)>, ApplyError> {
        let project = match &row.project {
            Some(key) => Some(self.project(key).ok_or_else(|| {
                refuse(
                    row.line,
                    Some("Project"),
                    Some(key),
                    format!("There is no project `{key}` (by id or name)"),
                )
            })?),
            None => None,
        };
        let Some(key) = &row.desk else {
            return match project {
                None => Ok(None),
                Some(p) => self
                    .default_desk(p.id)
                    .map(|d| Some((p.id, d.id)))
                    .ok_or_else(|| {
                        refuse(
                            row.line,
                            Some("Desk"),
                            None,
                            format!(
                                "Project `{}` has no `Default` desk: fill the Desk column",
                                p.name
                            ),
                        )
                    }),
            };
        };
        let id = key.parse::<i64>().ok();
        let candidates: Vec<&desk::Model> = self
            .desks
            .iter()
            .filter(|d| {
                (Some(d.id) == id || d.name == *key) && project.is_none_or(|p| p.id == d.project_id)
            })
            .collect();
        match (candidates.as_slice(), project) {
            ([desk], _) => Ok(Some((desk.project_id, desk.id))),
            ([], Some(p)) => Err(refuse(
                row.line,
                Some("Desk"),
                Some(key),
                format!("Project `{}` has no desk `{key}`", p.name),
            )),
            ([], None) => Err(refuse(
                row.line,
                Some("Desk"),
                Some(key),
                format!("There is no desk `{key}` (by id or name)"),
            )),
            (_, _) => Err(refuse(
                row.line,
                Some("Desk"),
                Some(key),
                format!("Several projects have a desk `{key}`: fill the Project column too"),
            )),
        }
    }
}

/// Clients by lower-case email, for the (lower-case) emails given.
pub(crate) async fn clients_by_email<C: ConnectionTrait>(
    txn: &C,
    keys: Vec<String>,
) -> Result<HashMap<String, client::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(client::Entity::find()
        .filter(Func::lower(Expr::col(client::Column::Email)).is_in(keys))
        .all(txn)
        .await?
        .into_iter()
        .map(|c| (crate::model::fold_case(&c.email), c))
        .collect())
}
