#!/usr/bin/env bash
# Build and install the extension into PostgreSQL, and build the walrs command.
set -euo pipefail
PG_VERSION="${PG_VERSION:-15}"
PG_CONFIG="/usr/lib/postgresql/${PG_VERSION}/bin/pg_config"
export PATH="$HOME/.cargo/bin:$PATH"
cargo pgrx install --release --pg-config "$PG_CONFIG" --features "pg${PG_VERSION}" --no-default-features
cargo build --release --locked -p walrs-cli
install -m 0755 target/release/walrs /usr/local/bin/walrs
echo "installed: $("$PG_CONFIG" --pkglibdir)/walrs.so and /usr/local/bin/walrs"
