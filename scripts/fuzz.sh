#!/usr/bin/env bash
# Fuzzes the import engine's file pipeline (fuzz/fuzz_targets/file_pipeline.rs) with
# libFuzzer for SECONDS (default 60), starting from the bad-files catalogue, and appends
# the run to fuzz/runs.md. A crash stops the run and leaves its input in
# fuzz/artifacts/file_pipeline/; turn it into a catalogue file (app/tests/bad-files/).
#
#   bash scripts/fuzz.sh 1800     # half an hour
source "$(dirname "$0")/lib.sh"
SECONDS_TO_RUN="${1:-60}"
CARGO_FUZZ_VERSION=0.13.2
cd "$ROOT"

if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION"; then
    say "Installing cargo-fuzz $CARGO_FUZZ_VERSION (once)"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# Seeds: every catalogue file, once per action (the first byte of an input chooses it).
SEEDS="$ROOT/target/fuzz/seeds"
CORPUS="$ROOT/target/fuzz/corpus"
mkdir -p "$SEEDS" "$CORPUS"
find "$ROOT/app/tests/bad-files" -type f ! -name '*.expected' ! -name '*.md' | while read -r file; do
    name="$(basename "$file")"
    for choice in 0 1 2; do
        { printf "\\x0$choice"; cat "$file"; } > "$SEEDS/$choice-$name"
    done
done

say "Fuzzing the file pipeline for $SECONDS_TO_RUN s"
log="$ROOT/target/fuzz/last-run.log"
# cargo-fuzz needs nightly flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP.
# Without a sanitizer: the engine is safe Rust, and the run tests more inputs a second.
status=0
RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz --sanitizer none \
    --target-dir "$ROOT/target/fuzz/build" file_pipeline "$CORPUS" "$SEEDS" -- \
    -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 2>&1 | tee "$log" | grep -E '^(#[0-9]+ +(DONE|pulse)|==|Done|SUMMARY|thread)' || true
grep -qE '^Done [0-9]+ runs' "$log" || status=1

runs="$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/p' "$log" | tail -n1)"
took="$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/p' "$log" | tail -n1)"
if [ "$status" -eq 0 ]; then outcome="no crash"; else outcome="**crash** (see fuzz/artifacts/file_pipeline/)"; fi
[ -f fuzz/runs.md ] || printf '# Fuzzing runs of the file pipeline\n\n| date | commit | seconds | inputs tried | outcome |\n|---|---|---|---|---|\n' > fuzz/runs.md
printf '| %s | %s | %s | %s | %s |\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(git rev-parse --short HEAD)" \
    "${took:-?}" "${runs:-?}" "$outcome" >> fuzz/runs.md
tail -n1 fuzz/runs.md
exit "$status"
