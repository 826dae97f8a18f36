#!/usr/bin/env bash
# make test: every tier on every PostgreSQL version in $PG_VERSIONS, after installing what it
# needs into prefixes made new for this run.
#
# The project's own install steps (PostgreSQL 16-18 server builds, pgrx's home and `cargo pgrx
# init`, moto and Azurite) run every time, into an empty directory under $WALRS_TEST_ROOT
# (default /var/tmp/walrs-test), so an earlier run's results can never stand in for a broken
# install step: a machine with leftovers and one without run the same steps. Download caches
# (pip's, npm's, cargo's registry, ~/.cache/walrs/downloads), Debian's packages and the
# cargo-pgrx binary stay. The previous run's directory is removed first.
#
# Prints each step's time and, last, one line with the tests passed, failed and skipped
# (ignored) over all tiers.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# Every build here starts cold in CI; incremental compilation only costs time then.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
PG_VERSIONS="${PG_VERSIONS:-15 16 17 18}"
export PG_VERSIONS

root="${WALRS_TEST_ROOT:-/var/tmp/walrs-test}"
rm -rf "$root"
run="$root/run-$(date -u +%Y%m%dT%H%M%S)"
mkdir -p "$run"
chmod 755 "$root" "$run"
export WALRS_PG_PREFIX="$run/pg" PGRX_HOME="$run/pgrx" WALRS_SERVERS_DIR="$run/servers"
log="$run/test.log"
exec > >(tee "$log") 2>&1

echo "==> make test: fresh prefixes under $run"
echo "    WALRS_PG_PREFIX=$WALRS_PG_PREFIX PGRX_HOME=$PGRX_HOME WALRS_SERVERS_DIR=$WALRS_SERVERS_DIR"

started=$(date +%s)
times=()
step() { # step NAME COMMAND...: run it, record its time, stop the run if it fails
  local name=$1 s
  shift
  s=$(date +%s)
  if ! "$@"; then
    echo "make test: FAILED in step '$name' after $(($(date +%s) - s)) s"
    summary
    exit 1
  fi
  times+=("$(printf '%-44s %5d s' "$name" $(($(date +%s) - s)))")
}

summary() { # the times so far, and the counts from every test runner's closing line
  echo
  echo "==> make test: time per step (PostgreSQL $PG_VERSIONS)"
  printf '    %s\n' "${times[@]}"
  printf '    %-44s %5d s\n' "total" $(($(date +%s) - started))
  awk '/^test result: /{
         for (i = 1; i <= NF; i++) {
           if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i
         }
       }
       END { printf "walrs: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
  echo "    skipped tests and why:"
  grep -E '^test .* \.\.\. ignored' "$log" | sed 's/^/      /' | sort | uniq -c | sed 's/^ */      /' || echo "      none"
}

step "formatting (cargo fmt --check)" scripts/lint.sh fmt
step "install (apt, PostgreSQL 16-18, cargo-pgrx, init, servers)" scripts/install-deps.sh
step "lints (cargo clippy -D warnings)" scripts/lint.sh clippy
step "core and CLI tests" cargo test --locked -p walrs-core -p walrs-cli
for v in $PG_VERSIONS; do
  step "PostgreSQL $v: #[pg_test]s" scripts/pgrx-test.sh "$v"
  step "PostgreSQL $v: end-to-end scenarios" scripts/e2e.sh "$v"
done
summary
echo "make test: all tiers passed on PostgreSQL $PG_VERSIONS in $(($(date +%s) - started)) s"
