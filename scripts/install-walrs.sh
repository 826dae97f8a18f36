#!/usr/bin/env bash
# Build and install the extension into one PostgreSQL version (default 15), and build the
# walrs command into /usr/local/bin. PROFILE=debug installs a debug build
# instead of the default release build.
set -euo pipefail
cd "$(dirname "$0")/.."
v="${1:-15}"
export PATH="$HOME/.cargo/bin:$PATH"
# build.rs links the cdylib with pgrx's flag, so cargo-pgrx need not change every crate's flags.
export CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND=1
pg_config=$(scripts/pg-config.sh "$v")
profile=(--release)
[ "${PROFILE:-release}" = debug ] && profile=()
echo "==> cargo pgrx install ${profile[*]} for PostgreSQL $v"
cargo pgrx install "${profile[@]}" --pg-config "$pg_config" --features "pg${v}" --no-default-features
cargo build --release --locked -p walrs-cli
install -m 0755 target/release/walrs /usr/local/bin/walrs
echo "installed: $("$pg_config" --pkglibdir)/walrs.so and /usr/local/bin/walrs"
