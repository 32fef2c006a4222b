//! `import-users` (SPEC §3.1): a row updates the client it names (by `ID`, else by email)
//! or creates one. A batch costs a handful of statements whatever its size: one look-up
//! of the batch's emails, one of the usernames it wants, the inserts (SQLite: multi-row
//! `VALUES`; PostgreSQL: one array a column of up to 2,500 clients, unnested), and one
//! `UPDATE … FROM (VALUES …)` per set of changed columns.
//!
//! Statements are written by hand with a fixed text for a given number of rows, so the
//! driver prepares each once per connection and reuses it for every batch.

use super::extras::{self, CHANGE_PREFIX};
use super::{ApplyError, BatchReport, Directory, outside_desks, refuse};
use crate::entities::{client, desk, import_change, project};
use crate::import::validate::ClientRow;
use crate::jobs::changes::{Change, ClientField, Entity, created_records, record_updates};
use crate::jobs::write::insert_all;
use crate::model::Desks;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, SqlErr, Statement,
    TransactionSession, TransactionTrait, Value as DbValue,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

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

/// The username a new client's row asks for, or the one it would be given first.
fn wanted_username(row: &ClientRow) -> String {
    match &row.username {
        Some(u) => u.clone(),
        None => username_base(row.email.as_ref().map_or("", |e| e.as_str())),
    }
}

/// A row that would create a client without a first name.
fn no_first_name(line: u64) -> ApplyError {
    refuse(
        line,
        Some("First name"),
        None,
        "`First name` is empty; it is needed to create a client".into(),
    )
}

/// A row asking for a username another client has.
fn username_taken(line: u64, username: &str) -> ApplyError {
    refuse(
        line,
        Some("Username"),
        Some(username),
        "This username is already used by another client".into(),
    )
}

/// Usernames checked at once when a base is taken: `base2` … `base65`.
const SUFFIXES_PER_LOOKUP: u32 = 64;

/// Rows in one multi-row statement: 18 columns × 1,000 rows stays under SQLite's 32,766
/// bound values and PostgreSQL's 65,535.
const ROWS_PER_STATEMENT: usize = 1_000;

/// The columns a new client is inserted with, in the order of [`NewClient::values`].
const INSERT_COLUMNS: &str = "email, username, first_name, middle_name, last_name, \
    date_of_birth, country, phone, address, city, postal_code, verification_level, \
    project_id, desk_id, active, type, created_at, updated_at";
const INSERT_WIDTH: usize = 18;

/// Applies `import-users` rows for one import job, batch by batch.
pub struct ClientImport {
    job_id: i64,
    directory: Directory,
    /// The next suffix to try for a username base found taken, so that a file of many
    /// `info@…` addresses does not search from `info2` again for every row.
    next_suffix: HashMap<String, u32>,
    /// Time spent in each step of the batches so far, for the job's timing log.
    pub timings: ClientTimings,
    /// The table held no clients when this job started (and this is its first attempt):
    /// every row creates a client, so batches are written without looking anything up,
    /// and a batch falls back to looking up when a statement finds an email or username
    /// taken after all (another import wrote it meanwhile).
    pub fresh: bool,
    /// No email of the file can be in the table (a bulk load into an empty table: nothing
    /// else writes, and the file's emails were checked against each other), and the
    /// unique email index is gone meanwhile. A username clash then does not end the fresh
    /// path: the batch is redone with its usernames looked up, and so are those after it.
    pub emails_new: bool,
    /// Fresh batches look their usernames up (after a clash, when `emails_new`).
    look_up_usernames: bool,
}

/// Where a client import's writing time goes.
#[derive(Clone, Debug, Default)]
pub struct ClientTimings {
    pub look_up: std::time::Duration,
    pub usernames: std::time::Duration,
    pub insert: std::time::Duration,
    pub update: std::time::Duration,
    pub record: std::time::Duration,
}

/// A client about to be inserted.
struct NewClient<'a> {
    email: String,
    username: String,
    row: &'a ClientRow,
    placement: (i64, i64),
}

/// A client about to be updated: the columns that change and their new values.
struct Rewrite {
    line: u64,
    id: i64,
    columns: Vec<(ClientField, DbValue)>,
    /// Extra attributes that are new or change: name and value.
    extras: Vec<(String, String)>,
    change: Change,
}

impl ClientImport {
    /// An import for job `job_id` by a user who works with the clients of `within`.
    pub async fn new<C: ConnectionTrait>(
        db: &C,
        job_id: i64,
        within: Desks,
    ) -> Result<Self, DbErr> {
        Ok(ClientImport {
            job_id,
            directory: Directory {
                projects: project::Entity::find().all(db).await?,
                desks: desk::Entity::find().all(db).await?,
                within,
            },
            next_suffix: HashMap::new(),
            timings: ClientTimings::default(),
            fresh: false,
            emails_new: false,
            look_up_usernames: false,
        })
    }

