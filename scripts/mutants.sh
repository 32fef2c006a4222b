#!/usr/bin/env bash
# Mutation testing of the import engine with cargo-mutants (tests/MUTANTS.md): every
# mutant of the engine's file stages and of its apply/revert code that the tests let
# through is a bug they would miss. What is examined and which tests run is in
# .cargo/mutants.toml. Not part of CI: on 2 cores the whole engine takes hours, so scope
# each run and record it in tests/MUTANTS.md with the line this script prints.
#
#   bash scripts/mutants.sh --file app/src/import/value.rs    # one file
#   bash scripts/mutants.sh --shard 1/8                       # an eighth of the engine
#   bash scripts/mutants.sh                                   # all of it
#
# It tests the committed HEAD in a worktree of its own (target/mutants/tree), so the
# working tree is never mutated and an interrupted run leaves nothing behind. It builds
# into a target directory of its own (target/mutants/target), seeded on the first run
# with the dependencies the project's debug build already compiled; each mutant then
# recompiles the app crate alone. Outcomes: target/mutants/out/<run>/mutants.out.
#
# Each run makes two passes. The first runs a part of the tests that builds in about half
# the time: the unit tests for the file stages (.cargo/mutants-unit.toml), the engine's
# database tests for a run of files under app/src/jobs/ only (.cargo/mutants-engine.toml).
# The second runs every test of .cargo/mutants.toml against what the first did not catch
# (cargo-mutants --iterate). The result is that of the whole set for every mutant.
#
# MUTANTS_SLOT=2 bash scripts/mutants.sh --file …  runs beside a first run, in a worktree and a
# target directory of its own (seeded from the first's): on 2 cores two runs together do
# about half as much again as one, as each mutant's build is mostly single-threaded.
source "$(dirname "$0")/lib.sh"
CARGO_MUTANTS_VERSION=27.1.0
cd "$ROOT"

if ! cargo mutants --version 2>/dev/null | grep -q " $CARGO_MUTANTS_VERSION"; then
    say "Installing cargo-mutants $CARGO_MUTANTS_VERSION (once)"
    cargo install cargo-mutants --version "$CARGO_MUTANTS_VERSION" --locked
fi
ensure_postgres

commit="$(git rev-parse --short HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "note: uncommitted changes are not tested; this run tests $commit" >&2
fi
slot="${MUTANTS_SLOT:-1}"
suffix=""
[ "$slot" = 1 ] || suffix="-$slot"
tree="$ROOT/target/mutants/tree$suffix"
if [ ! -e "$tree/.git" ]; then
    rm -rf "$tree"
    git worktree prune
    git worktree add --detach "$tree" "$commit" >/dev/null
else
    git -C "$tree" checkout --detach --force "$commit" >/dev/null 2>&1
    git -C "$tree" clean -fdq
fi

# Not the project's target directory: both trees' app crates have the same artifact
# names there, so each would rebuild the other's.
export CARGO_TARGET_DIR="$ROOT/target/mutants/target$suffix"
seed="$ROOT/target/debug"
[ "$slot" = 1 ] || seed="$ROOT/target/mutants/target/debug"
if [ ! -d "$CARGO_TARGET_DIR/debug/deps" ] && [ -d "$seed/deps" ]; then
    say "Seeding ${CARGO_TARGET_DIR#"$ROOT/"} with the compiled dependencies"
    mkdir -p "$CARGO_TARGET_DIR/debug"
    cp -a "$seed/deps" "$seed/build" "$seed/.fingerprint" "$CARGO_TARGET_DIR/debug/"
fi
# The engine: its file stages and its apply/revert code. A run given --file or --shard
# scopes itself within them (--file on its own replaces them).
ENGINE=(
    app/src/import/decode.rs
    app/src/import/sniff.rs
    app/src/import/header.rs
    "app/src/import/stream/**/*.rs"
    app/src/import/value.rs
    app/src/import/validate.rs
    app/src/import/prepare.rs
    "app/src/jobs/apply/*.rs"
    app/src/jobs/revert.rs
    app/src/jobs/changes.rs
)
scope=()
case " $* " in
    *" --file "* | *" -f "* | *" --file="*) ;;
    *) for glob in "${ENGINE[@]}"; do scope+=(--file "$glob"); done ;;
esac
run="$(date -u +%Y%m%dT%H%M%S)-$commit$suffix"
out="$ROOT/target/mutants/out/$run"
mkdir -p "$out"
first=unit
case " $* " in
    *" --file "* | *" -f "* | *" --file="*)
        # Files given: the engine's tests first when every one of them is apply/revert code
        # (other options' values, such as --re's patterns, do not count).
        first=engine
        prev=""
        for arg in "$@"; do
            file=""
            case "$prev" in --file | -f) file="$arg" ;; esac
            case "$arg" in --file=*) file="${arg#--file=}" ;; esac
            case "$file" in "" | app/src/jobs/*) ;; *) first=unit ;; esac
            prev="$arg"
        done
        ;;
esac
say "Mutating the engine at $commit ($*): $first tests first, then every test on what they miss"
started="$(date +%s)"
status=0
# --in-place: the worktree is this run's own copy; its target directory stays warm.
(cd "$tree" && cargo mutants --in-place --no-shuffle --output "$out" \
    --config "$tree/.cargo/mutants-$first.toml" "${scope[@]}" "$@") || status=$?
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts: a result, not a failure.
case "$status" in 0 | 2 | 3) ;; *) exit "$status" ;; esac
cp "$out/mutants.out/outcomes.json" "$out/first-pass.json"
if [ "$status" != 0 ]; then
    status=0
    (cd "$tree" && cargo mutants --in-place --no-shuffle --output "$out" --iterate \
        "${scope[@]}" "$@") || status=$?
    case "$status" in 0 | 2 | 3) ;; *) exit "$status" ;; esac
fi

minutes=$(( ($(date +%s) - started + 59) / 60 ))
python3 - "$out/first-pass.json" "$out/mutants.out/outcomes.json" "$commit" "$minutes" "$*" <<'EOF'
import json, sys, datetime
first, second, commit, minutes, scope = sys.argv[1:]
# Each mutant's last outcome: the second pass's where it ran one.
final = {}
for path in (first, second):
    for o in json.load(open(path))["outcomes"]:
        if o["scenario"] != "Baseline":
            final[json.dumps(o["scenario"], sort_keys=True)] = o["summary"]
counts = {"CaughtMutant": 0, "MissedMutant": 0, "Timeout": 0, "Unviable": 0}
for summary in final.values():
    counts[summary] = counts.get(summary, 0) + 1
caught, missed, timeout = counts["CaughtMutant"], counts["MissedMutant"], counts["Timeout"]
viable = caught + missed + timeout
score = 100.0 * (caught + timeout) / viable if viable else 100.0
print()
print("For tests/MUTANTS.md (date, commit, scope, caught, missed, timeout, unviable, minutes):")
print(f"| {datetime.date.today()} | {commit} | {scope or 'all'} | {caught} | {missed} | "
      f"{timeout} | {counts['Unviable']} | {minutes} |")
print(f"caught {score:.1f}% of {viable} viable mutants")
EOF
if [ -s "$out/mutants.out/missed.txt" ]; then
    echo
    echo "Missed:"
    cat "$out/mutants.out/missed.txt"
fi
