#!/usr/bin/env bash
# Install what `make bench` needs on Debian 12, as root. Idempotent: a second run takes seconds.
#
# - Debian packages: PostgreSQL 15 with contrib (basic_archive, pgbench), pgBackRest, lz4,
#   python3-yaml (the monitoring runs read docs/postgres_exporter/queries.yaml),
#   GNU time (peak RSS), python3-matplotlib (the chart), rsync (the private PostgreSQL copy).
# - A release build of walrs (`cargo pgrx package`, never installed into the system PostgreSQL)
#   and a private copy of PostgreSQL 15 under $BENCH_ROOT with walrs overlaid, so benchmarks
#   never disturb anyone else's /usr/lib/postgresql/15.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:$PATH"
BENCH_ROOT="${BENCH_ROOT:-/opt/walrs-bench/root}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

say() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "bench/install.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(postgresql-15 postgresql-contrib postgresql-server-dev-15 pgbackrest lz4 time python3-matplotlib python3-yaml rsync
          libclang-dev clang pkg-config build-essential)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
  say "stopping Debian's default cluster (not used by the benchmark)"
  pg_lsclusters -h | awk '$4 == "online" {print $1, $2}' | while read -r v c; do pg_ctlcluster "$v" "$c" stop || true; done
fi

if ! command -v cargo-pgrx >/dev/null; then
  echo "bench/install.sh: cargo-pgrx is missing; run 'make deps' first" >&2
  exit 1
fi

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  say "building walrs (release): extension package and the walrs command"
  cargo pgrx package --pg-config "$PG_CONFIG" --features pg15 --no-default-features >/dev/null
  cargo build --release --locked -p walrs-cli
  cargo build --release --locked -p walrs-core --example codec_speed
fi
pkg="$CARGO_TARGET_DIR/release/walrs-pg15"
[ -f "$pkg/usr/lib/postgresql/15/lib/walrs.so" ] || { echo "bench/install.sh: no package in $pkg" >&2; exit 1; }

say "private PostgreSQL 15 in $BENCH_ROOT"
mkdir -p "$BENCH_ROOT/usr/lib/postgresql/15" "$BENCH_ROOT/usr/share/postgresql/15" "$BENCH_ROOT/bin"
# Mirror the system installation, minus whatever walrs build someone else installed there.
rsync -a --delete --exclude 'walrs*' /usr/lib/postgresql/15/ "$BENCH_ROOT/usr/lib/postgresql/15/"
rsync -a --delete --exclude 'extension/walrs*' /usr/share/postgresql/15/ "$BENCH_ROOT/usr/share/postgresql/15/"
cp -a "$pkg/usr/lib/postgresql/15/lib/." "$BENCH_ROOT/usr/lib/postgresql/15/lib/"
cp -a "$pkg/usr/share/postgresql/15/extension/." "$BENCH_ROOT/usr/share/postgresql/15/extension/"
install -m 0755 "$CARGO_TARGET_DIR/release/walrs" "$BENCH_ROOT/bin/walrs"
install -m 0755 "$CARGO_TARGET_DIR/release/examples/codec_speed" "$BENCH_ROOT/bin/walrs-codec-speed"
chmod 0755 /opt/walrs-bench "$BENCH_ROOT" 2>/dev/null || true

bin="$BENCH_ROOT/usr/lib/postgresql/15/bin"
got_share=$("$bin/pg_config" --sharedir)
got_lib=$("$bin/pg_config" --pkglibdir)
if [ "$got_share" != "$BENCH_ROOT/usr/share/postgresql/15" ] || [ "$got_lib" != "$BENCH_ROOT/usr/lib/postgresql/15/lib" ]; then
  echo "bench/install.sh: the private PostgreSQL resolves share=$got_share lib=$got_lib, not under $BENCH_ROOT" >&2
  exit 1
fi
say "ready: $bin (walrs $(md5sum < "$BENCH_ROOT/usr/lib/postgresql/15/lib/walrs.so" | cut -c1-8)), $BENCH_ROOT/bin/walrs"
