//! Every file in `tests/bad-files/` against its `.expected` outcome (see the README there).
//!
//! Outcomes `rejected` and `rows` run the file-level stages only; `applied` runs the file
//! through the apply layer too, against a fresh in-memory SQLite database.

#![cfg(feature = "ssr")]

mod common;

use app::entities::ib_program;
use app::import::prepare::{Limits, RowOutcome, prepare};
use app::model::{Delimiter, ImportAction};
use chrono::NaiveDate;
use common::{Backend, Fixture, describe};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-files")
}

/// Every file of the folder but its README and the `.expected` files (a file without an
/// extension is a case like any other, and so needs its `.expected`); an `.expected` file
/// whose case is missing fails.
fn cases() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder())
        .expect("the bad-files folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    let (expected, cases): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|p| p.extension().is_some_and(|e| e == "expected"));
    for e in &expected {
        assert!(
            cases.contains(&e.with_extension("")),
            "{} expects the outcome of a file that is not there",
            e.display()
        );
    }
    cases
}

/// The keys an `.expected` file may have besides `action`, `delimiter` and `outcome`.
fn outcome_keys(outcome: &str) -> Option<&'static [&'static str]> {
    match outcome {
        "rejected" => Some(&["message"]),
        "rows" => Some(&[
            "encoding",
            "delimiter-used",
            "unknown-columns",
            "valid",
            "invalid",
            "first-names",
            "error",
        ]),
        "applied" => Some(&["setup", "created", "updated", "unchanged", "error"]),
        _ => None,
    }
}

/// The `.expected` file: single keys, and the repeated `error` and `setup` keys as lists.
struct Expected {
    keys: HashMap<String, String>,
    errors: Vec<String>,
    setup: Vec<String>,
}

fn expectations(file: &Path) -> Expected {
    let path = PathBuf::from(format!("{}.expected", file.display()));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} has no .expected file", file.display()));
    let mut expected = Expected {
        keys: HashMap::new(),
        errors: Vec::new(),
        setup: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("bad line `{line}` in {}", path.display()));
        match key {
            "error" => expected.errors.push(value.to_owned()),
            "setup" => expected.setup.push(value.to_owned()),
            _ => {
                if expected
                    .keys
                    .insert(key.to_owned(), value.to_owned())
                    .is_some()
                {
                    panic!("`{key}` is given twice in {}", path.display());
                }
            }
        }
    }
    // A misspelt key, or one the outcome does not use, would silently check nothing.
    let outcome = expected.keys.get("outcome").map(String::as_str);
    if let Some(allowed) = outcome.and_then(outcome_keys) {
        let repeated = [
            ("error", !expected.errors.is_empty()),
            ("setup", !expected.setup.is_empty()),
        ];
        let given = expected.keys.keys().map(String::as_str).chain(
            repeated
                .into_iter()
                .filter_map(|(key, given)| given.then_some(key)),
        );
        for key in given {
            assert!(
                ["action", "delimiter", "outcome"].contains(&key) || allowed.contains(&key),
                "`{key}` is not a key of outcome `{}` in {}",
                outcome.unwrap_or_default(),
                path.display()
            );
        }
    }
    expected
}

fn delimiter_name(byte: u8) -> &'static str {
    match byte {
        b',' => "comma",
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "other",
    }
}

impl Fixture {
    /// One `setup` line: `ACTION FILE` (a file of the folder, every row of which must be
    /// applied without error) or `program ID NAME`.
    async fn setup(&self, line: &str, today: NaiveDate) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["program", id, name @ ..] if !name.is_empty() => {
                let id: i64 = id
                    .parse()
                    .map_err(|_| format!("`{id}` is not a program id"))?;
                ib_program::ActiveModel {
                    id: Set(id),
                    name: Set(name.join(" ")),
                    created_at: Set(chrono::Utc::now()),
                }
                .insert(&self.db)
                .await
                .map_err(|e| format!("database error: {e}"))?;
                Ok(())
            }
            [action, file] => {
                let action: ImportAction = action.parse()?;
                let path = folder().join(file);
                let bytes = std::fs::read(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let report = self.apply(action, &bytes, Delimiter::Auto, today).await?;
                if report.errors.is_empty() {
                    Ok(())
                } else {
                    let errors: Vec<String> = report.errors.iter().map(describe).collect();
                    Err(format!("refused: {errors:?}"))
                }
            }
            _ => Err("expected `ACTION FILE` or `program ID NAME`".into()),
        }
    }
}

/// Checks an `applied` file on a fresh `fixture`: sets the database up, applies the file,
/// compares the counts and the errors (exactly, none missing and none more).
async fn check_applied(
    fixture: &Fixture,
    expected: &Expected,
    action: ImportAction,
    bytes: &[u8],
    delimiter: Delimiter,
    today: NaiveDate,
) -> Vec<String> {
    let mut problems = Vec::new();
    for line in &expected.setup {
        if let Err(e) = fixture.setup(line, today).await {
            problems.push(format!("setup `{line}`: {e}"));
        }
    }
    if !problems.is_empty() {
        return problems;
    }
    let report = match fixture.apply(action, bytes, delimiter, today).await {
        Ok(report) => report,
        Err(e) => return vec![e],
    };
    for (what, got) in [
        ("created", report.created),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
    ] {
        match expected.keys.get(what) {
            None => problems.push(format!("`{what}` is not given (it is {got})")),
            Some(want) if *want != got.to_string() => {
                problems.push(format!("{what}: expected `{want}`, got `{got}`"));
            }
            Some(_) => {}
        }
    }
    let reported: Vec<String> = report.errors.iter().map(describe).collect();
    problems.extend(match_errors(&expected.errors, &reported, |want, r| {
        r == want
    }));
    problems
}

