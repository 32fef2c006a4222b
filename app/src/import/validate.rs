//! Turning a row into the typed record of its action (SPEC §3.1). Every problem of a row
//! is collected, each naming its column and value, so the operator fixes a row once.

use super::header::{ColumnKey, HeaderMap, columns};
use super::parse::Row;
use super::value::{
    AccountNumber, ClientType, CountryCode, Currency, Email, Phone, clean, parse_birth_date,
    parse_bool, parse_created, parse_positive_id, parse_verification_level,
};
use crate::model::ImportAction;
use chrono::{DateTime, NaiveDate, Utc};

/// One problem with one cell (or, without a column, with the row as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellError {
    pub column: Option<String>,
    pub value: Option<String>,
    pub message: String,
}

/// The cells of one row, looked up by column, collecting errors as values are parsed.
struct Cells<'r> {
    action: ImportAction,
    header: &'r HeaderMap,
    row: &'r Row,
    errors: Vec<CellError>,
}

impl<'r> Cells<'r> {
    fn label(&self, key: ColumnKey) -> &'static str {
        columns(self.action)
            .iter()
            .find(|c| c.key == key)
            .map_or("?", |c| c.label)
    }

    /// The cleaned text of a column, `None` when the file lacks it or the cell is empty.
    fn text(&self, key: ColumnKey) -> Option<String> {
        let index = self.header.position(key)?;
        let value = clean(self.row.fields.get(index)?);
        (!value.is_empty()).then(|| value.into_owned())
    }

    /// A column's value parsed by `parse`; a refusal is recorded and gives `None`.
    fn parse<T>(
        &mut self,
        key: ColumnKey,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(key)?;
        match parse(&text) {
            Ok(v) => Some(v),
            Err(message) => {
                self.errors.push(CellError {
                    column: Some(self.label(key).to_owned()),
                    value: Some(text),
                    message,
                });
                None
            }
        }
    }

    /// Like [`Cells::parse`], for a column every row must fill.
    fn required<T>(
        &mut self,
        key: ColumnKey,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        if self.text(key).is_none() {
            let label = self.label(key);
            self.errors.push(CellError {
                column: Some(label.to_owned()),
                value: None,
                message: format!("`{label}` is empty; every row needs it"),
            });
            return None;
        }
        self.parse(key, parse)
    }

    fn finish<T>(self, record: impl FnOnce() -> T) -> Result<T, Vec<CellError>> {
        if self.errors.is_empty() {
            Ok(record())
        } else {
            Err(self.errors)
        }
    }
}

fn cells<'r>(action: ImportAction, header: &'r HeaderMap, row: &'r Row) -> Cells<'r> {
    Cells {
        action,
        header,
        row,
        errors: Vec::new(),
    }
}

/// A row of `import-users`: only columns present and non-empty are `Some`, so an update
/// changes exactly those fields.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientRow {
    pub line: u64,
    pub id: Option<i64>,
    pub email: Option<Email>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub username: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub country: Option<CountryCode>,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub verification_level: Option<i32>,
    /// An id or a name, resolved against the database when the row is applied.
    pub project: Option<String>,
    pub desk: Option<String>,
    pub active: Option<bool>,
    pub client_type: Option<ClientType>,
    pub created_at: Option<DateTime<Utc>>,
    /// Extra attributes (name, value) of the columns kept as such, filled cells only.
    pub extra: Vec<(String, String)>,
}

