#!/usr/bin/env bash
# Builds the release site (server in target/release/server, site in target/site) and prints
# the size of the browser bundle, raw and gzipped (SPEC §9: under 400 KB gzipped).
source "$(dirname "$0")/lib.sh"
setup_build_tools
cd "$ROOT"

say "cargo leptos build --release"
cargo leptos build --release

wasm="target/site/pkg/crm.wasm"
js="target/site/pkg/crm.js"
say "Browser bundle"
printf '%-28s %10s %14s\n' file bytes "gzip -9 bytes"
for f in "$wasm" "$js"; do
    printf '%-28s %10s %14s\n' "$f" "$(stat -c %s "$f")" "$(gzip -9 -c "$f" | wc -c)"
done