    /// Applies a batch of rows inside `txn` (the caller commits it with the job's
    /// progress). Rows repeating an email or id of the file were refused before.
    pub async fn apply<C: ConnectionTrait + TransactionTrait>(
        &mut self,
        txn: &C,
        rows: Vec<ClientRow>,
    ) -> Result<BatchReport, DbErr> {
        if self.fresh && rows.iter().all(|r| r.id.is_none()) {
            let clock = std::time::Instant::now();
            loop {
                // A batch redone must choose the same suffixes as if it ran once.
                let suffixes = self.next_suffix.clone();
                let trial = txn.begin().await?;
                let written = self.apply_fresh(&trial, &rows).await?;
                match written {
                    Some(report) => {
                        trial.commit().await?;
                        self.timings.insert += clock.elapsed();
                        return Ok(report);
                    }
                    None if self.emails_new && !self.look_up_usernames => {
                        trial.rollback().await?;
                        self.next_suffix = suffixes;
                        self.look_up_usernames = true;
                        tracing::info!(
                            job_id = self.job_id,
                            "a username of a batch was taken: usernames are looked up from now on"
                        );
                    }
                    None => {
                        trial.rollback().await?;
                        self.next_suffix = suffixes;
                        if self.emails_new {
                            // Only the username index is left to clash on, and usernames
                            // were looked up: something else writes after all.
                            return Err(DbErr::Custom(
                                "a client was written by someone else during a bulk load".into(),
                            ));
                        }
                        self.fresh = false;
                        tracing::info!(
                            job_id = self.job_id,
                            "an email or username of a batch was taken: clients are looked up from now on"
                        );
                        break;
                    }
                }
            }
        }
        let backend = txn.get_database_backend();
        let clock = std::time::Instant::now();
        let mut report = BatchReport::default();
        let mut accepted = Vec::with_capacity(rows.len());
        for row in rows {
            match self.directory.placement(&row) {
                Ok(p) => accepted.push((row, p)),
                Err(e) => report.errors.push(e),
            }
        }

        // Everyone this batch could touch, in two queries.
        let ids: Vec<i64> = accepted.iter().filter_map(|(r, _)| r.id).collect();
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
        let keys: Vec<String> = accepted
            .iter()
            .filter_map(|(r, _)| r.email.as_ref().map(|e| e.key()))
            .collect();
        let by_email = clients_by_email_keys(txn, &keys).await?;
        // The extra attributes of the clients that rows with extra attributes update.
        let with_extras: Vec<i64> = accepted
            .iter()
            .filter(|(r, _)| !r.extra.is_empty())
            .filter_map(|(r, _)| match (r.id, &r.email) {
                (Some(id), _) => by_id.get(&id).map(|c| c.id),
                (None, Some(email)) => by_email.get(&email.key()).map(|c| c.id),
                (None, None) => None,
            })
            .collect();
        let attributes = extras::of_clients(txn, &with_extras).await?;

        let mut creates: Vec<(ClientRow, (i64, i64))> = Vec::new();
        let mut updates: Vec<Rewrite> = Vec::new();
        let mut usernames_wanted: HashSet<String> = HashSet::new();
        for (row, placement) in accepted {
            let existing = match (row.id, &row.email) {
                (Some(id), _) => match by_id.get(&id) {
                    Some(c) => Some(c),
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
                (None, Some(email)) => by_email.get(&email.key()),
                (None, None) => None,
            };
            let Some(existing) = existing else {
                if row.first_name.is_none() {
                    report.errors.push(no_first_name(row.line));
                    continue;
                }
                let placement = placement.unwrap_or_else(|| self.default_placement());
                if let Some(e) = self.directory.refuse_outside(row.line, placement.1) {
                    report.errors.push(e);
                    continue;
                }
                usernames_wanted.insert(wanted_username(&row));
                creates.push((row, placement));
                continue;
            };
            // The client must be on one of the initiator's desks, and stay there.
            if !self.directory.within.allows(existing.desk_id) {
                report.errors.push(match (row.id, &row.email) {
                    (Some(id), _) => outside_desks(row.line, "ID", &id.to_string()),
                    (None, email) => outside_desks(
                        row.line,
                        "Email",
                        email.as_ref().map(|e| e.as_str()).unwrap_or_default(),
                    ),
                });
                continue;
            }
            if let Some(e) =
                placement.and_then(|(_, desk)| self.directory.refuse_outside(row.line, desk))
            {
                report.errors.push(e);
                continue;
            }
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
            let mut rewrite = diff(existing, &row, placement, row.id.is_some());
            diff_extras(&mut rewrite, attributes.get(&existing.id), row.extra);
            if rewrite.change.is_empty() {
                report.unchanged += 1;
            } else {
                updates.push(rewrite);
            }
        }

        // Usernames: the ones asked for must be free; generated ones are made unique.
        // Generated usernames are usually free as they are: settle those in the same
        // query, and search for a free suffix only when one is taken.
        let looked_up = clock.elapsed();
        let wanted: Vec<String> = usernames_wanted.into_iter().collect();
        let taken = taken_usernames(txn, &wanted).await?;
        let mut in_batch: HashSet<String> = HashSet::new();
        let mut new_clients = Vec::with_capacity(creates.len());
        for (row, placement) in &creates {
            match self
                .new_client(Some(txn), row, *placement, &taken, &mut in_batch)
                .await?
            {
                Ok(c) => new_clients.push(c),
                Err(e) => report.errors.push(e),
            }
        }
        let named = clock.elapsed();
        let now = chrono::Utc::now();
        let mut changes: Vec<import_change::ActiveModel> = Vec::new();
        if !new_clients.is_empty() {
            let mut new_extras = Vec::new();
            let ids = insert_clients(txn, backend, &new_clients, now, &mut new_extras).await?;
            extras::write(txn, &new_extras).await?;
            report.created += ids.len() as u64;
            changes.extend(created_records(self.job_id, Entity::Client, ids));
        }
        let inserted = clock.elapsed();
        let mut rewritten = Vec::with_capacity(updates.len());
        for rewrite in updates {
            if let Some(u) = rewrite.change.after.get("username").and_then(Value::as_str)
                && (taken.contains(u) || in_batch.contains(u))
            {
                report.errors.push(username_taken(rewrite.line, u));
                continue;
            }
            report.updated += 1;
            rewritten.push(rewrite);
        }
        update_clients(txn, backend, &mut rewritten, now).await?;
        let changed_extras: Vec<(i64, String, String)> = rewritten
            .iter_mut()
            .flat_map(|r| {
                let id = r.id;
                r.extras
                    .drain(..)
                    .map(move |(name, value)| (id, name, value))
            })
            .collect();
        extras::write(txn, &changed_extras).await?;
        let updated = clock.elapsed();
        if !changes.is_empty() {
            insert_all(txn, changes).await?;
        }
        let updates = rewritten.into_iter().map(|r| (r.id, r.change)).collect();
        record_updates(txn, self.job_id, Entity::Client, updates).await?;
        let t = &mut self.timings;
        t.look_up += looked_up;
        t.usernames += named - looked_up;
        t.insert += inserted - named;
        t.update += updated - inserted;
        t.record += clock.elapsed() - updated;
        Ok(report)
    }

    /// A batch into a table that held no clients when the job started: every row creates
    /// a client. `None` when a row's email or username turned out taken (nothing of the
    /// batch is then kept by the caller).
    async fn apply_fresh<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        rows: &[ClientRow],
    ) -> Result<Option<BatchReport>, DbErr> {
        let backend = txn.get_database_backend();
        let mut report = BatchReport::default();
        let mut in_batch: HashSet<String> = HashSet::new();
        let mut new_clients = Vec::with_capacity(rows.len());
        let taken = if self.look_up_usernames {
            let wanted: HashSet<String> = rows.iter().map(wanted_username).collect();
            taken_usernames(txn, &wanted.into_iter().collect::<Vec<_>>()).await?
        } else {
            HashSet::new()
        };
        let db = self.look_up_usernames.then_some(txn);
        for row in rows {
            let placement = match self.directory.placement(row) {
                Ok(p) => p.unwrap_or_else(|| self.default_placement()),
                Err(e) => {
                    report.errors.push(e);
                    continue;
                }
            };
            if let Some(e) = self.directory.refuse_outside(row.line, placement.1) {
                report.errors.push(e);
                continue;
            }
            if row.first_name.is_none() {
                report.errors.push(no_first_name(row.line));
                continue;
            }
            // The table held no clients: only this batch can hold a username (a clash
            // with an earlier batch fails the insert, and the batch is redone), unless
            // usernames are looked up.
            match self
                .new_client(db, row, placement, &taken, &mut in_batch)
                .await?
            {
                Ok(c) => new_clients.push(c),
                Err(e) => report.errors.push(e),
            }
        }
        let now = chrono::Utc::now();
        let mut new_extras = Vec::new();
        let ids = match insert_clients(txn, backend, &new_clients, now, &mut new_extras).await {
            Ok(ids) => ids,
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        extras::write(txn, &new_extras).await?;
        report.created = ids.len() as u64;
        insert_all(txn, created_records(self.job_id, Entity::Client, ids)).await?;
        Ok(Some(report))
    }

    fn default_placement(&self) -> (i64, i64) {
        let project = self.directory.project("Default").map_or(0, |p| p.id);
        (
            project,
            self.directory.default_desk(project).map_or(0, |d| d.id),
        )
    }

    /// The client `row` creates, with its username (see [`Self::new_username`]), which
    /// is then remembered in `in_batch`; or the row's error when the username it asks
    /// for is taken.
    async fn new_client<'r, C: ConnectionTrait>(
        &mut self,
        db: Option<&C>,
        row: &'r ClientRow,
        placement: (i64, i64),
        taken: &HashSet<String>,
        in_batch: &mut HashSet<String>,
    ) -> Result<Result<NewClient<'r>, ApplyError>, DbErr> {
        let email = row
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        let Some(username) = self.new_username(db, row, &email, taken, in_batch).await? else {
            return Ok(Err(username_taken(
                row.line,
                row.username.as_deref().unwrap_or_default(),
            )));
        };
        in_batch.insert(username.clone());
        Ok(Ok(NewClient {
            email,
            username,
            row,
            placement,
        }))
    }

    /// The username of a new client: the one its row asks for, `None` when that one is
    /// `taken` or used earlier in the batch; else one made from its email, unique.
    /// `db` is where other clients' usernames are looked up (`None`: nowhere).
    async fn new_username<C: ConnectionTrait>(
        &mut self,
        db: Option<&C>,
        row: &ClientRow,
        email: &str,
        taken: &HashSet<String>,
        in_batch: &HashSet<String>,
    ) -> Result<Option<String>, DbErr> {
        let used = |u: &str| taken.contains(u) || in_batch.contains(u);
        if let Some(u) = &row.username {
            return Ok((!used(u)).then(|| u.clone()));
        }
        let base = username_base(email);
        if !used(&base) {
            return Ok(Some(base));
        }
        self.free_username(db, base, in_batch).await.map(Some)
    }

    /// `base2`, `base3` … : the first not used in the database or this batch (for a
    /// base that is taken). Looks candidates up a block at a time through the unique
    /// index of `db`, starting where the last search for this base ended.
    async fn free_username<C: ConnectionTrait>(
        &mut self,
        db: Option<&C>,
        base: String,
        in_batch: &HashSet<String>,
    ) -> Result<String, DbErr> {
        let mut n = self.next_suffix.get(&base).copied().unwrap_or(2);
        loop {
            let candidates: Vec<String> = (n..n + SUFFIXES_PER_LOOKUP)
                .map(|k| format!("{base}{k}"))
                .collect();
            let taken = match db {
                Some(db) => taken_usernames(db, &candidates).await?,
                None => HashSet::new(),
            };
            for (k, candidate) in (n..).zip(candidates) {
                if !taken.contains(&candidate) && !in_batch.contains(&candidate) {
                    self.next_suffix.insert(base, k + 1);
                    return Ok(candidate);
                }
            }
            n += SUFFIXES_PER_LOOKUP;
        }
    }
}

