#!/usr/bin/env bash
# walrs benchmark: walrs against pgBackRest, pg_basebackup, basic_archive, cp and the hardware,
# on the same data and machine, in interleaved rounds. Run through `make bench` (or
# `make bench-smoke` for a tiny, quick run). Results: bench/results/<date>.{jsonl,json,md,png}.
#
# Every PostgreSQL here runs from a private copy of PostgreSQL 15 (bench/install.sh), as the
# postgres user, with its socket in its own directory, no TCP, and ports from $BENCH_PORT.
#
# Variables (defaults in brackets):
#   BENCH_SCALE [150]          pgbench scale of the data set (150: a data directory of ~2.4 GB)
#   BENCH_RANDOM_MB [4*scale]  MB of random text added so the whole compresses ~3x with lz4
#   BENCH_ROUNDS [3]           interleaved rounds; the report gives median and min-max
#   BENCH_TPS_SECONDS [60]     length of each pgbench run
#   BENCH_WAL_SEGMENTS [128]   size of the archiving backlog
#   BENCH_FETCH_SEGMENTS [64]  segments fetched one by one, as restore_command does
#   BENCH_ONLY [hw backup restore archive fetch tps]   which parts to run
#   BENCH_DIR [/var/tmp/walrs-bench]   work directory (data sets are kept and reused)
#   BENCH_ROOT [/opt/walrs-bench/root] the private PostgreSQL (bench/install.sh builds it)
#   BENCH_PORT [43210]         first of the two ports used
#   BENCH_TAG [date]           name of the result files
#   BENCH_RESULTS [bench/results]  where they go
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD

SCALE="${BENCH_SCALE:-150}"
RANDOM_MB="${BENCH_RANDOM_MB:-$((SCALE * 4))}"
ROUNDS="${BENCH_ROUNDS:-3}"
TPS_SECONDS="${BENCH_TPS_SECONDS:-60}"
WAL_SEGMENTS="${BENCH_WAL_SEGMENTS:-128}"
FETCH_SEGMENTS="${BENCH_FETCH_SEGMENTS:-64}"
ONLY="${BENCH_ONLY:-hw backup restore archive fetch tps}"
B="${BENCH_DIR:-/var/tmp/walrs-bench}"
ROOT="${BENCH_ROOT:-/opt/walrs-bench/root}"
PORT="${BENCH_PORT:-43210}"
WAL_PORT=$((PORT + 1))
TAG="${BENCH_TAG:-$(date -u +%Y-%m-%dT%H%M%SZ)}"

BIN="$ROOT/usr/lib/postgresql/15/bin"
WALRS="$ROOT/bin/walrs"
SRC="$B/src"          # the data set's cluster: backups and TPS run against it
WALC="$B/walcluster"  # a small cluster whose WAL backlog is archived
SOCK="$B/sock"
PGBR_CONF="$B/pgbackrest.conf"
RESULTS="${BENCH_RESULTS:-$HERE/results}"
SCRATCH="walrs-bench-$$"  # names of this run's large scratch files (codec speed)
RAW="$RESULTS/$TAG.jsonl"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }

[ "$(id -u)" = 0 ] || die "run as root (clusters run as postgres through runuser)"
[ -x "$BIN/postgres" ] && [ -x "$WALRS" ] || die "no private PostgreSQL in $ROOT: run bench/install.sh"
[ "$("$BIN/pg_config" --pkglibdir)" = "$ROOT/usr/lib/postgresql/15/lib" ] || die "$BIN/pg_config does not resolve inside $ROOT"

