//! Every file in `tests/bad-files/` against its `.expected` outcome (see the README there).

#![cfg(feature = "ssr")]

use app::import::prepare::{Limits, RowOutcome, prepare};
use app::model::{Delimiter, ImportAction};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-files");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the bad-files folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e != "expected" && e != "md"))
        .collect();
    files.sort();
    files
}

/// The `.expected` file: single keys, and the repeated `error` key as a list.
fn expectations(file: &Path) -> (HashMap<String, String>, Vec<String>) {
    let path = PathBuf::from(format!("{}.expected", file.display()));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} has no .expected file", file.display()));
    let mut keys = HashMap::new();
    let mut errors = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("bad line `{line}` in {}", path.display()));
        if key == "error" {
            errors.push(value.to_owned());
        } else {
            keys.insert(key.to_owned(), value.to_owned());
        }
    }
    (keys, errors)
}

fn delimiter_name(byte: u8) -> &'static str {
    match byte {
        b',' => "comma",
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "other",
    }
}

/// Checks one file; returns what differs from the expectation.
fn check(file: &Path) -> Vec<String> {
    let (expected, expected_errors) = expectations(file);
    let bytes = std::fs::read(file).expect("read the file");
    let action: ImportAction = expected["action"].parse().expect("action");
    let delimiter: Delimiter = expected
        .get("delimiter")
        .map_or(Ok(Delimiter::Auto), |d| d.parse())
        .expect("delimiter");
    let today = chrono::Utc::now().date_naive();
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
            for want in &expected_errors {
                // `line N [Column]: text` — the reported error must start with the line and
                // column and contain the text.
                let (place, text) = want.split_once(": ").unwrap_or((want, ""));
                if !reported
                    .iter()
                    .any(|r| r.starts_with(&format!("{place}: ")) && r.contains(text))
                {
                    problems.push(format!("missing error `{want}`; reported: {reported:?}"));
                }
            }
        }
        (other, _) => problems.push(format!("unknown outcome `{other}`")),
    }
    problems
}

#[test]
fn every_bad_file_has_its_expected_outcome() {
    let files = cases();
    assert!(
        files.len() >= 27,
        "the folder holds the whole catalogue ({} files)",
        files.len()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let problems = check(f);
            (!problems.is_empty()).then(|| {
                format!(
                    "{}:\n  {}",
                    f.file_name().unwrap().to_string_lossy(),
                    problems.join("\n  ")
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
