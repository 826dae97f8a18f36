#!/usr/bin/env bash
# make demo: the whole loop on a throwaway cluster and a local file:// repository.
#   archive WAL under pgbench -> base backup from SQL -> list it -> rows with timestamps after
#   the backup -> point-in-time restore into a new directory -> check exactly the rows up to T
#   are there -> verify the backup and the WAL chain -> a retention dry run.
# Everything it starts is stopped at the end; the repository stays for the user to look at.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_VERSION="${PG_VERSION:-15}"
BIN="$(dirname "$(scripts/pg-config.sh "$PG_VERSION")")"
DEMO="${WALRS_DEMO_DIR:-/tmp/walrs-demo}"
DATA="$DEMO/data"
RESTORED="$DEMO/restored"
REPO="$DEMO/repo"
PORT="${WALRS_DEMO_PORT:-5432}"
RESTORED_PORT=$((PORT + 1))
WALRS="${WALRS_BIN:-/usr/local/bin/walrs}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
indent() { sed 's/^/    /'; }
as_pg() { runuser -u postgres -- "$@"; }
psql_on() { local port=$1; shift; "$BIN/psql" -X -q -At -h "$DEMO" -p "$port" -U postgres -d postgres "$@"; }
psql_() { psql_on "$PORT" "$@"; }
fail() { printf '\n    FAILED: %s\n' "$*" >&2; exit 1; }
wait_archived() { # wait_archived SEGMENT: until the archiver has marked it done (60 s at most)
  for _ in $(seq 1 300); do
    [ -f "$DATA/pg_wal/archive_status/$1.done" ] && return 0
    sleep 0.2
  done
  fail "segment $1 was not archived in 60 s; see $DEMO/server.log"
}

