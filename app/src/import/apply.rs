//! Writing validated rows to the database, one batch per transaction (SPEC §3.1, §3.3).
//! Each batch looks its clients up in bulk, inserts new ones in multi-row statements, updates
//! only the fields that change, and records every change so the import can be reverted.

use super::validate::{AccountRow, ClientRow, IbRow};
use super::write::{insert_all, insert_all_returning_keys, upsert_all};
use crate::entities::{
    account, client, desk, ib_program, import_change, introducing_broker, project, referral,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, Iterable, QueryFilter,
};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

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

fn refuse(
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
fn unknown_client(line: u64, column: &'static str, email: &str) -> ApplyError {
    refuse(
        line,
        Some(column),
        Some(email),
        "There is no client with this email: import the client first".into(),
    )
}

/// Projects and desks, loaded once per import (they are few), found by id or name.
struct Directory {
    projects: Vec<project::Model>,
    desks: Vec<desk::Model>,
}

impl Directory {
    fn project(&self, key: &str) -> Option<&project::Model> {
        let id = key.parse::<i64>().ok();
        self.projects
            .iter()
            .find(|p| Some(p.id) == id)
            .or_else(|| self.projects.iter().find(|p| p.name == key))
    }

    fn default_desk(&self, project_id: i64) -> Option<&desk::Model> {
        self.desks
            .iter()
            .find(|d| d.project_id == project_id && d.name == "Default")
    }

    /// The project and desk a row asks for; `None` when it names neither.
    fn placement(&self, row: &ClientRow) -> Result<Option<(i64, i64)>, ApplyError> {
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

/// Records what an import created or updated, for revert.
fn change_record(
    job_id: i64,
    entity: &str,
    entity_id: i64,
    operation: &str,
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
        entity: Set(entity.into()),
        entity_id: Set(entity_id),
        operation: Set(operation.into()),
        previous_values: Set(before),
        new_values: Set(after),
        ..Default::default()
    }
}

/// Clients by lower-case email, for the (lower-case) emails given.
async fn clients_by_email<C: ConnectionTrait>(
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
        .map(|c| (c.email.to_lowercase(), c))
        .collect())
}

/// Applies `import-accounts` rows: the client must exist; an account number owned by
/// another client is refused; one owned by the same client is updated.
pub struct AccountImport {
    job_id: i64,
    seen: HashMap<String, u64>,
}

impl AccountImport {
    pub fn new(job_id: i64) -> Self {
        AccountImport {
            job_id,
            seen: HashMap::new(),
        }
    }

    /// Remembers a row an earlier attempt of this job already applied (on resume).
    pub fn replay(&mut self, row: &AccountRow) {
        self.seen
            .entry(row.account_number.as_str().to_owned())
            .or_insert(row.line);
    }

    /// Applies a batch of rows inside `txn`.
    pub async fn apply<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        rows: Vec<AccountRow>,
    ) -> Result<BatchReport, DbErr> {
        let mut report = BatchReport::default();
        let mut accepted = Vec::with_capacity(rows.len());
        for row in rows {
            let number = row.account_number.as_str().to_owned();
            match self.seen.get(&number) {
                Some(first) => report.errors.push(refuse(
                    row.line,
                    Some("Account number"),
                    Some(&number),
                    format!("This account number is already on line {first} of this file"),
                )),
                None => {
                    self.seen.insert(number, row.line);
                    accepted.push(row);
                }
            }
        }
        let owners =
            clients_by_email(txn, accepted.iter().map(|r| r.email.key()).collect()).await?;
        let numbers: Vec<String> = accepted
            .iter()
            .map(|r| r.account_number.as_str().to_owned())
            .collect();
        let mut existing: HashMap<String, account::Model> = HashMap::new();
        if !numbers.is_empty() {
            for a in account::Entity::find()
                .filter(account::Column::AccountNumber.is_in(numbers))
                .all(txn)
                .await?
            {
                existing.insert(a.account_number.clone(), a);
            }
        }
        let now = chrono::Utc::now();
        let mut inserts = Vec::new();
        let mut rewritten = Vec::new();
        let mut changes = Vec::new();
        for row in accepted {
            let Some(owner) = owners.get(&row.email.key()) else {
                report
                    .errors
                    .push(unknown_client(row.line, "Email", row.email.as_str()));
                continue;
            };
            let Some(acc) = existing.get(row.account_number.as_str()) else {
                inserts.push(account::ActiveModel {
                    account_number: Set(row.account_number.as_str().to_owned()),
                    client_id: Set(owner.id),
                    product_id: Set(row.product_id),
                    currency: Set(row.currency.as_str().to_owned()),
                    created_at: Set(now),
                    ..Default::default()
                });
                continue;
            };
            if acc.client_id != owner.id {
                report.errors.push(refuse(
                    row.line,
                    Some("Account number"),
                    Some(row.account_number.as_str()),
                    format!(
                        "This account belongs to another client (ID {})",
                        acc.client_id
                    ),
                ));
                continue;
            }
            let mut change = Change {
                before: Map::new(),
                after: Map::new(),
            };
            // The whole row, so that the batch's updates are written as one upsert.
            let mut m = acc.clone().into_active_model().reset_all();
            if let Some(p) = change.set("product_id", acc.product_id, Some(row.product_id)) {
                m.product_id = Set(p);
            }
            if let Some(c) = change.set(
                "currency",
                acc.currency.clone(),
                Some(row.currency.as_str().to_owned()),
            ) {
                m.currency = Set(c);
            }
            if change.after.is_empty() {
                report.unchanged += 1;
                continue;
            }
            report.updated += 1;
            changes.push(change_record(
                self.job_id,
                "account",
                acc.id,
                "updated",
                Some(change),
            ));
            rewritten.push(m);
        }
        if !rewritten.is_empty() {
            let rewrite = OnConflict::column(account::Column::Id)
                .update_columns([account::Column::ProductId, account::Column::Currency])
                .to_owned();
            upsert_all(txn, rewritten, rewrite).await?;
        }
        if !inserts.is_empty() {
            let ids = insert_all_returning_keys(txn, inserts).await?;
            report.created += ids.len() as u64;
            changes.extend(
                ids.into_iter()
                    .map(|id| change_record(self.job_id, "account", id, "created", None)),
            );
        }
        if !changes.is_empty() {
            insert_all(txn, changes).await?;
        }
        Ok(report)
    }
}

