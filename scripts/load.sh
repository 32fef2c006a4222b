#!/usr/bin/env bash
# The load test: 50 readers of the Clients page and 300 wrong sign-ins for one account while
# 100,000 clients are imported over HTTP, on SQLite and PostgreSQL, against the release
# server. Prints p50/p95/p99 and errors per kind of request and appends the table to
# bench/results.md. Exits non-zero when a request that should succeed failed or the import
# did not create every client.
#
#   bash scripts/load.sh                 # both databases, 100,000 rows
#   bash scripts/load.sh --db sqlite --rows 20000 --no-record
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_postgres

say "Building the release server and the benchmark"
cargo build --release -p server -p bench --bins

say "Running the load test"
exec target/release/bench --load "$@"
