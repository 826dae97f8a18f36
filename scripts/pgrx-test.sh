#!/usr/bin/env bash
# Run the #[pg_test]s against one PostgreSQL version (default 15), with the test cluster run
# by the postgres OS user.
set -euo pipefail
cd "$(dirname "$0")/.."
v="${1:-15}"
export PATH="$HOME/.cargo/bin:$PATH"
# build.rs links the cdylib with pgrx's flag, so cargo-pgrx need not change every crate's flags.
export CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND=1
pgdata="/tmp/walrs-pgrx-${v}"
rm -rf "$pgdata"
mkdir -p "$pgdata"
chown postgres "$pgdata"
echo "==> cargo pgrx test pg${v}"
cargo pgrx test "pg${v}" --runas postgres --pgdata "$pgdata"
