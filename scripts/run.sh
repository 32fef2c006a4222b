#!/usr/bin/env bash
# Sets up everything and runs the back office on http://127.0.0.1:3000 with its embedded
# default database (an SQLite file under data/). The first start creates the first admin:
# ADMIN_EMAIL (default admin@example.com) with ADMIN_PASSWORD, or a generated password
# printed once below.
source "$(dirname "$0")/lib.sh"
setup_build_tools
cd "$ROOT"
export COOKIE_SECURE="${COOKIE_SECURE:-false}"
say "Building (release) and starting the server"
exec cargo leptos serve --release
