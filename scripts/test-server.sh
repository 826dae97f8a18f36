#!/usr/bin/env bash
# Start or stop a storage server for tests, in the background, on 127.0.0.1.
#
#   scripts/test-server.sh start s3|gs|azure PORT DIR [BUCKET...]   (default bucket: walrs-test)
#   scripts/test-server.sh stop  s3|gs|azure DIR
#
# start returns once the server answers and the buckets (S3, GCS) or containers (Azure) exist.
# It leaves in DIR: KIND.pid, KIND.log, and KIND.env/, an env_dir with the endpoint and
# credentials walrs needs (use it as walrs.env_dir or --env-dir); for Azure also
# azure-sas.env/, the same with a SAS token for the first container instead of the key. Exit 3: PORT is taken.
# gs is moto too: it answers the XML API of Google Cloud Storage that the gs:// client speaks
# (path-style URLs, S3's XML documents) and ignores x-goog-* request headers. Its env_dir gives a
# static OAuth token, which moto accepts like any. For moto (s3 and gs) the request recorder
# (/moto-api/recorder/...) writes to DIR/moto-recording.jsonl, never to the working directory.
# With WALRS_TEST_SERVER_OWNER=PID, the server is also stopped when process PID ends, so a
# test run that dies does not leave servers behind.
#
# Binaries: $WALRS_MOTO_SERVER / $WALRS_AZURITE_BLOB, else those scripts/install-test-servers.sh
# put in ${WALRS_SERVERS_DIR:-~/.cache/walrs/servers}, else PATH.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${WALRS_SERVERS_DIR:-$HOME/.cache/walrs/servers}"
# Azurite's well-known development account: public, documented by Microsoft, not a secret.
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

die() { printf 'test-server: %s\n' "$1" >&2; exit "${2:-1}"; }
usage() { die "usage: $0 start s3|gs|azure PORT DIR [BUCKET...] | stop s3|gs|azure DIR" 2; }

find_bin() { # find_bin ENV_VAR CACHE_PATH NAME
  local from_env="${!1:-}"
  if [ -n "$from_env" ]; then
    [ -x "$from_env" ] || die "$1=$from_env is not an executable file" 2
    echo "$from_env"
  elif [ -x "$cache/$2" ]; then
    echo "$cache/$2"
  elif command -v "$3" >/dev/null; then
    command -v "$3"
  else
    die "$3 not found (nor \$$1, nor $cache/$2): run scripts/install-test-servers.sh" 2
  fi
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() { # stop PIDFILE
  local pidfile="$1" pid
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

write_env() { # write_env DIR NAME=VALUE...
  local dir="$1"; shift
  rm -rf "$dir"; mkdir -m 0700 -p "$dir"
  for kv in "$@"; do (umask 077; printf '%s\n' "${kv#*=}" > "$dir/${kv%%=*}"); done
}

[ $# -ge 3 ] || usage
action="$1" kind="$2"
case "$kind" in s3|gs|azure) ;; *) usage ;; esac

if [ "$action" = stop ]; then
  stop "$3/$kind.pid"
  exit 0
fi
[ "$action" = start ] && [ $# -ge 4 ] || usage
port="$3" dir="$4"; shift 4
buckets=("${@:-walrs-test}")
[[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, not \"$port\"" 2
mkdir -p "$dir"
pidfile="$dir/$kind.pid" log="$dir/$kind.log"
alive "$pidfile" && die "a $kind server from $pidfile is already running (pid $(cat "$pidfile"))"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  die "port $port on 127.0.0.1 is already taken" 3
fi

case "$kind" in
  s3|gs)
    bin=$(find_bin WALRS_MOTO_SERVER moto/bin/moto_server moto_server)
    cmd=(env MOTO_RECORDER_FILEPATH="$dir/moto-recording.jsonl" "$bin" -H 127.0.0.1 -p "$port")
    ;;
  azure)
    bin=$(find_bin WALRS_AZURITE_BLOB azurite/node_modules/.bin/azurite-blob azurite-blob)
    cmd=("$bin" --blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence --skipApiVersionCheck
         --loose --disableTelemetry)
    ;;
esac

# Node.js that install-test-servers.sh installed, if it had to, is the one Azurite runs on.
if [ -x "$cache/node-bin/node" ]; then PATH="$cache/node-bin:$PATH"; fi
# setsid: the server gets its own process group, so a Ctrl-C meant for the caller does not
# kill it halfway through a test, and stop can find it by its pid.
setsid "${cmd[@]}" >"$log" 2>&1 < /dev/null &
echo $! > "$pidfile"
if [ -n "${WALRS_TEST_SERVER_OWNER:-}" ]; then
  owner="$WALRS_TEST_SERVER_OWNER" server=$!
  setsid bash -c "while kill -0 $owner 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done; kill $server 2>/dev/null" \
    >/dev/null 2>&1 < /dev/null &
fi

if ! python3 "$here/test-server-setup.py" wait "$port" 30 || ! alive "$pidfile"; then
  stop "$pidfile"
  # Someone took the port between the check above and the server's bind.
  if grep -qE "Address already in use|EADDRINUSE" "$log"; then die "port $port on 127.0.0.1 is already taken" 3; fi
  die "the $kind server did not start; its log ($log) ends with:
$(tail -n 15 "$log")"
fi
setup_kind="$kind"; [ "$kind" = gs ] && setup_kind=s3 # the same moto: buckets are made the S3 way
python3 "$here/test-server-setup.py" bucket "$setup_kind" "$port" "${buckets[@]}" || { stop "$pidfile"; exit 1; }
sleep 0.2
if ! alive "$pidfile"; then # it lost the port to another server, which answered for it
  grep -qE "Address already in use|EADDRINUSE" "$log" && die "port $port on 127.0.0.1 is already taken" 3
  die "the $kind server stopped; its log ($log) ends with:
$(tail -n 15 "$log")"
fi

case "$kind" in
  s3) write_env "$dir/s3.env" AWS_ENDPOINT="http://127.0.0.1:$port" AWS_REGION=us-east-1 \
        AWS_ACCESS_KEY_ID=walrs-test-key-id AWS_SECRET_ACCESS_KEY=walrs-test-secret AWS_S3_FORCE_PATH_STYLE=true ;;
  gs) write_env "$dir/gs.env" GCS_ENDPOINT="http://127.0.0.1:$port" \
        GOOGLE_OAUTH_ACCESS_TOKEN=walrs-test-token ;;
  azure)
    write_env "$dir/azure.env" AZURE_STORAGE_ENDPOINT="http://127.0.0.1:$port/$AZ_ACCOUNT" \
      AZURE_STORAGE_ACCOUNT="$AZ_ACCOUNT" AZURE_STORAGE_ACCESS_KEY="$AZ_KEY"
    # The first container again, through a SAS token for it instead of the account key.
    write_env "$dir/azure-sas.env" AZURE_STORAGE_ENDPOINT="http://127.0.0.1:$port/$AZ_ACCOUNT" \
      AZURE_STORAGE_ACCOUNT="$AZ_ACCOUNT" AZURE_STORAGE_SAS_TOKEN="$(python3 "$here/test-server-setup.py" sas "${buckets[0]}")"
    ;;
esac
echo "$kind server on 127.0.0.1:$port (pid $(cat "$pidfile"), log $log, env_dir $dir/$kind.env)"
