# Shared by scripts/run.sh, scripts/test.sh and .ci/run: installs what building and
# testing need, skipping whatever is already installed at the right version.
# Source it; do not run it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${CRM_TOOLS_DIR:-$HOME/.cache/crm-tools}"
CARGO_LEPTOS_VERSION=0.3.10
BINARYEN_VERSION=132.0.0
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/binaryen/bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }

# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

setup_build_tools() {
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        say "Adding the wasm32 target"
        rustup target add wasm32-unknown-unknown
    fi
    if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION"; then
        say "Installing cargo-leptos $CARGO_LEPTOS_VERSION (takes a while, once)"
        cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
    fi
    local bindgen
    bindgen="$(wasm_bindgen_version)"
    if ! wasm-bindgen --version 2>/dev/null | grep -q " $bindgen"; then
        say "Installing wasm-bindgen-cli $bindgen"
        cargo install wasm-bindgen-cli --version "$bindgen" --locked \
            || cargo install wasm-bindgen-cli --version "$bindgen"
    fi
    if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
        say "Installing wasm-opt (binaryen $BINARYEN_VERSION from npm)"
        mkdir -p "$TOOLS"
        npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION"
    fi
}

setup_browser_tools() {
    if [ ! -x /usr/bin/chromium ]; then
        say "Installing Chromium"
        if [ "$(id -u)" -eq 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
        else
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
        fi
    fi
    if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
        say "Installing Playwright (no browser download: it drives /usr/bin/chromium)"
        (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
    fi
}

# Starts the local PostgreSQL cluster when it is not answering.
ensure_postgres() {
    if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
        return
    fi
    say "Starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do
        pg_isready -h 127.0.0.1 -p 5432 -q && return
        sleep 1
    done
    echo "PostgreSQL did not start on 127.0.0.1:5432" >&2
    return 1
}