/// Applies `import-ibs` rows: makes the partner a member of the program and, when a client
/// is named, records that client as the partner's referral in the program.
pub struct IbImport {
    job_id: i64,
}

impl IbImport {
    pub fn new(job_id: i64) -> Self {
        IbImport { job_id }
    }

    /// Applies a batch of rows inside `txn`, in file order (a later row may rely on a
    /// membership an earlier one created).
    pub async fn apply<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        rows: Vec<IbRow>,
    ) -> Result<BatchReport, DbErr> {
        let mut report = BatchReport::default();
        let keys = rows
            .iter()
            .flat_map(|r| {
                std::iter::once(r.ib_email.key()).chain(r.client_email.as_ref().map(|e| e.key()))
            })
            .collect();
        let clients = clients_by_email(txn, keys).await?;
        let program_ids: Vec<i64> = rows.iter().map(|r| r.program_id).collect();
        let programs: HashSet<i64> = if program_ids.is_empty() {
            HashSet::new()
        } else {
            ib_program::Entity::find()
                .filter(ib_program::Column::Id.is_in(program_ids))
                .all(txn)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect()
        };
        let now = chrono::Utc::now();
        let mut changes = Vec::new();
        for row in rows {
            let Some(partner) = clients.get(&row.ib_email.key()) else {
                report
                    .errors
                    .push(unknown_client(row.line, "IB Email", row.ib_email.as_str()));
                continue;
            };
            if !programs.contains(&row.program_id) {
                report.errors.push(refuse(
                    row.line,
                    Some("IB Type ID"),
                    Some(&row.program_id.to_string()),
                    format!("There is no IB program with ID {}", row.program_id),
                ));
                continue;
            }
            let referred = match &row.client_email {
                None => None,
                Some(email) => match clients.get(&email.key()) {
                    Some(c) => Some(c),
                    None => {
                        report.errors.push(unknown_client(
                            row.line,
                            "Client Email",
                            email.as_str(),
                        ));
                        continue;
                    }
                },
            };
            let existing_referral = match referred {
                Some(c) => {
                    referral::Entity::find()
                        .filter(referral::Column::ProgramId.eq(row.program_id))
                        .filter(referral::Column::ClientId.eq(c.id))
                        .one(txn)
                        .await?
                }
                None => None,
            };
            if let (Some(c), Some(r)) = (referred, &existing_referral)
                && r.ib_client_id != partner.id
            {
                report.errors.push(refuse(
                    row.line,
                    Some("Client Email"),
                    Some(&c.email),
                    format!("This client is already referred by another partner (client ID {}) in this program", r.ib_client_id),
                ));
                continue;
            }
            let membership = introducing_broker::Entity::find()
                .filter(introducing_broker::Column::ClientId.eq(partner.id))
                .filter(introducing_broker::Column::ProgramId.eq(row.program_id))
                .one(txn)
                .await?;
            let mut created = false;
            if membership.is_none() {
                let m = introducing_broker::ActiveModel {
                    client_id: Set(partner.id),
                    program_id: Set(row.program_id),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                changes.push(change_record(
                    self.job_id,
                    "introducing_broker",
                    m.id,
                    "created",
                    None,
                ));
                created = true;
            }
            if let (Some(c), None) = (referred, &existing_referral) {
                let r = referral::ActiveModel {
                    program_id: Set(row.program_id),
                    client_id: Set(c.id),
                    ib_client_id: Set(partner.id),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                changes.push(change_record(
                    self.job_id,
                    "referral",
                    r.id,
                    "created",
                    None,
                ));
                created = true;
            }
            if created {
                report.created += 1;
            } else {
                report.unchanged += 1;
            }
        }
        if !changes.is_empty() {
            insert_all(txn, changes).await?;
        }
        Ok(report)
    }
}

/// A username made from an email's local part: lower case letters, digits, `.`, `_`, `-`.
fn username_base(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email).to_lowercase();
    let base: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(40)
        .collect();
    if base.is_empty() {
        "client".to_owned()
    } else {
        base
    }
}

