//! Typed values of import cells (SPEC §3.1). Each type's `parse` is the only way to make
//! one, so a value that exists is valid; a refusal says what was wrong with the text.
//! Nothing is coerced: a value is accepted as written or refused with a reason.

use super::header::is_invisible;
use chrono::{DateTime, NaiveDate, Utc};
use std::borrow::Cow;

/// A cell as stored: trimmed, without zero-width characters, and without the apostrophe
/// that [`neutralise`] put before it in one of our own CSV files; otherwise exactly as given.
///
/// ```
/// use app::import::value::clean;
/// assert_eq!(clean("  O'Brien\u{200B} "), "O'Brien");
/// assert_eq!(clean("'+442079460958"), "+442079460958");
/// ```
pub fn clean(cell: &str) -> Cow<'_, str> {
    let trimmed = cell.trim();
    if trimmed.chars().any(is_invisible) {
        let visible: String = trimmed.chars().filter(|c| !is_invisible(*c)).collect();
        Cow::Owned(unneutralise(visible.trim()).to_owned())
    } else {
        Cow::Borrowed(unneutralise(trimmed))
    }
}

/// The characters that make a spreadsheet program read a cell as a formula (OWASP CSV
/// injection).
const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\n'];

/// One or more apostrophes, then a formula start: what [`neutralise`] writes.
fn looks_neutralised(cell: &str) -> bool {
    let rest = cell.trim_start_matches('\'');
    rest.len() < cell.len() && rest.starts_with(FORMULA_STARTS)
}

/// A cell as a CSV file we write holds it: text a spreadsheet would run as a formula gets
/// an apostrophe before it, and so does text that already looks like that, so that
/// [`unneutralise`] gives back exactly the cell (`=x` → `'=x`, `'=x` → `''=x`).
///
/// ```
/// use app::import::value::{neutralise, unneutralise};
/// for cell in ["=SUM(A1)", "'=SUM(A1)", "+44 20", "O'Brien", "'quoted'"] {
///     assert_eq!(unneutralise(&neutralise(cell)), cell);
/// }
/// assert_eq!(neutralise("-5"), "'-5");
/// ```
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) || looks_neutralised(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell of a file with the apostrophe [`neutralise`] added taken off again; any other
/// cell as it is.
pub fn unneutralise(cell: &str) -> &str {
    if looks_neutralised(cell) {
        &cell[1..]
    } else {
        cell
    }
}

/// An email address, kept as written; compared without regard to case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, String> {
        if email_address::EmailAddress::is_valid(text) {
            Ok(Email(text.to_owned()))
        } else {
            Err(format!("`{text}` is not a valid email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used to find a client: lower case.
    pub fn key(&self) -> String {
        crate::model::fold_case(&self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountryCode(isocountry::CountryCode);

/// Everyday English names that differ from the ISO short names.
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("united kingdom", "GB"),
    ("great britain", "GB"),
    ("united states", "US"),
    ("russia", "RU"),
    ("south korea", "KR"),
    ("north korea", "KP"),
    ("iran", "IR"),
    ("vietnam", "VN"),
    ("syria", "SY"),
    ("laos", "LA"),
    ("bolivia", "BO"),
    ("venezuela", "VE"),
    ("tanzania", "TZ"),
    ("moldova", "MD"),
    ("czech republic", "CZ"),
    ("taiwan", "TW"),
];

fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl CountryCode {
    /// An alpha-2 code in any case, or the country's English short name.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() == 2
            && let Ok(code) = isocountry::CountryCode::for_alpha2_caseless(text)
        {
            return Ok(CountryCode(code));
        }
        let key = name_key(text);
        let by_name = isocountry::CountryCode::iter().find(|c| name_key(c.name()) == key);
        let by_alias = || {
            COUNTRY_ALIASES
                .iter()
                .find(|(name, _)| *name == key)
                .and_then(|(_, code)| isocountry::CountryCode::for_alpha2(code).ok())
        };
        by_name
            .copied()
            .or_else(by_alias)
            .map(CountryCode)
            .ok_or_else(|| {
                format!("`{text}` is not a country: use an ISO 3166-1 alpha-2 code (e.g. DE) or the English name")
            })
    }

    pub fn as_str(&self) -> &'static str {
        self.0.alpha2()
    }
}

/// A phone number in E.164 form: `+` and 7–15 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Accepts spaces, dots, dashes and parentheses between the digits and stores the
    /// number without them.
    pub fn parse(text: &str) -> Result<Self, String> {
        let compact: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        if compact.starts_with('+')
            && (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Phone(compact))
        } else {
            Err(format!(
                "`{text}` is not a phone number in international form: `+` and 7 to 15 digits, e.g. +44 20 7946 0958"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 currency code, or a crypto asset code of 3–6 upper-case letters (USDT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    /// ISO codes are accepted in any case and stored upper case; other asset codes must
    /// be written in upper case.
    pub fn parse(text: &str) -> Result<Self, String> {
        let upper = text.to_ascii_uppercase();
        if iso_currency::Currency::from_code(&upper).is_some() {
            return Ok(Currency(upper));
        }
        if (3..=6).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase()) {
            return Ok(Currency(text.to_owned()));
        }
        Err(format!(
            "`{text}` is not a currency: use an ISO 4217 code (USD, EUR) or an asset code of 3 to 6 capital letters (USDT)"
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A trading account number: 1–64 letters, digits, `-`, `_`, `.` or `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountNumber(String);

impl AccountNumber {
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = (1..=64).contains(&text.chars().count())
            && text
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        if ok {
            Ok(AccountNumber(text.to_owned()))
        } else {
            Err(format!(
                "`{text}` is not an account number: 1 to 64 letters, digits, `-`, `_`, `.` or `/`"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A positive whole number: a product id or an IB program id.
pub fn parse_positive_id(text: &str, what: &str) -> Result<i64, String> {
    match text.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{text}` is not a valid {what}: expected a whole number greater than 0"
        )),
    }
}

/// A verification level: a whole number, 0 or more.
pub fn parse_verification_level(text: &str) -> Result<i32, String> {
    match text.parse::<i32>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!(
            "`{text}` is not a verification level: expected a whole number, 0 or more"
        )),
    }
}

/// `true`/`false`, `yes`/`no` or `1`/`0`, in any case.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!(
            "`{text}` is not true or false: use true/false, yes/no or 1/0"
        )),
    }
}

