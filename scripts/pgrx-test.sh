#!/usr/bin/env bash
# Run the #[pg_test]s: cargo pgrx test, with the test cluster run by the postgres OS user.
set -euo pipefail
PG_VERSION="${PG_VERSION:-15}"
export PATH="$HOME/.cargo/bin:$PATH"
pgdata="/tmp/walrs-pgrx-${PG_VERSION}"
rm -rf "$pgdata"
mkdir -p "$pgdata"
chown postgres "$pgdata"
# The test cluster's postgres must be able to reach the build tree it loads from.
chmod o+x "$(pwd)" "$(dirname "$(pwd)")" 2>/dev/null || true
cargo pgrx test "pg${PG_VERSION}" --runas postgres --pgdata "$pgdata"