/// Applies `import-users` rows for one import job, batch by batch.
pub struct ClientImport {
    job_id: i64,
    directory: Directory,
    /// Emails (lower case) and ids met so far in this file, with their line.
    seen_emails: HashMap<String, u64>,
    seen_ids: HashMap<i64, u64>,
}

/// A change to one client: the fields and their values before and after.
struct Change {
    before: Map<String, Value>,
    after: Map<String, Value>,
}

impl Change {
    fn set<T: PartialEq + Into<Value> + Clone>(
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
}

impl ClientImport {
    pub async fn new<C: ConnectionTrait>(db: &C, job_id: i64) -> Result<Self, DbErr> {
        Ok(ClientImport {
            job_id,
            directory: Directory {
                projects: project::Entity::find().all(db).await?,
                desks: desk::Entity::find().all(db).await?,
            },
            seen_emails: HashMap::new(),
            seen_ids: HashMap::new(),
        })
    }

    /// Claims a row's id and email for this file; a second row with either is refused.
    fn claim(&mut self, row: &ClientRow) -> Result<(), ApplyError> {
        if let Some(id) = row.id
            && let Some(first) = self.seen_ids.get(&id)
        {
            return Err(refuse(
                row.line,
                Some("ID"),
                Some(&id.to_string()),
                format!("Client {id} is already on line {first} of this file"),
            ));
        }
        if let Some(email) = &row.email
            && let Some(first) = self.seen_emails.get(&email.key())
        {
            return Err(refuse(
                row.line,
                Some("Email"),
                Some(email.as_str()),
                format!(
                    "This email is already on line {first} of this file (emails are compared without regard to case)"
                ),
            ));
        }
        if let Some(id) = row.id {
            self.seen_ids.insert(id, row.line);
        }
        if let Some(email) = &row.email {
            self.seen_emails.insert(email.key(), row.line);
        }
        Ok(())
    }

    /// Remembers a row an earlier attempt of this job already applied (on resume), so a
    /// later duplicate of it is still refused.
    pub fn replay(&mut self, row: &ClientRow) {
        let _ = self.claim(row);
    }