stop_all() {
  for d in "$RESTORED" "$DATA"; do
    [ -f "$d/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$d" -m fast -w stop >/dev/null 2>&1 || true
  done
}
stop_all
rm -rf "$DEMO"
mkdir -p "$DEMO"
chown postgres "$DEMO"
trap stop_all EXIT

step "A throwaway cluster in $DATA (PostgreSQL $PG_VERSION, run by the postgres OS user)"
as_pg "$BIN/initdb" --no-sync --auth=trust --username=postgres -D "$DATA" >/dev/null
cat >> "$DATA/postgresql.conf" <<CONF

# --- walrs demo ---
listen_addresses = ''
unix_socket_directories = '$DEMO'
port = $PORT
shared_preload_libraries = 'walrs'
archive_mode = on
archive_library = 'walrs'
walrs.storage = 'file://$REPO'
CONF
tail -n 7 "$DATA/postgresql.conf" | indent
# A file:// repository is a directory the server can write.
mkdir -p "$REPO"
chown postgres "$REPO"
as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DEMO/server.log" -w start >/dev/null
psql_ -c "CREATE EXTENSION walrs"
echo "    archiver: $(psql_ -c "SELECT 'pid ' || pid FROM pg_stat_activity WHERE backend_type = 'archiver'")"

step "Archiving WAL while pgbench writes (pgbench -i -s 2, then 10 s of transactions)"
"$BIN/pgbench" -i -s 2 -q -h "$DEMO" -p "$PORT" -U postgres postgres 2>&1 | tail -n 1 | indent
"$BIN/pgbench" -T 10 -c 2 -h "$DEMO" -p "$PORT" -U postgres postgres 2>/dev/null | grep -E '^(tps|number of transactions actually)' | indent
wait_archived "$(psql_ -c "SELECT pg_walfile_name(pg_switch_wal())")"
psql_ -c "SELECT 'pg_stat_archiver: archived_count=' || archived_count || ', failed_count=' || failed_count || ', last_archived_wal=' || last_archived_wal FROM pg_stat_archiver" | indent
echo "    $(ls "$REPO/wal_005" | wc -l) objects in $REPO/wal_005, $(du -sh "$REPO/wal_005" | cut -f1) stored"

step "A base backup from SQL: SELECT walrs_backup_push()"
backup=$(psql_ -c "SELECT walrs_backup_push()")
echo "    $backup"

step "SELECT * FROM walrs_backup_list()"
psql_ -P pager=off -c "SELECT backup_name, finish_time, start_lsn, finish_lsn, pg_size_pretty(uncompressed_size) AS size, pg_size_pretty(compressed_size) AS stored FROM walrs_backup_list()" \
  | sed 's/|/  /g' | indent

step "Rows with timestamps after the backup: 40 commits, 50 ms apart; T is noted after the 20th"
psql_ -c "CREATE TABLE ledger (id int PRIMARY KEY, at timestamptz NOT NULL)"
script=""
for i in $(seq 1 40); do
  script+="INSERT INTO ledger VALUES ($i, clock_timestamp()); SELECT pg_sleep(0.05);"$'\n'
  [ "$i" = 20 ] && script+="SELECT pg_switch_wal();"$'\n'"SELECT clock_timestamp() \\g '$DEMO/target-time'"$'\n'"SELECT pg_sleep(0.05);"$'\n'
done
psql_ -f - <<<"$script" >/dev/null
T=$(cat "$DEMO/target-time")
expected=$(psql_ -c "SELECT count(*) FROM ledger WHERE at <= '$T'")
echo "    T = $T"
echo "    rows on the primary committed at or before T: $expected (of $(psql_ -c 'SELECT count(*) FROM ledger'))"
wait_archived "$(psql_ -c "SELECT pg_walfile_name(pg_switch_wal())")"

step "Point-in-time restore: walrs backup-fetch $RESTORED LATEST --target-time T --target-action promote"
"$WALRS" --storage "file://$REPO" backup-fetch "$RESTORED" LATEST --target-time "$T" --target-action promote 2>&1 | indent
# A restored copy must not archive into the production repository: it would upload its own
# timeline there. This copy only answers questions, so archiving is off.
cat >> "$RESTORED/postgresql.auto.conf" <<CONF
port = $RESTORED_PORT
archive_mode = off
CONF
grep -E "^(restore_command|recovery_target)" "$RESTORED/postgresql.auto.conf" | indent
as_pg "$BIN/pg_ctl" -D "$RESTORED" -l "$DEMO/restored.log" -w start >/dev/null
for _ in $(seq 1 300); do
  [ "$(psql_on "$RESTORED_PORT" -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  sleep 0.2
done
[ "$(psql_on "$RESTORED_PORT" -c 'SELECT pg_is_in_recovery()')" = f ] || fail "recovery did not end; see $DEMO/restored.log"
grep -m1 "recovery stopping" "$DEMO/restored.log" | sed 's/^.*LOG: */    server log: /' || true
restored=$(psql_on "$RESTORED_PORT" -c "SELECT count(*) FROM ledger")
echo "    rows in the restored copy: $restored (primary at T: $expected)"
[ "$restored" = "$expected" ] || fail "the restored copy has $restored rows, the primary had $expected at T"
echo "    equal: the restore stopped exactly at T"
as_pg "$BIN/pg_ctl" -D "$RESTORED" -m fast -w stop >/dev/null

step "walrs backup-verify LATEST"
"$WALRS" --storage "file://$REPO" backup-verify LATEST 2>&1 | indent

step "walrs wal-verify"
"$WALRS" --storage "file://$REPO" wal-verify 2>&1 | indent

step "Retention, as a dry run: SELECT * FROM walrs_delete_retain(1, dry_run => true)"
out=$(psql_ -P pager=off -c "SELECT kind, name, reason FROM walrs_delete_retain(1, dry_run => true)")
if [ -n "$out" ]; then sed 's/|/  /g' <<<"$out" | indent; else echo "    nothing to delete: the one backup and the WAL it needs are kept"; fi

step "Stopping the cluster"
stop_all
trap - EXIT
echo "    done. The repository stays in $REPO; server logs in $DEMO/server.log and $DEMO/restored.log."
