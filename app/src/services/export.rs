//! CSV exports of the browsing lists (SPEC §4): the current view, every page of it,
//! UTF-8 with a BOM, cells that a spreadsheet would run as a formula neutralised.

use super::browse::{AccountChunks, ClientChunks};
use super::import_views::neutralise;
use crate::model::{AccountRecord, AppError, ClientRecord};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    IsolationLevel, Statement, TransactionTrait,
};
use std::collections::HashMap;

/// The byte-order mark that makes spreadsheet programs read the file as UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

fn csv_lines<R: AsRef<[String]>>(rows: impl IntoIterator<Item = R>) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        // Writing into memory cannot fail; a failure would only drop that row's bytes.
        let _ = out.write_record(row.as_ref().iter().map(|c| neutralise(c).into_owned()));
    }
    out.into_inner().unwrap_or_default()
}

pub const CLIENT_HEADER: [&str; 19] = [
    "ID",
    "Email",
    "Username",
    "First name",
    "Middle name",
    "Last name",
    "Date of birth",
    "Country",
    "Phone number",
    "Address",
    "City",
    "Postal code",
    "Verification level",
    "Project",
    "Desk",
    "Active",
    "Type",
    "Created",
    "Updated",
];

/// The header line of a client export, after the BOM: [`CLIENT_HEADER`], then a column
/// per extra attribute name (`extra_names`).
pub fn client_header(extra_names: &[String]) -> Vec<u8> {
    let mut out = BOM.to_vec();
    let mut header: Vec<String> = CLIENT_HEADER.map(str::to_owned).to_vec();
    header.extend(extra_names.iter().cloned());
    out.extend(csv_lines([header]));
    out
}

/// Client rows, in the columns of [`CLIENT_HEADER`] and then the values of their extra
/// attributes `extra_names` (from `attributes`, by client): the columns of an import
/// file, so an export can be edited and imported again.
pub fn client_rows(
    rows: &[ClientRecord],
    extra_names: &[String],
    attributes: &HashMap<i64, HashMap<String, String>>,
) -> Vec<u8> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    csv_lines(rows.iter().map(|c| {
        let mut cells = vec![
            c.id.to_string(),
            c.email.clone(),
            c.username.clone(),
            c.first_name.clone(),
            text(&c.middle_name),
            text(&c.last_name),
            text(&c.date_of_birth),
            text(&c.country),
            text(&c.phone),
            text(&c.address),
            text(&c.city),
            text(&c.postal_code),
            c.verification_level.to_string(),
            c.project.name.clone(),
            c.desk.name.clone(),
            c.active.to_string(),
            c.client_type.as_str().to_owned(),
            c.created_at.clone(),
            c.updated_at.clone(),
        ];
        let own = attributes.get(&c.id);
        cells.extend(
            extra_names
                .iter()
                .map(|n| own.and_then(|a| a.get(n)).cloned().unwrap_or_default()),
        );
        cells
    }))
}

pub const ACCOUNT_HEADER: [&str; 7] = [
    "Account number",
    "Email",
    "First name",
    "Last name",
    "Product ID",
    "Product currency",
    "Created",
];

pub fn account_header() -> Vec<u8> {
    let mut out = BOM.to_vec();
    out.extend(csv_lines([ACCOUNT_HEADER.map(str::to_owned)]));
    out
}

pub fn account_rows(rows: &[AccountRecord]) -> Vec<u8> {
    csv_lines(rows.iter().map(|a| {
        [
            a.account_number.clone(),
            a.client.email.clone(),
            a.client.first_name.clone(),
            a.client.last_name.clone().unwrap_or_default(),
            a.product_id.to_string(),
            a.currency.clone(),
            a.created_at.clone(),
        ]
    }))
}

/// A list read for an export: its header line, then its rows a piece at a time.
pub trait CsvExport: Send + 'static {
    /// The header line, read in the export's view.
    fn header(
        &mut self,
        db: &DatabaseTransaction,
    ) -> impl Future<Output = Result<Vec<u8>, AppError>> + Send;
    /// The next rows as CSV, or `None` after the last.
    fn next_rows(
        &mut self,
        db: &DatabaseTransaction,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, AppError>> + Send;
}

/// A read-only transaction over which every piece of an export is read, so the export is
/// one consistent view of the table even while an import writes to it: PostgreSQL's
/// repeatable read, and on SQLite (in WAL mode) the snapshot a read transaction keeps.
pub async fn snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, AppError> {
    Ok(match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
        }
        _ => db.begin().await?,
    })
}

/// A client export: the clients, a piece at a time, with the extra attributes in use.
pub struct ClientExport {
    pub chunks: ClientChunks,
    extra_names: Vec<String>,
}

impl ClientExport {
    pub fn new(chunks: ClientChunks) -> Self {
        ClientExport {
            chunks,
            extra_names: Vec::new(),
        }
    }
}

impl CsvExport for ClientExport {
    async fn header(&mut self, db: &DatabaseTransaction) -> Result<Vec<u8>, AppError> {
        self.extra_names = attribute_names(db).await?;
        Ok(client_header(&self.extra_names))
    }

    async fn next_rows(&mut self, db: &DatabaseTransaction) -> Result<Option<Vec<u8>>, AppError> {
        let Some(rows) = self.chunks.next(db).await? else {
            return Ok(None);
        };
        let attributes = if self.extra_names.is_empty() {
            HashMap::new()
        } else {
            let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
            crate::jobs::apply::extras::of_clients(db, &ids).await?
        };
        Ok(Some(client_rows(&rows, &self.extra_names, &attributes)))
    }
}

/// The names of the extra attributes in use, in order.
pub async fn attribute_names<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, AppError> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            super::browse::ATTRIBUTE_NAMES.to_owned(),
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String>("", "name"))
        .collect::<Result<_, _>>()?)
}

impl CsvExport for AccountChunks {
    async fn header(&mut self, _db: &DatabaseTransaction) -> Result<Vec<u8>, AppError> {
        Ok(account_header())
    }

    async fn next_rows(&mut self, db: &DatabaseTransaction) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self.next(db).await?.map(|rows| account_rows(&rows)))
    }
}