    /// Applies a batch of rows inside `txn` (the caller commits it with the job's progress).
    pub async fn apply<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        rows: Vec<ClientRow>,
    ) -> Result<BatchReport, DbErr> {
        let mut report = BatchReport::default();
        let mut accepted = Vec::with_capacity(rows.len());
        for row in rows {
            match self
                .claim(&row)
                .and_then(|_| self.directory.placement(&row).map(|p| (row, p)))
            {
                Ok(ok) => accepted.push(ok),
                Err(e) => report.errors.push(e),
            }
        }

        // Everyone this batch could touch, in two queries.
        let ids: Vec<i64> = accepted.iter().filter_map(|(r, _)| r.id).collect();
        let keys: Vec<String> = accepted
            .iter()
            .filter_map(|(r, _)| r.email.as_ref().map(|e| e.key()))
            .collect();
        let mut by_id: HashMap<i64, client::Model> = HashMap::new();
        if !ids.is_empty() {
            for c in client::Entity::find()
                .filter(client::Column::Id.is_in(ids))
                .all(txn)
                .await?
            {
                by_id.insert(c.id, c);
            }
        }
        let by_email = clients_by_email(txn, keys).await?;

        let now = chrono::Utc::now();
        let mut creates: Vec<(ClientRow, (i64, i64))> = Vec::new();
        let mut updates: Vec<(u64, client::ActiveModel, Change)> = Vec::new();
        let mut usernames_wanted: HashSet<String> = HashSet::new();
        for (row, placement) in accepted {
            let existing = match (row.id, &row.email) {
                (Some(id), _) => match by_id.get(&id) {
                    Some(c) => Some(c.clone()),
                    None => {
                        report.errors.push(refuse(
                            row.line,
                            Some("ID"),
                            Some(&id.to_string()),
                            format!("There is no client with ID {id}"),
                        ));
                        continue;
                    }
                },
                (None, Some(email)) => by_email.get(&email.key()).cloned(),
                (None, None) => None,
            };
            let Some(existing) = existing else {
                if row.first_name.is_none() {
                    report.errors.push(refuse(
                        row.line,
                        Some("First name"),
                        None,
                        "`First name` is empty; it is needed to create a client".into(),
                    ));
                    continue;
                }
                if let Some(u) = &row.username {
                    usernames_wanted.insert(u.clone());
                }
                creates.push((row, placement.unwrap_or_else(|| self.default_placement())));
                continue;
            };
            // A new email (matched by ID) must not belong to someone else.
            if let Some(email) = &row.email
                && let Some(owner) = by_email.get(&email.key())
                && owner.id != existing.id
            {
                report.errors.push(refuse(
                    row.line,
                    Some("Email"),
                    Some(email.as_str()),
                    format!("This email belongs to another client (ID {})", owner.id),
                ));
                continue;
            }
            if let Some(u) = &row.username
                && *u != existing.username
            {
                usernames_wanted.insert(u.clone());
            }
            let (model, change) = self.diff(&existing, &row, placement, row.id.is_some());
            if change.after.is_empty() {
                report.unchanged += 1;
            } else {
                updates.push((row.line, model, change));
            }
        }

        // Usernames: the ones asked for must be free; generated ones are made unique.
        // Generated usernames are usually free as they are: settle those in the same query,
        // and search for a free suffix only when one is taken.
        let bases: Vec<String> = creates
            .iter()
            .filter(|(r, _)| r.username.is_none())
            .map(|(r, _)| username_base(r.email.as_ref().map_or("", |e| e.as_str())))
            .collect();
        usernames_wanted.extend(bases);
        let taken = self
            .taken_usernames(txn, usernames_wanted.into_iter().collect())
            .await?;
        let mut in_batch: HashSet<String> = HashSet::new();
        let mut new_clients = Vec::with_capacity(creates.len());
        for (row, (project_id, desk_id)) in creates {
            let username = match &row.username {
                Some(u) if taken.contains(u) || in_batch.contains(u) => {
                    report.errors.push(refuse(
                        row.line,
                        Some("Username"),
                        Some(u),
                        "This username is already used by another client".into(),
                    ));
                    continue;
                }
                Some(u) => u.clone(),
                None => {
                    let base = username_base(row.email.as_ref().map_or("", |e| e.as_str()));
                    if taken.contains(&base) || in_batch.contains(&base) {
                        self.free_username(txn, &base, &in_batch).await?
                    } else {
                        base
                    }
                }
            };
            in_batch.insert(username.clone());
            new_clients.push(client::ActiveModel {
                email: Set(row
                    .email
                    .as_ref()
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_default()),
                username: Set(username),
                first_name: Set(row.first_name.clone().unwrap_or_default()),
                middle_name: Set(row.middle_name.clone()),
                last_name: Set(row.last_name.clone()),
                date_of_birth: Set(row.date_of_birth),
                country: Set(row.country.map(|c| c.as_str().to_owned())),
                phone: Set(row.phone.as_ref().map(|p| p.as_str().to_owned())),
                address: Set(row.address.clone()),
                city: Set(row.city.clone()),
                postal_code: Set(row.postal_code.clone()),
                verification_level: Set(row.verification_level.unwrap_or(0)),
                project_id: Set(project_id),
                desk_id: Set(desk_id),
                active: Set(row.active.unwrap_or(true)),
                client_type: Set(row
                    .client_type
                    .map_or("personal", |t| t.as_str())
                    .to_owned()),
                created_at: Set(row.created_at.unwrap_or(now)),
                updated_at: Set(now),
                ..Default::default()
            });
        }
        let mut changes: Vec<import_change::ActiveModel> = Vec::new();
        if !new_clients.is_empty() {
            let ids = insert_all_returning_keys(txn, new_clients).await?;
            report.created += ids.len() as u64;
            changes.extend(
                ids.into_iter()
                    .map(|id| change_record(self.job_id, "client", id, "created", None)),
            );
        }
        let mut rewritten = Vec::with_capacity(updates.len());
        for (line, mut model, change) in updates {
            if let Some(u) = change.after.get("username").and_then(Value::as_str)
                && (taken.contains(u) || in_batch.contains(u))
            {
                report.errors.push(refuse(
                    line,
                    Some("Username"),
                    Some(u),
                    "This username is already used by another client".into(),
                ));
                continue;
            }
            model.updated_at = Set(now);
            report.updated += 1;
            if let sea_orm::ActiveValue::Set(id) = model.id {
                changes.push(change_record(
                    self.job_id,
                    "client",
                    id,
                    "updated",
                    Some(change),
                ));
            }
            rewritten.push(model);
        }
        // The batch's updates as one upsert (split only at the bind limit): each row is
        // written whole, as it was read with this row's changes applied.
        if !rewritten.is_empty() {
            let rewrite = OnConflict::column(client::Column::Id)
                .update_columns(client::Column::iter().filter(|c| !matches!(c, client::Column::Id)))
                .to_owned();
            upsert_all(txn, rewritten, rewrite).await?;
        }
        if !changes.is_empty() {
            insert_all(txn, changes).await?;
        }
        Ok(report)
    }