/// Validates a row of `import-users`. `today` bounds dates of birth.
pub fn client_row(
    header: &HeaderMap,
    row: &Row,
    today: NaiveDate,
) -> Result<ClientRow, Vec<CellError>> {
    use ColumnKey as K;
    let mut c = cells(ImportAction::Users, header, row);
    let id = c.parse(K::Id, |t| parse_positive_id(t, "client id"));
    let email = c.parse(K::Email, Email::parse);
    if id.is_none() && email.is_none() && c.errors.is_empty() {
        c.errors.push(CellError {
            column: Some("Email".into()),
            value: None,
            message:
                "The row has neither an email nor an id: one is needed to find or create the client"
                    .into(),
        });
    }
    let record = ClientRow {
        line: row.line,
        id,
        email,
        first_name: c.text(K::FirstName),
        last_name: c.text(K::LastName),
        middle_name: c.text(K::MiddleName),
        username: c.text(K::Username),
        date_of_birth: c.parse(K::DateOfBirth, |t| parse_birth_date(t, today)),
        country: c.parse(K::Country, CountryCode::parse),
        phone: c.parse(K::Phone, Phone::parse),
        address: c.text(K::Address),
        city: c.text(K::City),
        postal_code: c.text(K::PostalCode),
        verification_level: c.parse(K::VerificationLevel, parse_verification_level),
        project: c.text(K::Project),
        desk: c.text(K::Desk),
        active: c.parse(K::Active, parse_bool),
        client_type: c.parse(K::Type, ClientType::parse),
        created_at: c.parse(K::Created, parse_created),
        extra: header
            .extras
            .iter()
            .filter_map(|(name, index)| {
                let value = clean(row.fields.get(*index)?);
                (!value.is_empty()).then(|| (name.clone(), value.into_owned()))
            })
            .collect(),
    };
    c.finish(|| record)
}

/// A row of `import-accounts`: every column is required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub line: u64,
    pub email: Email,
    pub account_number: AccountNumber,
    pub product_id: i64,
    pub currency: Currency,
}

pub fn account_row(header: &HeaderMap, row: &Row) -> Result<AccountRow, Vec<CellError>> {
    use ColumnKey as K;
    let mut c = cells(ImportAction::Accounts, header, row);
    let email = c.required(K::Email, Email::parse);
    let account_number = c.required(K::AccountNumber, AccountNumber::parse);
    let product_id = c.required(K::ProductId, |t| parse_positive_id(t, "product id"));
    let currency = c.required(K::Currency, Currency::parse);
    match (email, account_number, product_id, currency) {
        (Some(email), Some(account_number), Some(product_id), Some(currency)) => {
            c.finish(|| AccountRow {
                line: row.line,
                email,
                account_number,
                product_id,
                currency,
            })
        }
        _ => Err(c.errors),
    }
}

/// A row of `import-ibs`: a partner, the program, and optionally the client they referred.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IbRow {
    pub line: u64,
    pub ib_email: Email,
    pub client_email: Option<Email>,
    pub program_id: i64,
}

