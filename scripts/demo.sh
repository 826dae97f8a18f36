#!/usr/bin/env bash
# make demo: a throwaway PostgreSQL cluster that archives its WAL with archive_library = 'walrs'
# to a local file:// repository, then gets a segment back with `walrs wal-fetch`.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_VERSION="${PG_VERSION:-15}"
BIN="$(dirname "$(scripts/pg-config.sh "$PG_VERSION")")"
DEMO=/tmp/walrs-demo
DATA="$DEMO/data"
REPO="$DEMO/repo"
WALRS=/usr/local/bin/walrs

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
as_pg() { runuser -u postgres -- "$@"; }
psql_() { "$BIN/psql" -X -q -At -h "$DEMO" -p 5432 -U postgres -d postgres "$@"; }

if [ -f "$DATA/postmaster.pid" ]; then
  as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf "$DEMO"
mkdir -p "$DEMO"
chown postgres "$DEMO"

step "Creating a throwaway cluster in $DATA (as the postgres OS user)"
as_pg "$BIN/initdb" --no-sync --auth=trust --username=postgres -D "$DATA" >/dev/null
cat >> "$DATA/postgresql.conf" <<CONF

# --- walrs demo ---
listen_addresses = ''
unix_socket_directories = '$DEMO'
port = 5432
archive_mode = on
archive_library = 'walrs'
walrs.storage = 'file://$REPO'
walrs.compression = 'lz4'
CONF
tail -n 8 "$DATA/postgresql.conf" | sed 's/^/    /'

step "Starting PostgreSQL ${PG_VERSION}"
as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DEMO/server.log" -w start >/dev/null
trap 'as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true' EXIT
echo "    archiver: $(psql_ -c "SELECT 'pid ' || pid FROM pg_stat_activity WHERE backend_type = 'archiver'")"

step "Writing some data (pgbench -i -s 2) and switching WAL three times"
"$BIN/pgbench" -i -s 2 -q -h "$DEMO" -p 5432 -U postgres postgres 2>&1 | tail -n 1 | sed 's/^/    /'
for i in 1 2 3; do
  psql_ -c "INSERT INTO pgbench_history VALUES ($i, 1, 1, $i, now())"
  last=$(psql_ -c "SELECT pg_walfile_name(pg_switch_wal())")
done
echo "    last segment closed: $last"

step "Waiting for the archiver"
for _ in $(seq 1 150); do
  [ -f "$DATA/pg_wal/archive_status/$last.done" ] && break
  sleep 0.2
done
[ -f "$DATA/pg_wal/archive_status/$last.done" ] || { echo "archiving did not finish; see $DEMO/server.log"; exit 1; }

step "Archived objects in $REPO/wal_005"
ls -l "$REPO/wal_005" | tail -n +2 | awk '{printf "    %10s  %s\n", $5, $9}'
total=$(du -sb "$REPO/wal_005" | cut -f1)
count=$(ls "$REPO/wal_005" | wc -l)
echo "    $count objects, $total bytes stored for $((count * 16)) MiB of WAL"

step "pg_stat_archiver"
psql_ -c "SELECT 'archived_count=' || archived_count || '  failed_count=' || failed_count || '  last_archived_wal=' || last_archived_wal FROM pg_stat_archiver" | sed 's/^/    /'

step "What walrs logged (server log lines with 'walrs')"
grep 'walrs' "$DEMO/server.log" | sed 's/^/    /' || echo "    (nothing: successful archives are logged at DEBUG1)"

step "Fetching $last back as restore_command would: cd \$PGDATA && walrs wal-fetch %f %p"
( cd "$DATA" && as_pg "$WALRS" -v wal-fetch "$last" "pg_wal/RECOVERYXLOG" ) 2>&1 | sed 's/^/    /'
if cmp -s "$DATA/pg_wal/RECOVERYXLOG" "$DATA/pg_wal/$last"; then
  echo "    identical to pg_wal/$last, byte for byte"
else
  echo "    MISMATCH"; exit 1
fi
rm -f "$DATA/pg_wal/RECOVERYXLOG"

step "Fetching a segment that was never archived (exit code 74 means: not in the archive)"
set +e
"$WALRS" --storage "file://$REPO" wal-fetch 0000000100000000000000FF "$DEMO/nothing" 2>&1 | sed 's/^/    /'
code=${PIPESTATUS[0]}
set -e
echo "    exit code $code; $DEMO/nothing created: $([ -e "$DEMO/nothing" ] && echo yes || echo no)"

step "Stopping the cluster"
as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
trap - EXIT
echo "    done. The repository stays in $REPO and the server log in $DEMO/server.log."
