//! CSV exports of the browsing lists (SPEC §4): the current view, every page of it,
//! UTF-8 with a BOM, cells that a spreadsheet would run as a formula neutralised.

use super::browse::{AccountChunks, ClientChunks};
use super::import_views::neutralise;
use crate::model::{AccountRecord, AppError, ClientRecord};
use sea_orm::{
    AccessMode, DatabaseConnection, DatabaseTransaction, DbBackend, IsolationLevel,
    TransactionTrait,
};

/// The byte-order mark that makes spreadsheet programs read the file as UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

fn csv_lines<const N: usize>(rows: impl IntoIterator<Item = [String; N]>) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        // Writing into memory cannot fail; a failure would only drop that row's bytes.
        let _ = out.write_record(row.iter().map(|c| neutralise(c)));
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

/// The header line of a client export, after the BOM.
pub fn client_header() -> Vec<u8> {
    let mut out = BOM.to_vec();
    out.extend(csv_lines([CLIENT_HEADER.map(str::to_owned)]));
    out
}

/// Client rows, in the columns of [`CLIENT_HEADER`]: the columns of an import file, so
/// an export can be edited and imported again.
pub fn client_rows(rows: &[ClientRecord]) -> Vec<u8> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    csv_lines(rows.iter().map(|c| {
        [
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
        ]
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
    fn header(&self) -> Vec<u8>;
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

impl CsvExport for ClientChunks {
    fn header(&self) -> Vec<u8> {
        client_header()
    }

    async fn next_rows(&mut self, db: &DatabaseTransaction) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self.next(db).await?.map(|rows| client_rows(&rows)))
    }
}

impl CsvExport for AccountChunks {
    fn header(&self) -> Vec<u8> {
        account_header()
    }

    async fn next_rows(&mut self, db: &DatabaseTransaction) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self.next(db).await?.map(|rows| account_rows(&rows)))
    }
}