/// Adds to `rewrite` the extra attributes of a row that are new or differ from the
/// client's (`existing`), each recorded in the change under `extra:NAME` (previously
/// absent: `null`, which a revert turns into removing it). An empty cell changes nothing.
fn diff_extras(
    rewrite: &mut Rewrite,
    existing: Option<&HashMap<String, String>>,
    extra: Vec<(String, String)>,
) {
    for (name, value) in extra {
        let old = existing.and_then(|e| e.get(&name));
        if old == Some(&value) {
            continue;
        }
        let key = format!("{CHANGE_PREFIX}{name}");
        rewrite.change.before.insert(
            key.clone(),
            old.map_or(Value::Null, |o| Value::from(o.clone())),
        );
        rewrite.change.after.insert(key, Value::from(value.clone()));
        rewrite.extras.push((name, value));
    }
}

/// The fields of `row` that differ from `existing`, as the columns to write and a change
/// record. The email changes only for a row matched by ID; matched by email, it is the key.
fn diff(
    existing: &client::Model,
    row: &ClientRow,
    placement: Option<(i64, i64)>,
    matched_by_id: bool,
) -> Rewrite {
    let mut change = Change::default();
    let mut columns: Vec<(ClientField, DbValue)> = Vec::new();
    let mut text = |field: ClientField, old: &str, new: Option<&str>| {
        if let Some(v) = change.set(field.name(), old.to_owned(), new.map(str::to_owned)) {
            columns.push((field, DbValue::from(v)));
        }
    };
    let new_email = row.email.as_ref().filter(|_| matched_by_id);
    text(
        ClientField::Email,
        &existing.email,
        new_email.map(|e| e.as_str()),
    );
    text(
        ClientField::Username,
        &existing.username,
        row.username.as_deref(),
    );
    text(
        ClientField::FirstName,
        &existing.first_name,
        row.first_name.as_deref(),
    );
    text(
        ClientField::Type,
        existing.client_type.as_str(),
        row.client_type.map(|t| t.as_str()),
    );
    // Nullable text: `None` in the record stands for an empty field, and an empty cell
    // changes nothing.
    let mut nullable = |field: ClientField, old: &Option<String>, new: Option<&str>| {
        if let Some(v) = change.set(field.name(), old.clone(), new.map(|t| Some(t.to_owned()))) {
            columns.push((field, DbValue::from(v)));
        }
    };
    nullable(
        ClientField::MiddleName,
        &existing.middle_name,
        row.middle_name.as_deref(),
    );
    nullable(
        ClientField::LastName,
        &existing.last_name,
        row.last_name.as_deref(),
    );
    nullable(
        ClientField::Address,
        &existing.address,
        row.address.as_deref(),
    );
    nullable(ClientField::City, &existing.city, row.city.as_deref());
    nullable(
        ClientField::PostalCode,
        &existing.postal_code,
        row.postal_code.as_deref(),
    );
    nullable(
        ClientField::Country,
        &existing.country,
        row.country.as_ref().map(|c| c.as_str()),
    );
    nullable(
        ClientField::Phone,
        &existing.phone,
        row.phone.as_ref().map(|p| p.as_str()),
    );
    if let Some(v) = change.set_date(
        ClientField::DateOfBirth.name(),
        existing.date_of_birth,
        row.date_of_birth,
    ) {
        columns.push((ClientField::DateOfBirth, DbValue::from(Some(v))));
    }
    if let Some(v) = change.set(
        ClientField::VerificationLevel.name(),
        existing.verification_level,
        row.verification_level,
    ) {
        columns.push((ClientField::VerificationLevel, DbValue::from(v)));
    }
    if let Some(v) = change.set(ClientField::Active.name(), existing.active, row.active) {
        columns.push((ClientField::Active, DbValue::from(v)));
    }
    if let Some((project_id, desk_id)) = placement {
        if let Some(v) = change.set(
            ClientField::ProjectId.name(),
            existing.project_id,
            Some(project_id),
        ) {
            columns.push((ClientField::ProjectId, DbValue::from(v)));
        }
        if let Some(v) = change.set(ClientField::DeskId.name(), existing.desk_id, Some(desk_id)) {
            columns.push((ClientField::DeskId, DbValue::from(v)));
        }
    }
    if let Some(v) = change.set_timestamp(
        ClientField::CreatedAt.name(),
        existing.created_at,
        row.created_at,
    ) {
        columns.push((ClientField::CreatedAt, DbValue::from(v)));
    }
    Rewrite {
        line: row.line,
        id: existing.id,
        columns,
        extras: Vec::new(),
        change,
    }
}