pub fn ib_row(header: &HeaderMap, row: &Row) -> Result<IbRow, Vec<CellError>> {
    use ColumnKey as K;
    let mut c = cells(ImportAction::Ibs, header, row);
    let ib_email = c.required(K::IbEmail, Email::parse);
    let client_email = c.parse(K::ClientEmail, Email::parse);
    let program_id = c.required(K::IbTypeId, |t| parse_positive_id(t, "IB Type ID"));
    if let (Some(ib), Some(client)) = (&ib_email, &client_email)
        && ib.key() == client.key()
    {
        c.errors.push(CellError {
            column: Some("Client Email".into()),
            value: Some(client.as_str().to_owned()),
            message: "A partner cannot refer themselves: `IB Email` and `Client Email` are the same client".into(),
        });
    }
    match (ib_email, program_id) {
        (Some(ib_email), Some(program_id)) => c.finish(|| IbRow {
            line: row.line,
            ib_email,
            client_email,
            program_id,
        }),
        _ => Err(c.errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::header::map_header;

    fn row(fields: &[&str]) -> Row {
        Row {
            line: 7,
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    #[test]
    fn a_client_row_keeps_only_the_columns_present_and_filled() {
        let header = map_header(
            ImportAction::Users,
            &["Email", "First name", "Phone", "Country", "City", "Active"],
        )
        .unwrap();
        let r = client_row(
            &header,
            &row(&[
                "Ann@Example.com",
                " Ann ",
                "+44 20 7946 0958",
                "gb",
                "",
                "no",
            ]),
            today(),
        )
        .unwrap();
        assert_eq!(r.line, 7);
        assert_eq!(r.email.unwrap().as_str(), "Ann@Example.com");
        assert_eq!(r.first_name.as_deref(), Some("Ann"));
        assert_eq!(r.phone.unwrap().as_str(), "+442079460958");
        assert_eq!(r.country.unwrap().as_str(), "GB");
        assert_eq!(r.city, None, "an empty cell changes nothing");
        assert_eq!(r.last_name, None, "an absent column changes nothing");
        assert_eq!(r.active, Some(false));
    }

    #[test]
    fn every_problem_of_a_row_is_reported_with_its_column_and_value() {
        let header = map_header(
            ImportAction::Users,
            &["Email", "Date of birth", "Country", "Verification level"],
        )
        .unwrap();
        let errors = client_row(
            &header,
            &row(&["ann@", "31/02/2020", "Atlantis", "-2"]),
            today(),
        )
        .unwrap_err();
        let summary: Vec<(Option<&str>, Option<&str>)> = errors
            .iter()
            .map(|e| (e.column.as_deref(), e.value.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (Some("Email"), Some("ann@")),
                (Some("Date of birth"), Some("31/02/2020")),
                (Some("Country"), Some("Atlantis")),
                (Some("Verification level"), Some("-2")),
            ]
        );
        let future =
            client_row(&header, &row(&["a@b.co", "2027-01-01", "", ""]), today()).unwrap_err();
        assert!(future[0].message.contains("in the future"));
    }

    #[test]
    fn a_client_row_needs_an_email_or_an_id() {
        let header = map_header(ImportAction::Users, &["ID", "Email", "City"]).unwrap();
        assert!(client_row(&header, &row(&["12", "", "Oslo"]), today()).is_ok());
        let errors = client_row(&header, &row(&["", "", "Oslo"]), today()).unwrap_err();
        assert!(errors[0].message.contains("neither an email nor an id"));
    }

    #[test]
    fn text_is_kept_verbatim() {
        let header =
            map_header(ImportAction::Users, &["Email", "First name", "Last name"]).unwrap();
        let r = client_row(
            &header,
            &row(&[
                "x@y.zz",
                "<script>alert(1)</script>",
                "O'Brien; DROP TABLE client;--",
            ]),
            today(),
        )
        .unwrap();
        assert_eq!(r.first_name.as_deref(), Some("<script>alert(1)</script>"));
        assert_eq!(
            r.last_name.as_deref(),
            Some("O'Brien; DROP TABLE client;--")
        );
    }

    #[test]
    fn account_rows_need_every_column() {
        let header = map_header(
            ImportAction::Accounts,
            &["Email", "Account number", "Product ID", "Product currency"],
        )
        .unwrap();
        let r = account_row(&header, &row(&["a@b.co", "MT-1", "3", "usd"])).unwrap();
        assert_eq!(
            (r.account_number.as_str(), r.product_id, r.currency.as_str()),
            ("MT-1", 3, "USD")
        );
        let errors = account_row(&header, &row(&["a@b.co", "", "0", "usd"])).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].message,
            "`Account number` is empty; every row needs it"
        );
        assert!(errors[1].message.contains("greater than 0"));
    }

    #[test]
    fn ib_rows_refuse_self_referral() {
        let header = map_header(
            ImportAction::Ibs,
            &["IB Email", "Client Email", "IB Type ID"],
        )
        .unwrap();
        let r = ib_row(&header, &row(&["p@b.co", "", "10"])).unwrap();
        assert_eq!((r.client_email, r.program_id), (None, 10));
        let errors = ib_row(&header, &row(&["p@b.co", "P@B.co", "10"])).unwrap_err();
        assert!(errors[0].message.contains("cannot refer themselves"));
    }
}