/// Pairs each expected error with one reported error that `matches` it; an expected error
/// with none, and a reported error left over, are the problems.
fn match_errors(
    expected: &[String],
    reported: &[String],
    matches: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut unmatched = reported.to_vec();
    for want in expected {
        match unmatched.iter().position(|r| matches(want, r)) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => problems.push(format!("missing error `{want}`; reported: {reported:?}")),
        }
    }
    problems.extend(
        unmatched
            .into_iter()
            .map(|e| format!("unexpected error `{e}`")),
    );
    problems
}

/// Checks one file (its `applied` outcome on `backend`); returns what differs from the
/// expectation.
async fn check(file: &Path, backend: Backend) -> Vec<String> {
    let expected = expectations(file);
    let expected_errors = &expected.errors;
    let bytes = std::fs::read(file).expect("read the file");
    let action: ImportAction = expected.keys["action"].parse().expect("action");
    let delimiter: Delimiter = expected
        .keys
        .get("delimiter")
        .map_or(Ok(Delimiter::Auto), |d| d.parse())
        .expect("delimiter");
    let today = chrono::Utc::now().date_naive();
    if expected.keys["outcome"] == "applied" {
        let fixture = Fixture::new(backend).await;
        let problems = check_applied(&fixture, &expected, action, &bytes, delimiter, today).await;
        fixture.close().await;
        return problems;
    }
    let expected = &expected.keys;
    let mut problems = Vec::new();
    let mut differ = |what: &str, want: &str, got: &str| {
        if want != got {
            problems.push(format!("{what}: expected `{want}`, got `{got}`"));
        }
    };

    match (
        expected["outcome"].as_str(),
        prepare(&bytes, action, delimiter, Limits::default()),
    ) {
        ("rejected", Err(e)) => {
            let message = e.to_string();
            if !message.contains(&expected["message"]) {
                differ("refusal", &expected["message"], &message);
            }
        }
        ("rejected", Ok(file)) => differ(
            "outcome",
            "rejected",
            &format!("accepted with {} rows", file.rows),
        ),
        ("rows", Err(e)) => differ("outcome", "rows", &format!("rejected: {e}")),
        ("rows", Ok(prepared)) => {
            if let Some(want) = expected.get("encoding") {
                differ("encoding", want, prepared.encoding.label());
            }
            if let Some(want) = expected.get("delimiter-used") {
                differ("delimiter", want, delimiter_name(prepared.delimiter));
            }
            differ(
                "unknown columns",
                expected.get("unknown-columns").map_or("", String::as_str),
                &prepared.header.unknown.join(", "),
            );
            let rows: Vec<RowOutcome> = prepared.rows(today).collect();
            let invalid: Vec<&RowOutcome> = rows
                .iter()
                .filter(|r| matches!(r, RowOutcome::Invalid { .. }))
                .collect();
            differ(
                "valid rows",
                &expected["valid"],
                &(rows.len() - invalid.len()).to_string(),
            );
            differ(
                "invalid rows",
                &expected["invalid"],
                &invalid.len().to_string(),
            );
            if let Some(want) = expected.get("first-names") {
                let got: Vec<String> = rows
                    .iter()
                    .filter_map(|r| match r {
                        RowOutcome::Client(c) => c.first_name.clone(),
                        _ => None,
                    })
                    .collect();
                differ("first names", want, &got.join(", "));
            }
            let reported: Vec<String> = invalid
                .iter()
                .flat_map(|r| match r {
                    RowOutcome::Invalid { line, errors } => errors
                        .iter()
                        .map(|e| match &e.column {
                            Some(c) => format!("line {line} {c}: {}", e.message),
                            None => format!("line {line}: {}", e.message),
                        })
                        .collect::<Vec<_>>(),
                    _ => Vec::new(),
                })
                .collect();
            // `line N [Column]: text` — each expected error matches one reported error,
            // which starts with the line and column and contains the text; a reported error
            // that no expected one matches fails too.
            problems.extend(match_errors(expected_errors, &reported, |want, r| {
                let (place, text) = want.split_once(": ").unwrap_or((want, ""));
                r.starts_with(&format!("{place}: ")) && r.contains(text)
            }));
        }
        (other, _) => problems.push(format!("unknown outcome `{other}`")),
    }
    problems
}

#[tokio::test]
async fn every_bad_file_has_its_expected_outcome() {
    let files = cases();
    assert!(
        files.len() >= 30,
        "the folder holds the whole catalogue ({} files)",
        files.len()
    );
    check_all(&files, Backend::Sqlite).await;
}

/// The `applied` cases again, on PostgreSQL (`TEST_POSTGRES_URL`).
#[tokio::test]
async fn the_applied_cases_hold_on_postgres() {
    let files: Vec<PathBuf> = cases()
        .into_iter()
        .filter(|f| expectations(f).keys.get("outcome").map(String::as_str) == Some("applied"))
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    check_all(&files, Backend::Postgres).await;
}

async fn check_all(files: &[PathBuf], backend: Backend) {
    let mut failures = Vec::new();
    for f in files {
        let problems = check(f, backend).await;
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  {}",
                f.file_name().unwrap().to_string_lossy(),
                problems.join("\n  ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