/// `?` on SQLite, `$n` on PostgreSQL.
fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// `lower(email)` as the unique index holds it (PostgreSQL: in byte order, so that the one
/// index also serves searches by prefix).
fn email_key_expr(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("lower({column}) COLLATE \"C\""),
        _ => format!("lower({column})"),
    }
}

/// The texts of a JSON array parameter, as a table of one column `value`.
fn json_texts(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "json_array_elements_text($1::json) AS k(value)",
        _ => "json_each(?) AS k",
    }
}

/// Clients whose lower-case email is one of `keys`, by that key: one statement with one
/// parameter (a JSON array), walking the unique email index once per key.
pub(crate) async fn clients_by_email_keys<C: ConnectionTrait>(
    txn: &C,
    keys: &[String],
) -> Result<HashMap<String, client::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = txn.get_database_backend();
    let key_value = match backend {
        DbBackend::Postgres => "k.value COLLATE \"C\"",
        _ => "k.value",
    };
    let sql = format!(
        "SELECT c.* FROM {} JOIN client c ON {} = {key_value}",
        json_texts(backend),
        email_key_expr(backend, "c.email"),
    );
    let keys = serde_json::to_string(keys).map_err(|e| DbErr::Custom(e.to_string()))?;
    let found = client::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, [keys.into()]))
        .all(txn)
        .await?;
    Ok(found
        .into_iter()
        .map(|c| (crate::model::fold_case(&c.email), c))
        .collect())
}