    fn default_placement(&self) -> (i64, i64) {
        let project = self.directory.project("Default").map_or(0, |p| p.id);
        (
            project,
            self.directory.default_desk(project).map_or(0, |d| d.id),
        )
    }

    /// The fields of `row` that differ from `existing`, as an update and a change record.
    /// The email changes only for a row matched by ID; matched by email, it is the key.
    fn diff(
        &self,
        existing: &client::Model,
        row: &ClientRow,
        placement: Option<(i64, i64)>,
        matched_by_id: bool,
    ) -> (client::ActiveModel, Change) {
        let mut change = Change {
            before: Map::new(),
            after: Map::new(),
        };
        // The whole row, so that a batch's updates can be written as one upsert.
        let mut m = existing.clone().into_active_model().reset_all();
        let new_email = row.email.as_ref().filter(|_| matched_by_id);
        if let Some(v) = change.set(
            "email",
            existing.email.clone(),
            new_email.map(|e| e.as_str().to_owned()),
        ) {
            m.email = Set(v);
        }
        if let Some(v) = change.set("username", existing.username.clone(), row.username.clone()) {
            m.username = Set(v);
        }
        if let Some(v) = change.set(
            "first_name",
            existing.first_name.clone(),
            row.first_name.clone(),
        ) {
            m.first_name = Set(v);
        }
        // Nullable text: `None` in the record stands for an empty field.
        let nullable = |v: Option<&str>| v.map(|t| Some(t.to_owned()));
        if let Some(v) = change.set(
            "middle_name",
            existing.middle_name.clone(),
            nullable(row.middle_name.as_deref()),
        ) {
            m.middle_name = Set(v);
        }
        if let Some(v) = change.set(
            "last_name",
            existing.last_name.clone(),
            nullable(row.last_name.as_deref()),
        ) {
            m.last_name = Set(v);
        }
        if let Some(v) = change.set(
            "address",
            existing.address.clone(),
            nullable(row.address.as_deref()),
        ) {
            m.address = Set(v);
        }
        if let Some(v) = change.set("city", existing.city.clone(), nullable(row.city.as_deref())) {
            m.city = Set(v);
        }
        if let Some(v) = change.set(
            "postal_code",
            existing.postal_code.clone(),
            nullable(row.postal_code.as_deref()),
        ) {
            m.postal_code = Set(v);
        }
        if let Some(v) = change.set(
            "country",
            existing.country.clone(),
            nullable(row.country.as_ref().map(|c| c.as_str())),
        ) {
            m.country = Set(v);
        }
        if let Some(v) = change.set(
            "phone",
            existing.phone.clone(),
            nullable(row.phone.as_ref().map(|p| p.as_str())),
        ) {
            m.phone = Set(v);
        }
        if let Some(new) = row
            .date_of_birth
            .filter(|n| Some(*n) != existing.date_of_birth)
        {
            change.before.insert(
                "date_of_birth".into(),
                existing
                    .date_of_birth
                    .map_or(Value::Null, |d| json!(d.to_string())),
            );
            change
                .after
                .insert("date_of_birth".into(), json!(new.to_string()));
            m.date_of_birth = Set(Some(new));
        }
        if let Some(v) = change.set(
            "verification_level",
            existing.verification_level,
            row.verification_level,
        ) {
            m.verification_level = Set(v);
        }
        if let Some(v) = change.set("active", existing.active, row.active) {
            m.active = Set(v);
        }
        if let Some(v) = change.set(
            "type",
            existing.client_type.clone(),
            row.client_type.map(|t| t.as_str().to_owned()),
        ) {
            m.client_type = Set(v);
        }
        if let Some((project_id, desk_id)) = placement {
            if let Some(v) = change.set("project_id", existing.project_id, Some(project_id)) {
                m.project_id = Set(v);
            }
            if let Some(v) = change.set("desk_id", existing.desk_id, Some(desk_id)) {
                m.desk_id = Set(v);
            }
        }
        if let Some(new) = row.created_at.filter(|n| *n != existing.created_at) {
            change
                .before
                .insert("created_at".into(), json!(existing.created_at.to_rfc3339()));
            change
                .after
                .insert("created_at".into(), json!(new.to_rfc3339()));
            m.created_at = Set(new);
        }
        (m, change)
    }

    async fn taken_usernames<C: ConnectionTrait>(
        &self,
        txn: &C,
        wanted: Vec<String>,
    ) -> Result<HashSet<String>, DbErr> {
        if wanted.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(client::Entity::find()
            .filter(client::Column::Username.is_in(wanted))
            .all(txn)
            .await?
            .into_iter()
            .map(|c| c.username)
            .collect())
    }

    /// `base2`, `base3` … : the first not used in the database or this batch (for a
    /// base that is taken; one query each).
    async fn free_username<C: ConnectionTrait>(
        &self,
        txn: &C,
        base: &str,
        in_batch: &HashSet<String>,
    ) -> Result<String, DbErr> {
        let used: HashSet<String> = client::Entity::find()
            .filter(client::Column::Username.starts_with(base))
            .all(txn)
            .await?
            .into_iter()
            .map(|c| c.username)
            .collect();
        let free = |u: &String| !used.contains(u) && !in_batch.contains(u);
        let mut candidate = base.to_owned();
        let mut n = 1;
        while !free(&candidate) {
            n += 1;
            candidate = format!("{base}{n}");
        }
        Ok(candidate)
    }
}
