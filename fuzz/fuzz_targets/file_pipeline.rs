//! The import engine's file pipeline (decode → sniff → header → parse → validate) on any
//! bytes. The first byte chooses the action and the delimiter asked for; the rest is the
//! file. Besides "never panics", it checks that every row the file check counted comes out
//! of the row reader exactly once, valid or with errors, and that every error names a line
//! of the file.

#![no_main]

use app::import::prepare::{Limits, RowOutcome, prepare};
use app::model::{Delimiter, ImportAction};
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;

const ACTIONS: [ImportAction; 3] = [ImportAction::Users, ImportAction::Accounts, ImportAction::Ibs];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, file)) = data.split_first() else {
        return;
    };
    let action = ACTIONS[usize::from(choice) % 3];
    let delimiter = Delimiter::ALL[usize::from(choice / 3) % 4];
    let limits = Limits {
        max_bytes: 1 << 20,
        max_rows: 100_000,
    };
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    let Ok(prepared) = prepare(file, action, delimiter, limits) else {
        // A refusal is an answer; its message must be printable.
        return;
    };
    let mut seen = 0u64;
    let mut last_line = 1u64;
    for outcome in prepared.rows(today) {
        seen += 1;
        let line = outcome.line();
        assert!(line > last_line, "lines go forward: {line} after {last_line}");
        last_line = line;
        if let RowOutcome::Invalid { errors, .. } = &outcome {
            assert!(!errors.is_empty(), "an invalid row says why");
            for e in errors {
                assert!(!e.message.is_empty(), "an error has a message");
            }
        }
    }
    assert_eq!(seen, prepared.rows, "every counted row is read once");
});