pub use crate::model::ClientType;

/// A calendar date written `YYYY-MM-DD`, `DD/MM/YYYY` or `DD.MM.YYYY`.
///
/// ```
/// use app::import::value::parse_date;
/// assert_eq!(parse_date("29.02.2020").unwrap().to_string(), "2020-02-29");
/// assert!(parse_date("31/02/2020").unwrap_err().contains("does not exist"));
/// ```
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let parts: Option<(&str, &str, &str)> =
        if text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' {
            Some((&text[0..4], &text[5..7], &text[8..10]))
        } else if text.len() == 10
            && matches!(text.as_bytes()[2], b'/' | b'.')
            && text.as_bytes()[5] == text.as_bytes()[2]
        {
            Some((&text[6..10], &text[3..5], &text[0..2]))
        } else {
            None
        };
    let numbers = parts.and_then(|(y, m, d)| {
        let all_digits = [y, m, d]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()));
        all_digits.then(|| {
            (
                y.parse::<i32>().ok(),
                m.parse::<u32>().ok(),
                d.parse::<u32>().ok(),
            )
        })
    });
    match numbers {
        Some((Some(y), Some(m), Some(d))) => NaiveDate::from_ymd_opt(y, m, d)
            .ok_or_else(|| format!("`{text}` does not exist in the calendar")),
        _ => Err(format!(
            "`{text}` is not a date: use YYYY-MM-DD, DD/MM/YYYY or DD.MM.YYYY"
        )),
    }
}

/// A date of birth: a date (see [`parse_date`]) that is not after `today`.
pub fn parse_birth_date(text: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let date = parse_date(text)?;
    if date > today {
        return Err(format!(
            "`{text}` is in the future; a date of birth must be in the past"
        ));
    }
    Ok(date)
}