/// Which of `wanted` are usernames of existing clients.
async fn taken_usernames<C: ConnectionTrait>(
    txn: &C,
    wanted: &[String],
) -> Result<HashSet<String>, DbErr> {
    if wanted.is_empty() {
        return Ok(HashSet::new());
    }
    let backend = txn.get_database_backend();
    let sql = format!(
        "SELECT c.username FROM {} JOIN client c ON c.username = k.value",
        json_texts(backend)
    );
    let wanted = serde_json::to_string(wanted).map_err(|e| DbErr::Custom(e.to_string()))?;
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [wanted.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "username"))
        .collect()
}

/// How many of `left` rows the next multi-row statement takes: [`ROWS_PER_STATEMENT`], or
/// for the rest a power of two. The database keeps every statement it prepared (each
/// statement of a thousand rows takes a megabyte or two): with sizes from this short list a
/// job prepares at most a dozen, whatever the sizes of its batches.
pub(super) fn statement_rows(left: usize) -> usize {
    if left >= ROWS_PER_STATEMENT {
        ROWS_PER_STATEMENT
    } else {
        1 << left.ilog2()
    }
}

/// `INSERT INTO client … VALUES (…), …` for `rows` rows, on SQLite (PostgreSQL has
/// [`postgres_insert_sql`]). SQLite numbers new rows one after another under its single
/// write lock, so the ids are the `rows` ending at the last inserted one and nothing needs
/// to come back.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(64 + rows * INSERT_WIDTH * 2);
    sql.push_str("INSERT INTO client (");
    sql.push_str(INSERT_COLUMNS);
    sql.push_str(") VALUES ");
    for i in 0..rows {
        sql.push_str(if i == 0 { "(" } else { ",(" });
        for k in 0..INSERT_WIDTH {
            sql.push_str(if k == 0 { "?" } else { ",?" });
        }
        sql.push(')');
    }
    sql
}

/// New clients a PostgreSQL statement takes at most.
const PG_ROWS_PER_STATEMENT: usize = 2_500;

/// PostgreSQL's insert: the clients come as one array a column, bound in the driver's
/// binary format, and `unnest` turns them back into rows. The statement has a fixed text
/// whatever the number of rows, so PostgreSQL parses and plans it once per connection;
/// reading binary arrays costs it less than parsing JSON (in a measurement on this
/// schema, 1,000,000 rows in 2,500-row statements: 15.8 s against 20.1 s for
/// `json_to_recordset`, 14.4 s for `COPY`).
///
/// The driver binds arrays without NULL elements, so a nullable column is sent with a
/// placeholder and the last array, a bit mask a row, says which of them are NULL
/// (middle name, last name, date of birth, country, phone, address, city, postal code).
fn postgres_insert_sql() -> String {
    let columns: Vec<String> = ["m", "l", "d", "co", "ph", "ad", "ci", "pc"]
        .iter()
        .enumerate()
        .map(|(bit, c)| format!("CASE WHEN n & {} = 0 THEN {c} END", 1 << bit))
        .collect();
    format!(
        "INSERT INTO client ({INSERT_COLUMNS}) SELECT e, u, f, {}, v, p, dk, ac, t, ca, $18 \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::integer[], \
         $13::bigint[], $14::bigint[], $15::boolean[], $16::text[], $17::timestamptz[], \
         $19::integer[]) AS r(e, u, f, m, l, d, co, ph, ad, ci, pc, v, p, dk, ac, t, ca, n) \
         RETURNING id",
        columns.join(", ")
    )
}