as_pg() { runuser -u postgres -- "$@"; }
sql() { local port=$1; shift; as_pg "$BIN/psql" -X -h "$SOCK" -p "$port" -d postgres -Atq -v ON_ERROR_STOP=1 -c "$*"; }
pgctl() { as_pg "$BIN/pg_ctl" "$@"; }
start() { pgctl -D "$1" -l "$1.log" -w -t 600 start >/dev/null; }
stop() { [ -f "$1/postmaster.pid" ] && pgctl -D "$1" -m fast -w -t 600 stop >/dev/null || true; }
# Write back what earlier steps left dirty, so one tool's writes do not slow the next one down
# (the kernel throttles writers while gigabytes are waiting for the disk).
settle() { sync; sleep 1; }
ready_count() { find "$1/pg_wal/archive_status" -name '*.ready' | wc -l; }
now() { date +%s.%N; }
# cpu_mark: the machine's CPU ticks so far, all cores, as "total steal busy". A VM's host can
# take a large, varying share of its CPU (steal), the main source of noise between rounds here;
# every timed step records it. Busy is user, nice, system, irq and softirq.
cpu_mark() { awk '/^cpu / {t=0; for (i = 2; i <= 9; i++) t += $i; print t, $9, $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# cpu_delta MARK: the ticks of each kind since MARK, as "total steal busy".
cpu_delta() {
  local t0 s0 b0 t1 s1 b1; read -r t0 s0 b0 <<<"$1"; read -r t1 s1 b1 <<<"$(cpu_mark)"
  echo $((t1 - t0)) $((s1 - s0)) $((b1 - b0))
}
# steal_since MARK: the share of CPU time the host took since MARK (0..1).
steal_since() {
  local t s _; read -r t s _ <<<"$(cpu_delta "$1")"
  python3 -c "import sys; t=int(sys.argv[1]); print(round(int(sys.argv[2]) / t, 4) if t else 0)" "$t" "$s"
}
# busy_since MARK: CPU seconds the guest spent busy since MARK, all processes and cores.
busy_since() {
  local _ b; read -r _ _ b <<<"$(cpu_delta "$1")"
  python3 -c "import sys; print(round(int(sys.argv[1]) / int(sys.argv[2]), 2))" "$b" "$(getconf CLK_TCK)"
}
# proc_cpu PID: CPU seconds a process has used so far, all its threads.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
elapsed() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 3))" "$1" "$2"; }

# record OP TOOL ROUND SECONDS RSS_KB [EXTRA_JSON]
record() {
  printf '{"op":"%s","tool":"%s","round":%s,"seconds":%s,"rss_kb":%s%s}\n' \
    "$1" "$2" "$3" "$4" "${5:-null}" "${6:+,$6}" >>"$RAW"
  printf '    %-10s %-28s round %s: %8s s  rss %s kB\n' "$1" "$2" "$3" "$4" "${5:--}" >&2
}

# timed OP TOOL ROUND CMD...: wall time and peak RSS (GNU time) of one command run as postgres.
timed() {
  local op=$1 tool=$2 round=$3; shift 3
  local tf; tf=$(mktemp)
  local t0 t1 c0
  settle
  c0=$(cpu_mark); t0=$(now)
  /usr/bin/time -f '%M' -o "$tf" runuser -u postgres -- "$@" >"$B/last.out" 2>&1 || { cat "$B/last.out" >&2; die "$op/$tool failed: $*"; }
  t1=$(now)
  record "$op" "$tool" "$round" "$(elapsed "$t0" "$t1")" "$(tail -n1 "$tf")" "\"steal\":$(steal_since "$c0")"
  rm -f "$tf"
}

# hwm_poll DATADIR PATTERN OUTFILE: until killed, keep in OUTFILE the highest VmHWM (kB) of the
# postmaster's children whose process title matches PATTERN (read while they live).
hwm_poll() {
  local pm; pm=$(head -n1 "$1/postmaster.pid")
  echo 0 >"$3"
  while :; do
    for c in $(pgrep -P "$pm" 2>/dev/null); do
      grep -aq -- "$2" "/proc/$c/cmdline" 2>/dev/null || continue
      local h; h=$(awk '/^VmHWM/ {print $2}' "/proc/$c/status" 2>/dev/null || true)
      [ -n "$h" ] && [ "$h" -gt "$(cat "$3")" ] && echo "$h" >"$3"
    done
    sleep 0.1
  done
}

# The monitoring runs (tool walrs-watched): walrs archiving while one session runs the queries
# of docs/postgres_exporter/queries.yaml once a second, each as often as its cache_seconds lets
# postgres_exporter run it (the archiver's and the running backups' every second). The queries
# go to $B/watch/<cache_seconds>-<name>.sql.
write_watch_queries() {
  rm -rf "$B/watch"; mkdir -p "$B/watch"
  /usr/bin/python3 - "$HERE/../docs/postgres_exporter/queries.yaml" "$B/watch" <<'PY'
import sys, yaml
from pathlib import Path
for name, q in yaml.safe_load(open(sys.argv[1])).items():
    Path(sys.argv[2], f"{q.get('cache_seconds', 1)}-{name}.sql").write_text(q["query"].strip().rstrip(";") + ";\n")
PY
  chown -R postgres: "$B/watch"
}

