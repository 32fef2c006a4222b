#!/usr/bin/env bash
# The import benchmark (SPEC §9): builds the release server and the benchmark (the `bench`
# crate), generates its data under target/bench/, imports it on SQLite and PostgreSQL next
# to raw sqlite3/psql loads of the same file, prints one table and appends it to
# bench/results.md.
#
#   bash scripts/bench.sh            # 1,000,000 rows for the large import
#   bash scripts/bench.sh --quick    # 100,000 rows instead: a fast trial run
#
# Other options (`--rows N`, `--db sqlite|postgres`, `--skip-memory-run`, `--no-record` …):
# see bench/README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

for tool in sqlite3 psql; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is needed (the raw-load references)" >&2; exit 1; }
done
ensure_postgres

say "Building the release server and the benchmark"
cargo build --release -p server -p bench --bins

say "Running the benchmark"
exec target/release/bench "$@"