/// A creation time: RFC 3339 (`2024-05-01T09:30:00Z`) or a date `YYYY-MM-DD` (midnight UTC).
pub fn parse_created(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if text.len() == 10 && text.as_bytes()[4] == b'-' {
        let date = parse_date(text)?;
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(format!(
        "`{text}` is not a time: use RFC 3339 (2024-05-01T09:30:00Z) or YYYY-MM-DD"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_trimmed_and_cleared_of_invisible_characters_only() {
        assert_eq!(clean("  Ann "), "Ann");
        assert_eq!(clean("\u{FEFF}Ann\u{200D}"), "Ann");
        assert_eq!(
            clean("=SUM(A1:A2)"),
            "=SUM(A1:A2)",
            "formulas are stored verbatim"
        );
        assert_eq!(clean("<script>x</script>"), "<script>x</script>");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        assert!(matches!(clean("'=x"), Cow::Borrowed("=x")));
    }

    #[test]
    fn our_own_neutralising_apostrophe_is_taken_off_and_no_other() {
        assert_eq!(clean("'+442079460958"), "+442079460958");
        assert_eq!(clean(" '=Evil "), "=Evil");
        assert_eq!(clean("''=Evil"), "'=Evil", "one apostrophe, not all");
        assert_eq!(clean("'-5"), "-5");
        assert_eq!(clean("'@home"), "@home");
        assert_eq!(clean("\u{200B}'=x"), "=x");
        assert_eq!(clean("'quoted'"), "'quoted'", "not before a formula start");
        assert_eq!(clean("'"), "'");
        assert_eq!(clean("O'Brien"), "O'Brien");
    }

    #[test]
    fn neutralising_is_undone_exactly() {
        let cells = [
            "", "'", "''", "=1+1", "'=1+1", "''=1+1", "+44", "-", "@", "\tx", "\nx", "a=b", "'a",
            "plain",
        ];
        for cell in cells {
            let written = neutralise(cell);
            assert!(
                !written.starts_with(FORMULA_STARTS),
                "{cell:?} is written as {written:?}"
            );
            assert_eq!(unneutralise(&written), cell, "{cell:?} via {written:?}");
        }
        assert_eq!(neutralise("=1"), "'=1");
        assert_eq!(neutralise("'=1"), "''=1");
        assert_eq!(neutralise("'a"), "'a");
    }

    #[test]
    fn emails() {
        let e = Email::parse("Ann.Lee@Example.com").unwrap();
        assert_eq!(e.as_str(), "Ann.Lee@Example.com");
        assert_eq!(e.key(), "ann.lee@example.com");
        assert_eq!(
            Email::parse("ann@").unwrap_err(),
            "`ann@` is not a valid email address"
        );
        assert!(Email::parse("O'Brien@example.com").is_ok());
    }

    #[test]
    fn countries_by_code_in_any_case_or_by_english_name() {
        assert_eq!(CountryCode::parse("de").unwrap().as_str(), "DE");
        assert_eq!(CountryCode::parse("Germany").unwrap().as_str(), "DE");
        assert_eq!(
            CountryCode::parse("united  kingdom").unwrap().as_str(),
            "GB"
        );
        assert_eq!(
            CountryCode::parse("United States of America")
                .unwrap()
                .as_str(),
            "US"
        );
        let err = CountryCode::parse("Atlantis").unwrap_err();
        assert!(err.starts_with("`Atlantis` is not a country"), "{err}");
        assert!(CountryCode::parse("XX").is_err());
    }

    #[test]
    fn phones_in_international_form() {
        assert_eq!(
            Phone::parse("+44 (20) 7946-0958").unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(
            Phone::parse("+1.555.010.9999").unwrap().as_str(),
            "+15550109999"
        );
        assert!(
            Phone::parse("020 7946 0958").is_err(),
            "a leading + is required"
        );
        assert!(Phone::parse("+123456").is_err(), "too short");
        assert!(Phone::parse("+1234567890123456").is_err(), "too long");
        assert!(Phone::parse("+44 20 CALL ME").is_err());
    }

    #[test]
    fn currencies() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        assert_eq!(Currency::parse("USDT").unwrap().as_str(), "USDT");
        assert!(
            Currency::parse("usdt").is_err(),
            "asset codes are upper case"
        );
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("DOGECOIN").is_err());
    }

    #[test]
    fn account_numbers_and_ids() {
        assert!(AccountNumber::parse("MT5-100234").is_ok());
        assert!(AccountNumber::parse("100 234").is_err());
        assert!(AccountNumber::parse("").is_err());
        assert_eq!(parse_positive_id("7", "product id"), Ok(7));
        assert!(
            parse_positive_id("0", "product id")
                .unwrap_err()
                .contains("greater than 0")
        );
        assert!(parse_positive_id("1.5", "product id").is_err());
        assert_eq!(parse_verification_level("0"), Ok(0));
        assert!(parse_verification_level("-1").is_err());
    }

    #[test]
    fn flags_and_types() {
        for t in ["true", "YES", "1"] {
            assert_eq!(parse_bool(t), Ok(true));
        }
        for f in ["False", "no", "0"] {
            assert_eq!(parse_bool(f), Ok(false));
        }
        assert!(parse_bool("y").is_err());
        assert_eq!(ClientType::parse("Corporate"), Ok(ClientType::Corporate));
        assert!(ClientType::parse("company").is_err());
    }

    #[test]
    fn dates_in_three_forms_never_coerced() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(parse_date("2020-02-29"), Ok(d(2020, 2, 29)));
        assert_eq!(parse_date("01/12/1990"), Ok(d(1990, 12, 1)));
        assert_eq!(parse_date("01.12.1990"), Ok(d(1990, 12, 1)));
        assert_eq!(
            parse_date("31/02/2020").unwrap_err(),
            "`31/02/2020` does not exist in the calendar"
        );
        for bad in [
            "2020-2-29",
            "12/01/90",
            "01/12.1990",
            "2020-01/01",
            "2020/01-01",
            "1990/12/01",
            "yesterday",
            "2020-02-3x",
        ] {
            assert!(
                parse_date(bad).unwrap_err().contains("is not a date"),
                "{bad}"
            );
        }
        let today = d(2026, 11, 21);
        assert!(parse_birth_date("2026-11-21", today).is_ok());
        assert!(
            parse_birth_date("2030-01-01", today)
                .unwrap_err()
                .contains("in the future")
        );
        assert_eq!(
            parse_created("2024-05-01T09:30:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2024-05-01T07:30:00+00:00"
        );
        assert_eq!(
            parse_created("2024-05-01").unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert!(parse_created("01/05/2024").is_err());
    }
}