# watch_start PORT: start polling in the background, in a process group of its own.
watch_start() {
  rm -f "$B/watch.out"
  # The backlog's cluster has no walrs extension yet: the first poll creates it (a catalog
  # write of a few kB of WAL, counted against the watched run).
  setsid runuser -u postgres -- bash -c '{ echo "CREATE EXTENSION IF NOT EXISTS walrs;"; for ((n = 0; ; n++)); do
      for f in "$1"/*.sql; do c=${f##*/}; c=${c%%-*}; (( n % c == 0 )) && cat "$f"; done
      echo "\\echo polled"; sleep 1
    done; } | "$2" -X -h "$3" -p "$4" -d postgres -Atq -v ON_ERROR_STOP=1 >"$5" 2>&1' \
    _ "$B/watch" "$BIN/psql" "$SOCK" "$1" "$B/watch.out" &
  WATCHER=$!
}

# watch_stop: end the polling; prints how many polls answered. A poll that failed ends the run.
watch_stop() {
  kill -0 "$WATCHER" 2>/dev/null || die "the monitoring queries stopped early: $(tail -n3 "$B/watch.out")"
  kill -- -"$WATCHER"; wait "$WATCHER" 2>/dev/null || true
  grep -c '^polled$' "$B/watch.out"
}

# ---------------------------------------------------------------------------------------------
# Setup: directories, configuration, data sets

mkdir -p "$B" "$SOCK" "$RESULTS"
chown postgres: "$B" "$SOCK"
: >"$RAW"

