#!/usr/bin/env bash
# The end-to-end scenarios (pg_test/) on one PostgreSQL version (default 15). Installs that
# version's debug build of the extension (it shares the build `cargo pgrx test` just made) and a
# debug walrs command where the postgres OS user can run it, then runs every scenario against
# that version's server binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
v="${1:-15}"
export PATH="$HOME/.cargo/bin:$PATH"
pg_config=$(scripts/pg-config.sh "$v")
echo "==> end-to-end scenarios on PostgreSQL $v"
cargo pgrx install --pg-config "$pg_config" --features "pg${v}" --no-default-features
cargo build --locked -p walrs-cli
bin=/tmp/walrs-e2e/bin
mkdir -p "$bin"
chmod 755 /tmp/walrs-e2e "$bin"
install -m 0755 target/debug/walrs "$bin/walrs"
WALRS_PG_BINDIR="$(dirname "$pg_config")" WALRS_BIN="$bin/walrs" \
  cargo test --locked -p walrs-pg-test -- --test-threads=1
