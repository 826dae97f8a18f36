#!/usr/bin/env bash
# The end-to-end scenarios (pg_test/) on one PostgreSQL version (default 15). Installs that
# version's debug build of the extension and a debug walrs command where the postgres OS user
# can run it, builds every scenario once, then runs them in two lanes side by side:
#   - the scenarios that mostly wait (for a schedule's next minute, pg_cron's next minute, a
#     storage outage to end, PostgreSQL's restart after a crash), one after another;
#   - all the others, one after another.
# The waiting lane uses little CPU, so the other lane's timing stays what it is alone.
# Every scenario runs even when one fails (each binary's own "test result" line says how it
# went); the script fails if any did. WALRS_E2E_ONLY="a b" runs just those scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
v="${1:-15}"
export PATH="$HOME/.cargo/bin:$PATH"
# build.rs links the cdylib with pgrx's flag, so cargo-pgrx need not change every crate's flags.
export CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND=1
pg_config=$(scripts/pg-config.sh "$v")
WAITING=(backup_schedule retention_pg_cron cloud_outage fault_archiver_killed)

echo "==> end-to-end scenarios on PostgreSQL $v"
cargo pgrx install --pg-config "$pg_config" --features "pg${v}" --no-default-features
cargo build --locked -p walrs-cli
# A directory of this run's own: two runs on one machine must not replace each other's binary.
mkdir -p /tmp/walrs-e2e
chmod 755 /tmp/walrs-e2e
bin=$(mktemp -d /tmp/walrs-e2e/bin.XXXXXX)
chmod 755 "$bin"
install -m 0755 target/debug/walrs "$bin/walrs"
export WALRS_PG_BINDIR="$(dirname "$pg_config")" WALRS_BIN="$bin/walrs"

# Build every scenario (pg_test/build.rs reads the server version from WALRS_PG_BINDIR) and
# list each one's test binary as "name path".
list=$(mktemp)
lane_log=$(mktemp)
trap 'rm -f "$list" "$lane_log"; rm -rf "$bin"' EXIT
cargo test --locked -p walrs-pg-test --no-run --message-format=json-render-diagnostics \
  | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])
' | sort >"$list"

selected() { # selected waiting|others: the scenarios of that lane, as "name path" lines
  local name path lane
  while read -r name path; do
    case " ${WALRS_E2E_ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
    case " ${WAITING[*]} " in *" $name "*) lane=waiting ;; *) lane=others ;; esac
    [ "$lane" = "$1" ] && echo "$name $path"
  done <"$list"
  return 0
}

run_lane() { # run_lane waiting|others: each scenario's binary in turn, as cargo test would
  local failed=0 name path s
  while read -r name path; do
    echo "     Running pg_test/tests/$name.rs (PostgreSQL $v, lane: $1)"
    s=$(date +%s)
    (cd pg_test && "$path" --test-threads=1) || { failed=1; echo "FAILED: scenario $name on PostgreSQL $v"; }
    echo "     scenario $name: $(($(date +%s) - s)) s"
  done < <(selected "$1")
  return $failed
}

run_lane waiting >"$lane_log" 2>&1 &
waiting_pid=$!
others_rc=0
run_lane others || others_rc=$?
waiting_rc=0
wait "$waiting_pid" || waiting_rc=$?
echo "---- the waiting lane on PostgreSQL $v (${WAITING[*]}) ----"
cat "$lane_log"
if [ "$others_rc" != 0 ] || [ "$waiting_rc" != 0 ]; then
  echo "end-to-end scenarios on PostgreSQL $v: FAILED (see the FAILED lines above)"
  exit 1
fi