# The libsodium runs: a random key (base64) in an envdir the server reads, and the same key in
# the environment of the walrs command; those runs use a repository of their own.
KEYDIR="$B/libsodium-env"
mkdir -p "$KEYDIR"
[ -s "$KEYDIR/WALG_LIBSODIUM_KEY" ] || head -c 32 /dev/urandom | base64 >"$KEYDIR/WALG_LIBSODIUM_KEY"
echo base64 >"$KEYDIR/WALG_LIBSODIUM_KEY_TRANSFORM"
chown -R postgres: "$KEYDIR"; chmod 700 "$KEYDIR"; chmod 600 "$KEYDIR"/*
WALRS_ENC=(env "WALG_LIBSODIUM_KEY_PATH=$KEYDIR/WALG_LIBSODIUM_KEY" WALG_LIBSODIUM_KEY_TRANSFORM=base64 "$WALRS" --storage "file://$B/walrs-enc-repo")

cat >"$PGBR_CONF" <<EOF
[global]
repo1-path=$B/pgbr-repo
log-path=$B/pgbr-log
lock-path=$B/pgbr-lock
spool-path=$B/pgbr-spool
compress-type=lz4
log-level-console=warn
log-level-file=off
log-level-stderr=warn
start-fast=y
archive-check=y

[bench]
pg1-path=$SRC
pg1-socket-path=$SOCK
pg1-port=$PORT

[wal]
pg1-path=$WALC
pg1-socket-path=$SOCK
pg1-port=$WAL_PORT
EOF
chown postgres: "$PGBR_CONF"
PGBR=(pgbackrest "--config=$PGBR_CONF")

common_conf() { # DATADIR PORT
  cat >>"$1/postgresql.conf" <<EOF

# --- walrs bench ---
port = $2
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'walrs'
archive_mode = on
archive_library = ''
archive_command = '/bin/false'
max_wal_size = 8GB
min_wal_size = 1GB
shared_buffers = 512MB
wal_level = replica
max_wal_senders = 4
walrs.storage = 'file://$B/walrs-repo'
walrs.compression = 'lz4'
basic_archive.archive_directory = '$B/basic-archive'
EOF
}

fresh_dirs() {
  local d=("$B/walrs-repo" "$B/walrs-enc-repo" "$B/walrs-watch-repo" "$B/pgbr-repo" "$B/pgbr-spool" "$B/basic-archive" "$B/cp-archive")
  rm -rf "${d[@]}"
  mkdir -p "${d[@]}" "$B/pgbr-log" "$B/pgbr-lock"
  chown -R postgres: "${d[@]}" "$B/pgbr-log" "$B/pgbr-lock"
}

# What each archiving mode sets: walrs | walrs-libsodium | walrs-watched | pgbr | pgbr-async | basic | cp | fail.
archiver_settings() { # STANZA MODE -> "library|command"
  local stanza=$1 mode=$2 lib='' cmd='/bin/false'
  case $mode in
    walrs | walrs-libsodium | walrs-watched) lib=walrs ;;
    pgbr) cmd="pgbackrest --config=$PGBR_CONF --stanza=$stanza archive-push %p" ;;
    pgbr-async) cmd="pgbackrest --config=$PGBR_CONF --stanza=$stanza --archive-async --process-max=2 archive-push %p" ;;
    basic) lib=basic_archive ;;
    cp) cmd="cp %p $B/cp-archive/%f" ;;
    fail) ;;
    *) die "unknown archiver $mode" ;;
  esac
  printf '%s|%s' "$lib" "$cmd"
}

# Switch the archiving of a running cluster, then prove the archiver runs with it: PostgreSQL
# restarts the archiver when archive_library changes, and the postmaster may take up to a
# minute to notice unless something connects, so one segment is archived before going on.
set_archiver() { # PORT STANZA MODE
  local port=$1 s; s=$(archiver_settings "$2" "$3")
  sql "$port" "ALTER SYSTEM SET archive_library = '${s%%|*}'"
  sql "$port" "ALTER SYSTEM SET archive_command = '${s#*|}'"
  sql "$port" "ALTER SYSTEM SET walrs.storage = '$(walrs_storage "$3")'"
  sql "$port" "ALTER SYSTEM SET walrs.env_dir = '$(walrs_env_dir "$3")'"
  sql "$port" "SELECT pg_reload_conf()" >/dev/null
  [ "$3" = fail ] && return
  local seg
  seg=$(sql "$port" "CREATE TABLE IF NOT EXISTS bench_tick (i int); INSERT INTO bench_tick VALUES (1); SELECT pg_walfile_name(pg_current_wal_lsn())")
  sql "$port" "SELECT pg_switch_wal()" >/dev/null
  local deadline=$(($(date +%s) + 300))
  until [[ "$(sql "$port" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")" > "$seg" ]] ||
        [ "$(sql "$port" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")" = "$seg" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "archiving with $3 does not work (see the server log)"
    sleep 0.1
  done
}

# The repository and envdir walrs uses in a mode: the libsodium runs have their own.
walrs_storage() {
  case $1 in
    walrs-libsodium) echo "file://$B/walrs-enc-repo" ;;
    walrs-watched) echo "file://$B/walrs-watch-repo" ;;
    *) echo "file://$B/walrs-repo" ;;
  esac
}
walrs_env_dir() { [ "$1" = walrs-libsodium ] && echo "$KEYDIR" || echo ''; }

# Set the archiving of a stopped cluster (it takes effect when it starts).
conf_archiver() { # DATADIR STANZA MODE
  local s; s=$(archiver_settings "$2" "$3")
  printf "archive_library = '%s'\narchive_command = '%s'\nwalrs.storage = '%s'\nwalrs.env_dir = '%s'\n" \
    "${s%%|*}" "${s#*|}" "$(walrs_storage "$3")" "$(walrs_env_dir "$3")" >>"$1/postgresql.auto.conf"
}

wait_archived() { # DATADIR TIMEOUT_S
  local deadline=$(($(date +%s) + $2))
  while [ "$(ready_count "$1")" -gt 0 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "archiving in $1 did not catch up within $2 s (see $1.log)"
    sleep 0.02
  done
}

stanza_create() { # STANZA
  as_pg "${PGBR[@]}" --stanza="$1" stanza-create >/dev/null
}

build_dataset() {
  local marker="$SRC.built-s$SCALE-r$RANDOM_MB"
  if [ -f "$marker" ] && [ -f "$SRC/PG_VERSION" ]; then
    say "reusing the data set in $SRC (scale $SCALE, $RANDOM_MB MB random text)"
    return
  fi
  stop "$SRC"; rm -rf "$SRC" "$SRC".built-*
  say "building the data set: pgbench scale $SCALE + $RANDOM_MB MB of random text"
  as_pg "$BIN/initdb" -D "$SRC" -A trust --no-sync >/dev/null
  common_conf "$SRC" "$PORT"
  start "$SRC"
  as_pg "$BIN/pgbench" -h "$SOCK" -p "$PORT" -i -q -s "$SCALE" postgres >/dev/null 2>&1
  # Rows of ~1 kB of random hex (lz4 cannot shrink random hex much) in 64 MB batches.
  sql "$PORT" "CREATE TABLE bench_random (id bigserial PRIMARY KEY, body text)"
  local rows_per_mb=900 left=$RANDOM_MB
  while [ "$left" -gt 0 ]; do
    local n=$((left < 64 ? left : 64))
    sql "$PORT" "INSERT INTO bench_random (body) SELECT (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 32) i) FROM generate_series(1, $((n * rows_per_mb))) g"
    left=$((left - n))
  done
  sql "$PORT" "VACUUM ANALYZE"
  sql "$PORT" "CHECKPOINT"
  sql "$PORT" "CREATE EXTENSION walrs"
  stop "$SRC"
  touch "$marker"
}

# A small cluster and, saved beside it, a copy holding a backlog of $WAL_SEGMENTS .ready segments.
build_wal_backlog() {
  local marker="$WALC.built-$WAL_SEGMENTS"
  if [ -f "$marker" ] && [ -d "$WALC.saved" ]; then
    say "reusing the WAL backlog in $WALC.saved"
    return
  fi
  stop "$WALC"; rm -rf "$WALC" "$WALC.saved" "$WALC".built-*
  say "building a backlog of $WAL_SEGMENTS WAL segments (pgbench with archiving failing)"
  as_pg "$BIN/initdb" -D "$WALC" -A trust --no-sync >/dev/null
  common_conf "$WALC" "$WAL_PORT"
  start "$WALC"
  as_pg "$BIN/pgbench" -h "$SOCK" -p "$WAL_PORT" -i -q -s 20 postgres >/dev/null 2>&1
  sql "$WAL_PORT" "CHECKPOINT"
  sql "$WAL_PORT" "SELECT pg_switch_wal()" >/dev/null
  # Drop what initialisation queued, so the backlog is only what follows.
  find "$WALC/pg_wal/archive_status" -name '*.ready' -delete
  while [ "$(ready_count "$WALC")" -lt "$WAL_SEGMENTS" ]; do
    as_pg "$BIN/pgbench" -h "$SOCK" -p "$WAL_PORT" -n -c 2 -j 2 -t 2000 postgres >/dev/null 2>&1
  done
  stop "$WALC"
  # Keep exactly the oldest $WAL_SEGMENTS .ready files; the rest count as archived.
  ls "$WALC/pg_wal/archive_status" | grep '\.ready$' | sort | tail -n +$((WAL_SEGMENTS + 1)) |
    while read -r r; do mv "$WALC/pg_wal/archive_status/$r" "$WALC/pg_wal/archive_status/${r%.ready}.done"; done
  cp -a "$WALC" "$WALC.saved"
  touch "$marker"
}

# ---------------------------------------------------------------------------------------------
# Measurements

# What every backup tool copies: the data directory without pg_wal's segments (recycled WAL
# files there are as large as the data itself, and no tool backs them up).
TAR_EXCLUDE="--exclude=./pg_wal/0*"
data_bytes() { (cd "$SRC" && du -sb --exclude='./pg_wal/0*' .) | cut -f1; }

hardware() { # ROUND
  say "hardware: page-cache read, durable write, lz4 speed per core"
  local t0 t1 bytes per
  bytes=$(data_bytes)
  tar -cf - $TAR_EXCLUDE -C "$SRC" . >/dev/null 2>&1 # warm
  t0=$(now); tar -cf - $TAR_EXCLUDE -C "$SRC" . | cat >/dev/null; t1=$(now)
  record hw read "$1" "$(elapsed "$t0" "$t1")" null "\"bytes\":$bytes"

  # Durable writes: a restore fsyncs all it writes. Four writers of a quarter of the data each,
  # every file fdatasync'ed at its end: a pessimistic bound, since a restore that syncs while it
  # writes (as walrs does) keeps the disk busier and can beat it.
  per=$((bytes / 4 / (4 << 20) + 1))
  rm -rf "$B/ddtest"; mkdir -p "$B/ddtest"
  settle
  t0=$(now)
  local i pids=()
  for i in 1 2 3 4; do
    dd if=/dev/zero of="$B/ddtest/$i" bs=4M count=$per conv=fdatasync status=none & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || die "dd into $B/ddtest failed (disk full?)"; done
  t1=$(now)
  rm -rf "$B/ddtest"
  record hw write "$1" "$(elapsed "$t0" "$t1")" null "\"bytes\":$((per * 4 * (4 << 20)))"

  # One core of lz4, on the same bytes: walrs's own codec (lz4_flex, objects written as walrs
  # writes them) and the C lz4 tool (liblz4, which pgBackRest links), 256 KiB independent
  # blocks with the content checksum in both. In memory (tmpfs), so disks do not count.
  # tmpfs needs room for the data and its compressed copy; otherwise the bench directory
  # (walrs's figure counts its codec CPU time only, C lz4's user CPU only: the disk hardly matters).
  local tmp=/dev/shm
  [ "$(df -B1 --output=avail /dev/shm 2>/dev/null | tail -n1)" -gt $((bytes * 2)) ] 2>/dev/null || tmp=$B
  tar -cf - $TAR_EXCLUDE -C "$SRC" . 2>/dev/null >"$tmp/$SCRATCH-data"
  codec_speed data "$1" "$tmp/$SCRATCH-data"
  if [ -d "$WALC.saved" ]; then
    ls "$WALC.saved/pg_wal/archive_status" | grep -E '^[0-9A-F]{24}\.ready$' | sed 's/\.ready$//' |
      while read -r seg; do cat "$WALC.saved/pg_wal/$seg"; done >"$tmp/$SCRATCH-wal"
    codec_speed wal "$1" "$tmp/$SCRATCH-wal"
  fi
}

# codec_speed KIND ROUND FILE: single-core lz4 compress and decompress rates of walrs and of C
# lz4 on FILE (CPU seconds in user mode for the C tool, CPU time in the codec for walrs).
codec_speed() {
  local kind=$1 round=$2 file=$3 walrs c_comp c_dec TIMEFORMAT=%U LC_ALL=C
  walrs=$("$ROOT/bin/walrs-codec-speed" lz4 <"$file")
  c_comp=$( { time lz4 -q -1 -B5 -c "$file" >"$file.lz4"; } 2>&1 )
  c_dec=$( { time lz4 -q -d -c "$file.lz4" >/dev/null; } 2>&1 )
  rm -f "$file" "$file.lz4"
  record hw "codec-$kind" "$round" 0 null \
    "\"walrs\":$walrs,\"c_lz4_compress_s\":$c_comp,\"c_lz4_decompress_s\":$c_dec"
}

backups() { # ROUND
  local r=$1 hwm
  start "$SRC"
  fresh_dirs
  stanza_create bench

  say "round $r: full backups"
  # walrs: its own archiving on (the backup waits for its WAL in the repository); plain, then
  # with libsodium into its own repository, the order alternating from round to round.
  local mode modes=(walrs walrs-libsodium)
  [ $((r % 2)) = 0 ] && modes=(walrs-libsodium walrs)
  for mode in "${modes[@]}"; do
    set_archiver "$PORT" bench "$mode"; wait_archived "$SRC" 600
    hwm_poll "$SRC" "walrs backup" "$B/hwm.backup" & local poll=$!
    timed backup "$mode" "$r" "$BIN/psql" -X -h "$SOCK" -p "$PORT" -d postgres -Atq -c "SELECT walrs_backup_push()"
    kill "$poll"; wait "$poll" 2>/dev/null || true
    record rss "$mode-backup-worker" "$r" 0 "$(cat "$B/hwm.backup")"
  done

  # pgBackRest: its own archiving on, archive-check=y (it waits for its WAL too).
  set_archiver "$PORT" bench pgbr; wait_archived "$SRC" 600
  for pm in 1 2; do
    timed backup "pgbackrest-p$pm" "$r" "${PGBR[@]}" --stanza=bench --type=full --process-max=$pm backup
  done

  rm -rf "$B/pgbb"
  timed backup "pg_basebackup-lz4" "$r" "$BIN/pg_basebackup" -h "$SOCK" -p "$PORT" -D "$B/pgbb" -Ft -Z lz4 -c fast -X stream
  local srcbytes tarbytes
  srcbytes=$(data_bytes)
  rm -rf "$B/pgbb"
  timed backup "tar|lz4" "$r" bash -c "tar -cf - $TAR_EXCLUDE -C '$SRC' . 2>/dev/null | lz4 -1 -q > '$B/tar.lz4'; true"
  tarbytes=$(stat -c %s "$B/tar.lz4")
  record size "tar|lz4" "$r" 0 null "\"bytes\":$srcbytes,\"lz4_bytes\":$tarbytes"
  say "data directory $((srcbytes >> 20)) MB, tar|lz4 $((tarbytes >> 20)) MB: ratio $(python3 -c "print(round($srcbytes/$tarbytes, 2))")"
  rm -f "$B/tar.lz4"
  set_archiver "$PORT" bench fail
  stop "$SRC"
}

restores() { # ROUND
  local r=$1
  say "round $r: restores"
  rm -rf "$B/restore"; mkdir "$B/restore"; chown postgres: "$B/restore"; chmod 700 "$B/restore"
  timed restore walrs "$r" "$WALRS" --storage "file://$B/walrs-repo" backup-fetch "$B/restore" LATEST
  rm -rf "$B/restore"; mkdir "$B/restore"; chown postgres: "$B/restore"; chmod 700 "$B/restore"
  timed restore walrs-libsodium "$r" "${WALRS_ENC[@]}" backup-fetch "$B/restore" LATEST
  rm -rf "$B/restore"; mkdir "$B/restore"; chown postgres: "$B/restore"; chmod 700 "$B/restore"
  timed restore pgbackrest-p2 "$r" "${PGBR[@]}" --stanza=bench --pg1-path="$B/restore" --process-max=2 restore
  rm -rf "$B/restore"
}

archive_backlog() { # ROUND
  local r=$1 mode
  say "round $r: archiving a backlog of $WAL_SEGMENTS segments"
  fresh_dirs
  # The walrs modes run back to back, in an order that rotates from round to round.
  local modes=(walrs walrs-libsodium walrs-watched)
  modes=("${modes[@]:$(((r - 1) % 3))}" "${modes[@]:0:$(((r - 1) % 3))}")
  for mode in "${modes[@]}" pgbr-async pgbr basic cp; do
    stop "$WALC"; rm -rf "$WALC"; cp -a "$WALC.saved" "$WALC"
    if [[ $mode == pgbr* ]]; then
      # Each pgBackRest mode starts from an empty archive: segments already there are only
      # checksummed, not compressed and stored. stanza-create needs the cluster up.
      rm -rf "$B/pgbr-repo/archive/wal" "$B/pgbr-repo/backup/wal" "$B/pgbr-spool/archive/wal"
      start "$WALC"; stanza_create wal; stop "$WALC"
    fi
    [ "$(ready_count "$WALC")" -ge "$WAL_SEGMENTS" ] || die "the backlog copy holds $(ready_count "$WALC") .ready files"
    # Timed from server start (about 0.2 s, the same for every tool): switching archive_library
    # on a running server restarts the archiver after an unpredictable delay.
    conf_archiver "$WALC" wal "$mode"
    local t0 t1 c0
    settle
    c0=$(cpu_mark); t0=$(now)
    start "$WALC"
    [ "$mode" = walrs-watched ] && watch_start "$WAL_PORT"
    hwm_poll "$WALC" "archiver" "$B/hwm.archiver" & local poll=$!
    wait_archived "$WALC" 1800
    t1=$(now)
    sleep 0.3 # one more poll of the archiver's VmHWM
    kill "$poll"; wait "$poll" 2>/dev/null || true
    local polls=''
    [ "$mode" = walrs-watched ] && polls=",\"polls\":$(watch_stop)"
    local tool=$mode
    case $mode in pgbr) tool=pgbackrest-sync ;; pgbr-async) tool=pgbackrest-async ;; basic) tool=basic_archive ;; esac
    record archive "$tool" "$r" "$(elapsed "$t0" "$t1")" "$(cat "$B/hwm.archiver")" "\"segments\":$WAL_SEGMENTS,\"steal\":$(steal_since "$c0")$polls"
    stop "$WALC"
  done
}

# Fetch the oldest $FETCH_SEGMENTS archived segments one at a time into pg_wal/RECOVERYXLOG of
# a restored-looking directory, as PostgreSQL's startup process does. Needs archive_backlog's repos.
fetches() { # ROUND
  local r=$1
  say "round $r: fetching $FETCH_SEGMENTS segments one by one"
  local segs
  segs=$(ls "$WALC.saved/pg_wal/archive_status" | grep -E '^[0-9A-F]{24}\.ready$' | sort | head -n "$FETCH_SEGMENTS" | sed 's/\.ready$//' | tr '\n' ' ')
  local d="$B/fetchdir"
  for tool in walrs walrs-libsodium pgbackrest cp; do
    rm -rf "$d"; mkdir -p "$d/pg_wal/archive_status"; chown -R postgres: "$d"; chmod 700 "$d"
    local cmd
    case $tool in
      walrs) cmd="'$WALRS' --storage 'file://$B/walrs-repo' wal-fetch \$f pg_wal/RECOVERYXLOG" ;;
      walrs-libsodium) cmd="${WALRS_ENC[*]@Q} wal-fetch \$f pg_wal/RECOVERYXLOG" ;;
      pgbackrest) cmd="pgbackrest --config='$PGBR_CONF' --stanza=wal archive-get \$f \"\$PWD/pg_wal/RECOVERYXLOG\"" ;;
      cp) cmd="cp '$B/cp-archive/'\$f pg_wal/RECOVERYXLOG" ;;
    esac
    # Peak RSS of the largest single call: GNU time around each call.
    timed fetch "$tool" "$r" bash -c "cd '$d'; max=0; for f in $segs; do /usr/bin/time -f %M -o rss.txt $cmd || exit 1; \
      [ \$(cat rss.txt) -gt \$max ] && max=\$(cat rss.txt); rm -f pg_wal/RECOVERYXLOG; done; echo \$max > maxrss.txt"
    record rss "fetch-$tool-per-call" "$r" 0 "$(cat "$d/maxrss.txt")"
  done
  rm -rf "$d"
}

tps() { # ROUND
  local r=$1 mode modes
  say "round $r: pgbench TPS for $TPS_SECONDS s"
  start "$SRC"
  fresh_dirs; stanza_create bench
  stop "$SRC"
  # The order rotates from round to round, so no mode always runs first or last.
  modes=(off walrs walrs-watched pgbr-async)
  modes=("${modes[@]:$(((r - 1) % 4))}" "${modes[@]:0:$(((r - 1) % 4))}")
  for mode in "${modes[@]}"; do
    if [ "$mode" = off ]; then
      echo "archive_mode = off" >>"$SRC/postgresql.conf"
      start "$SRC"
    else
      sed -i '/^archive_mode = off$/d' "$SRC/postgresql.conf"
      start "$SRC"
      set_archiver "$PORT" bench "$mode"
      wait_archived "$SRC" 600
    fi
    sql "$PORT" "CHECKPOINT"
    local out tps txns c0 arch=0 a0=0 a1=0 steal busy
    # The archiver's own CPU time during the run (walrs compresses and writes in it).
    [[ $mode == walrs* ]] && arch=$(pgrep -P "$(head -n1 "$SRC/postmaster.pid")" -f 'postgres: archiver' | head -n1)
    [ "$arch" != 0 ] && a0=$(proc_cpu "$arch")
    [ "$mode" = walrs-watched ] && watch_start "$PORT"
    c0=$(cpu_mark)
    out=$(as_pg "$BIN/pgbench" -h "$SOCK" -p "$PORT" -n -c 4 -j 2 -T "$TPS_SECONDS" postgres 2>&1)
    steal=$(steal_since "$c0") busy=$(busy_since "$c0")
    local polls=''
    [ "$mode" = walrs-watched ] && polls=",\"polls\":$(watch_stop)"
    [ "$arch" != 0 ] && a1=$(proc_cpu "$arch")
    tps=$(echo "$out" | grep -oE 'tps = [0-9.]+' | head -n1 | cut -d' ' -f3)
    txns=$(echo "$out" | grep -oE 'transactions actually processed: [0-9]+' | grep -oE '[0-9]+$')
    local tool=$mode
    case $mode in off) tool=archive_mode=off ;; pgbr-async) tool=pgbackrest-async ;; esac
    # .ready files left when pgbench ends: a backlog that grew during the run.
    record tps "$tool" "$r" "$TPS_SECONDS" null "\"tps\":${tps:-0},\"ready_after\":$(ready_count "$SRC"),\"steal\":$steal,\"archiver_cpu_s\":$(python3 -c "print(round($a1 - $a0, 2))"),\"transactions\":${txns:-0},\"busy_cpu_s\":$busy$polls"
    [ "$mode" = off ] || set_archiver "$PORT" bench fail
    stop "$SRC"
  done
  sed -i '/^archive_mode = off$/d' "$SRC/postgresql.conf"
}

# ---------------------------------------------------------------------------------------------

cleanup() { stop "$SRC"; stop "$WALC"; rm -f "/dev/shm/$SCRATCH"-* "$B/$SCRATCH"-*; }
trap cleanup EXIT

say "walrs bench $TAG: scale $SCALE, $RANDOM_MB MB random, $ROUNDS rounds, in $B"
build_dataset
{ wants archive || wants fetch; } && build_wal_backlog
{ wants archive || wants tps; } && write_watch_queries

for r in $(seq 1 "$ROUNDS"); do
  wants hw && hardware "$r"
  wants backup && backups "$r"
  wants restore && { wants backup || die "restore needs backup in BENCH_ONLY"; } && restores "$r"
  wants archive && archive_backlog "$r"
  wants fetch && { wants archive || die "fetch needs archive in BENCH_ONLY"; } && fetches "$r"
  wants tps && tps "$r"
done

# Debian's python3, which has python3-matplotlib (a pyenv python3 earlier in PATH may not).
/usr/bin/python3 "$HERE/report.py" "$RAW" \
  --meta "scale=$SCALE" "random_mb=$RANDOM_MB" "rounds=$ROUNDS" "tps_seconds=$TPS_SECONDS" \
  "wal_segments=$WAL_SEGMENTS" "fetch_segments=$FETCH_SEGMENTS" \
  "walrs=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "pgbackrest=$(pgbackrest version | cut -d' ' -f2)" "postgresql=$("$BIN/postgres" --version | awk '{print $3}')" \
  "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "cores=$(nproc)" \
  "memory_gb=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" \
  "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
