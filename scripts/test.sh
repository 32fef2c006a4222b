#!/usr/bin/env bash
# Sets up everything and runs the whole test suite: formatting, lints (server and
# browser code), unit tests, integration tests on SQLite and PostgreSQL, and the
# browser tests in Chromium.
source "$(dirname "$0")/lib.sh"
setup_build_tools
setup_browser_tools
ensure_postgres
cd "$ROOT"
# A full run needs several GB for its build; say how much there is, so that a run that fails
# for want of space is recognised as such.
say "Free disk space: $(df -h --output=avail "$ROOT" | tail -n1 | tr -d ' ')"
# CI builds once from a fresh clone: incremental compilation would only add about 12 GB of
# files that no later build reads.
if [ "${CI:-}" = "true" ]; then
    export CARGO_INCREMENTAL=0
fi

export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# Each integration test creates its own database; remove those of earlier runs.
psql "$TEST_POSTGRES_URL" -qAt -c "SELECT datname FROM pg_database WHERE datname LIKE 'crm\_test\_%'" \
    | while read -r db; do psql "$TEST_POSTGRES_URL" -q -c "DROP DATABASE IF EXISTS \"$db\"" || true; done

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (server side)"
cargo clippy --all-targets -- -D warnings
say "cargo clippy (browser side, wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

say "Unit and integration tests (SQLite and PostgreSQL)"
cargo test

say "Building the site (server + hydrated wasm)"
cargo leptos build

say "Browser tests (Playwright, Chromium)"
(cd end2end && npx playwright test)

say "Load test (debug build, not recorded; the recorded one: bash scripts/load.sh)"
cargo build -p server -p bench --bins
target/debug/bench --load --server target/debug/server --no-record --dir target/load-test

say "Fuzzing the import engine for 60 s (longer runs: bash scripts/fuzz.sh SECONDS)"
bash scripts/fuzz.sh 60
