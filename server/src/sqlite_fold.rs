//! SQLite's own `lower()` folds ASCII letters only: `lower('Шестаков')` is `Шестаков`, so a
//! search for `шестаков` (or an email that differs only by the case of a non-ASCII letter)
//! would find nothing there while PostgreSQL finds it. Every SQLite connection of the server
//! replaces it with [`app::model::fold_case`], the folding the server applies to what it
//! looks for. sqlx can register collations but not functions, so this registers it through
//! SQLite's C interface (the library sqlx links).
//!
//! The indexes on `lower(...)` are computed with the function of the connection that writes
//! a row: the database file must be written by this server only (migration 000012 rebuilds
//! the indexes an older server computed with SQLite's `lower()`).

use libsqlite3_sys as ffi;
use std::ffi::c_int;
use std::ptr::NonNull;

/// Makes `lower(x)` on this connection fold the case of every alphabet.
pub fn register(db: NonNull<ffi::sqlite3>) -> Result<(), String> {
    // SAFETY: `db` is an open connection, locked by the caller for the duration of the
    // call; the name is a C string literal; `lower` has the signature SQLite calls and
    // keeps no state (no user data, no destructor).
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            db.as_ptr(),
            c"lower".as_ptr(),
            1,
            // Deterministic (it may be used in indexes) and innocuous (harmless in a schema
            // that is not trusted).
            ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
            std::ptr::null_mut(),
            Some(lower),
            None,
            None,
            None,
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!(
            "SQLite refused the Unicode lower() function (code {rc})"
        ))
    }
}

thread_local! {
    /// The folded text of the last call on this thread, kept to be reused: `lower()` runs
    /// once per row and index for every client an import writes.
    static FOLDED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// `lower(x)`: NULL stays NULL; anything else is read as text (as SQLite's own does) and
/// folded. Text that is not valid UTF-8 has its ASCII letters folded and the rest kept.
/// Text with nothing to fold (ASCII without capitals: most emails) is answered as it is.
unsafe extern "C" fn lower(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: SQLite calls this with `argc` (registered as 1) valid values in `argv`, and a
    // context valid until it returns; the text it hands out lives until the value is next
    // converted, and the result is copied (SQLITE_TRANSIENT, or `sqlite3_result_value`)
    // before this returns.
    unsafe {
        if argc != 1 {
            ffi::sqlite3_result_null(ctx);
            return;
        }
        let value = *argv;
        let kind = ffi::sqlite3_value_type(value);
        if kind == ffi::SQLITE_NULL {
            ffi::sqlite3_result_null(ctx);
            return;
        }
        let text = ffi::sqlite3_value_text(value);
        if text.is_null() {
            ffi::sqlite3_result_error_nomem(ctx);
            return;
        }
        let len = usize::try_from(ffi::sqlite3_value_bytes(value)).unwrap_or(0);
        let bytes = std::slice::from_raw_parts(text, len);
        if kind == ffi::SQLITE_TEXT
            && bytes
                .iter()
                .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
        {
            ffi::sqlite3_result_value(ctx, value);
            return;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            result_text(ctx, &bytes.to_ascii_lowercase());
            return;
        };
        FOLDED.with_borrow_mut(|folded| {
            folded.clear();
            app::model::fold_case_into(text, folded);
            result_text(ctx, folded.as_bytes());
        });
    }
}

/// Answers `text` (copied by SQLite before this returns).
///
/// # Safety
/// `ctx` is the context of a call of a function that is under way.
unsafe fn result_text(ctx: *mut ffi::sqlite3_context, text: &[u8]) {
    // SAFETY: as the caller promises; SQLITE_TRANSIENT makes SQLite copy `text` at once.
    unsafe {
        match c_int::try_from(text.len()) {
            Ok(n) => {
                ffi::sqlite3_result_text(ctx, text.as_ptr().cast(), n, ffi::SQLITE_TRANSIENT())
            }
            Err(_) => ffi::sqlite3_result_error_toobig(ctx),
        }
    }
}