/// A nullable column of [`postgres_insert_sql`]: its values, a default where a client has
/// none, and that client's bit `bit` set in `nulls`.
fn nullable<T: Default>(
    clients: &[&NewClient<'_>],
    nulls: &mut [i32],
    bit: usize,
    value: impl Fn(&NewClient<'_>) -> Option<T>,
) -> Vec<T> {
    clients
        .iter()
        .zip(nulls.iter_mut())
        .map(|(c, mask)| {
            value(c).unwrap_or_else(|| {
                *mask |= 1 << bit;
                T::default()
            })
        })
        .collect()
}

/// The bound values of [`postgres_insert_sql`] for `clients`.
fn postgres_insert_values(
    clients: &[&NewClient<'_>],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<DbValue> {
    let n = clients.len();
    let texts = |f: &dyn Fn(&NewClient<'_>) -> String| -> DbValue {
        DbValue::from(clients.iter().map(|c| f(c)).collect::<Vec<String>>())
    };
    let mut nulls = vec![0i32; n];
    let middle = nullable(clients, &mut nulls, 0, |c| c.row.middle_name.clone());
    let last = nullable(clients, &mut nulls, 1, |c| c.row.last_name.clone());
    let birth = nullable(clients, &mut nulls, 2, |c| c.row.date_of_birth);
    let country = nullable(clients, &mut nulls, 3, |c| {
        c.row.country.map(|c| c.as_str().to_owned())
    });
    let phone = nullable(clients, &mut nulls, 4, |c| {
        c.row.phone.as_ref().map(|p| p.as_str().to_owned())
    });
    let address = nullable(clients, &mut nulls, 5, |c| c.row.address.clone());
    let city = nullable(clients, &mut nulls, 6, |c| c.row.city.clone());
    let postal = nullable(clients, &mut nulls, 7, |c| c.row.postal_code.clone());
    vec![
        texts(&|c| c.email.clone()),
        texts(&|c| c.username.clone()),
        texts(&|c| c.row.first_name.clone().unwrap_or_default()),
        middle.into(),
        last.into(),
        birth.into(),
        country.into(),
        phone.into(),
        address.into(),
        city.into(),
        postal.into(),
        DbValue::from(
            clients
                .iter()
                .map(|c| c.row.verification_level.unwrap_or(0))
                .collect::<Vec<i32>>(),
        ),
        DbValue::from(clients.iter().map(|c| c.placement.0).collect::<Vec<i64>>()),
        DbValue::from(clients.iter().map(|c| c.placement.1).collect::<Vec<i64>>()),
        DbValue::from(
            clients
                .iter()
                .map(|c| c.row.active.unwrap_or(true))
                .collect::<Vec<bool>>(),
        ),
        texts(&|c| {
            c.row
                .client_type
                .map_or("personal", |t| t.as_str())
                .to_owned()
        }),
        DbValue::from(
            clients
                .iter()
                .map(|c| c.row.created_at.unwrap_or(now))
                .collect::<Vec<chrono::DateTime<chrono::Utc>>>(),
        ),
        DbValue::from(now),
        DbValue::from(nulls),
    ]
}

/// The values of one new client, in the order of [`INSERT_COLUMNS`].
fn client_values(c: &NewClient, now: chrono::DateTime<chrono::Utc>, values: &mut Vec<DbValue>) {
    let row = &c.row;
    values.extend([
        DbValue::from(c.email.clone()),
        DbValue::from(c.username.clone()),
        DbValue::from(row.first_name.clone().unwrap_or_default()),
        DbValue::from(row.middle_name.clone()),
        DbValue::from(row.last_name.clone()),
        DbValue::from(row.date_of_birth),
        DbValue::from(row.country.map(|c| c.as_str().to_owned())),
        DbValue::from(row.phone.as_ref().map(|p| p.as_str().to_owned())),
        DbValue::from(row.address.clone()),
        DbValue::from(row.city.clone()),
        DbValue::from(row.postal_code.clone()),
        DbValue::from(row.verification_level.unwrap_or(0)),
        DbValue::from(c.placement.0),
        DbValue::from(c.placement.1),
        DbValue::from(row.active.unwrap_or(true)),
        DbValue::from(
            row.client_type
                .map_or("personal", |t| t.as_str())
                .to_owned(),
        ),
        DbValue::from(row.created_at.unwrap_or(now)),
        DbValue::from(now),
    ]);
}

/// Inserts the clients in multi-row statements and gives their new ids. A taken email or
/// username fails the statement with the database's unique violation. The extra
/// attributes of the new clients are added to `extras`, with their ids.
async fn insert_clients<C: ConnectionTrait>(
    txn: &C,
    backend: DbBackend,
    clients: &[NewClient<'_>],
    now: chrono::DateTime<chrono::Utc>,
    extras: &mut Vec<(i64, String, String)>,
) -> Result<Vec<i64>, DbErr> {
    let mut ids = Vec::with_capacity(clients.len());
    // In the order of the unique email index (and so, nearly, of the username index,
    // which comes from the email's first part): each index page a batch touches is then
    // read and written once, not once for every row that lands on it.
    let mut sorted: Vec<&NewClient<'_>> = clients.iter().collect();
    sorted.sort_by_cached_key(|c| crate::model::fold_case(&c.email));
    let mut rest = &sorted[..];
    while !rest.is_empty() {
        let take = match backend {
            DbBackend::Postgres => rest.len().min(PG_ROWS_PER_STATEMENT),
            _ => statement_rows(rest.len()),
        };
        let (piece, after) = rest.split_at(take);
        rest = after;
        let before = ids.len();
        let with_extras = piece.iter().any(|c| !c.row.extra.is_empty());
        if backend == DbBackend::Postgres {
            // The new rows come back in no promised order: with extra attributes to
            // write, each id comes with its email (unique in the file) to pair them.
            let mut sql = postgres_insert_sql();
            if with_extras {
                sql.push_str(", email");
            }
            let statement =
                Statement::from_sql_and_values(backend, sql, postgres_insert_values(piece, now));
            let by_email: HashMap<&str, &NewClient<'_>> = if with_extras {
                piece.iter().map(|c| (c.email.as_str(), *c)).collect()
            } else {
                HashMap::new()
            };
            for r in txn.query_all_raw(statement).await? {
                let id = r.try_get::<i64>("", "id")?;
                ids.push(id);
                if with_extras {
                    let email = r.try_get::<String>("", "email")?;
                    if let Some(c) = by_email.get(email.as_str()) {
                        extras.extend(c.row.extra.iter().map(|(n, v)| (id, n.clone(), v.clone())));
                    }
                }
            }
        } else {
            let sql = insert_sql(piece.len());
            let mut values = Vec::with_capacity(piece.len() * INSERT_WIDTH);
            for c in piece {
                client_values(c, now, &mut values);
            }
            let statement = Statement::from_sql_and_values(backend, sql, values);
            let done = txn.execute_raw(statement).await?;
            let last = i64::try_from(done.last_insert_id())
                .map_err(|_| DbErr::Custom("a new client id out of range".into()))?;
            let n = done.rows_affected() as i64;
            ids.extend(last - n + 1..=last);
            if with_extras && n == piece.len() as i64 {
                // Numbered in the order of the `VALUES` list.
                for (id, c) in (last - n + 1..).zip(piece) {
                    extras.extend(c.row.extra.iter().map(|(k, v)| (id, k.clone(), v.clone())));
                }
            }
        }
        if ids.len() - before < piece.len() {
            return Err(DbErr::Custom(format!(
                "{} of {} new clients were written",
                ids.len() - before,
                piece.len()
            )));
        }
    }
    Ok(ids)
}

/// The SQL type of a client column, for the typed `VALUES` list of PostgreSQL.
fn sql_type(field: ClientField) -> &'static str {
    match field {
        ClientField::DateOfBirth => "date",
        ClientField::VerificationLevel => "integer",
        ClientField::Active => "boolean",
        ClientField::ProjectId | ClientField::DeskId => "bigint",
        ClientField::CreatedAt => "timestamptz",
        _ => "text",
    }
}

/// Writes the changed columns of each client: one statement per set of columns that change
/// together (a partial-update file usually has one) — on PostgreSQL `UPDATE … FROM unnest(…)`
/// of one array a column, elsewhere `UPDATE … FROM (VALUES …)` of at most
/// [`ROWS_PER_STATEMENT`] rows.
async fn update_clients<C: ConnectionTrait>(
    txn: &C,
    backend: DbBackend,
    rewrites: &mut [Rewrite],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let signature =
        |r: &Rewrite| -> Vec<&'static str> { r.columns.iter().map(|(f, _)| f.name()).collect() };
    rewrites.sort_by_cached_key(signature);
    let mut start = 0;
    while start < rewrites.len() {
        let fields: Vec<ClientField> = rewrites[start].columns.iter().map(|(f, _)| *f).collect();
        let names = signature(&rewrites[start]);
        let mut end = start;
        while end < rewrites.len() && signature(&rewrites[end]) == names {
            end += 1;
        }
        let group = &mut rewrites[start..end];
        let arrays = match backend {
            DbBackend::Postgres => column_arrays(group),
            _ => None,
        };
        match arrays {
            Some(arrays) => update_from_arrays(txn, &fields, arrays, now).await?,
            None => update_from_values(txn, backend, &fields, group, now).await?,
        }
        start = end;
    }
    Ok(())
}

/// The ids of `group` (clients whose same columns change) and then the new values of each
/// column, as PostgreSQL arrays; `None` when a value is NULL (the driver binds arrays
/// without NULL elements) or not of its column's type.
fn column_arrays(group: &[Rewrite]) -> Option<Vec<DbValue>> {
    fn array<T>(
        group: &[Rewrite],
        k: usize,
        get: impl Fn(&DbValue) -> Option<T>,
    ) -> Option<Vec<T>> {
        group.iter().map(|r| get(&r.columns.get(k)?.1)).collect()
    }
    let first = group.first()?;
    let mut arrays = vec![DbValue::from(
        group.iter().map(|r| r.id).collect::<Vec<i64>>(),
    )];
    for (k, (field, _)) in first.columns.iter().enumerate() {
        arrays.push(match sql_type(*field) {
            "date" => array(group, k, |v| match v {
                DbValue::ChronoDate(d) => *d,
                _ => None,
            })?
            .into(),
            "integer" => array(group, k, |v| match v {
                DbValue::Int(i) => *i,
                _ => None,
            })?
            .into(),
            "boolean" => array(group, k, |v| match v {
                DbValue::Bool(b) => *b,
                _ => None,
            })?
            .into(),
            "bigint" => array(group, k, |v| match v {
                DbValue::BigInt(i) => *i,
                _ => None,
            })?
            .into(),
            "timestamptz" => array(group, k, |v| match v {
                DbValue::ChronoDateTimeUtc(t) => *t,
                _ => None,
            })?
            .into(),
            _ => array(group, k, |v| match v {
                DbValue::String(s) => s.clone(),
                _ => None,
            })?
            .into(),
        });
    }
    Some(arrays)
}

/// `UPDATE client SET updated_at = $1, <field> = v.c2 … FROM unnest($2::bigint[], …)`:
/// one statement, prepared once per set of columns, for any number of clients.
async fn update_from_arrays<C: ConnectionTrait>(
    txn: &C,
    fields: &[ClientField],
    arrays: Vec<DbValue>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let mut sql = "UPDATE client SET updated_at = $1".to_owned();
    let mut columns = vec!["c1".to_owned()];
    let mut types = vec!["$2::bigint[]".to_owned()];
    for (k, f) in fields.iter().enumerate() {
        sql.push_str(&format!(", {} = v.c{}", f.name(), k + 2));
        columns.push(format!("c{}", k + 2));
        types.push(format!("${}::{}[]", k + 3, sql_type(*f)));
    }
    sql.push_str(&format!(
        " FROM unnest({}) AS v({}) WHERE client.id = v.c1",
        types.join(", "),
        columns.join(", ")
    ));
    let mut values = Vec::with_capacity(arrays.len() + 1);
    values.push(DbValue::from(now));
    values.extend(arrays);
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// `UPDATE client … FROM (VALUES …)` of `group`, in statements of at most
/// [`ROWS_PER_STATEMENT`] rows.
async fn update_from_values<C: ConnectionTrait>(
    txn: &C,
    backend: DbBackend,
    fields: &[ClientField],
    group: &mut [Rewrite],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let postgres = backend == DbBackend::Postgres;
    let width = fields.len() + 1;
    let per_statement = (30_000 / width).min(ROWS_PER_STATEMENT);
    let mut rest = group;
    while !rest.is_empty() {
        let take = if rest.len() >= per_statement {
            per_statement
        } else {
            statement_rows(rest.len())
        };
        let (piece, after) = std::mem::take(&mut rest).split_at_mut(take);
        rest = after;
        let mut values: Vec<DbValue> = Vec::with_capacity(piece.len() * width + 1);
        values.push(DbValue::from(now));
        let mut sql = format!("UPDATE client SET updated_at = {}", placeholder(backend, 1));
        // SQLite names the columns of a `VALUES` list `column1`, `column2` …, and
        // takes no list of names after its alias; PostgreSQL is given the same names.
        for (k, f) in fields.iter().enumerate() {
            sql.push_str(&format!(", {} = v.column{}", f.name(), k + 2));
        }
        sql.push_str(" FROM (VALUES ");
        for (i, r) in piece.iter_mut().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ",(" });
            let mut n = values.len() + 1;
            sql.push_str(&placeholder(backend, n));
            if postgres {
                sql.push_str("::bigint");
            }
            values.push(DbValue::from(r.id));
            for (f, v) in r.columns.drain(..) {
                n += 1;
                sql.push(',');
                sql.push_str(&placeholder(backend, n));
                if postgres {
                    sql.push_str("::");
                    sql.push_str(sql_type(f));
                }
                values.push(v);
            }
            sql.push(')');
        }
        sql.push_str(") AS v");
        if postgres {
            sql.push_str("(column1");
            for k in 0..fields.len() {
                sql.push_str(&format!(", column{}", k + 2));
            }
            sql.push(')');
        }
        sql.push_str(" WHERE client.id = v.column1");
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_come_in_a_few_sizes() {
        let mut sizes = std::collections::BTreeSet::new();
        for batch in 1..=5_000 {
            let mut left = batch;
            while left > 0 {
                let n = statement_rows(left);
                assert!(n >= 1 && n <= left);
                sizes.insert(n);
                left -= n;
            }
        }
        assert_eq!(sizes.len(), 11, "{sizes:?}");
    }

    #[test]
    fn usernames_come_from_the_local_part() {
        assert_eq!(username_base("Ann.Lee+x@example.com"), "ann.leex");
        assert_eq!(username_base("@example.com"), "client");
        assert_eq!(username_base("Ünïcode@x.io"), "ncode");
    }
}
