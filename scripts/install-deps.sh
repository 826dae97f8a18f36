#!/usr/bin/env bash
# Install what building and testing walrs needs on Debian 12, as root, for the PostgreSQL
# versions in $PG_VERSIONS (default 15). Idempotent: each step runs only when its result is
# missing, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_VERSIONS="${PG_VERSIONS:-15}"
PGRX_VERSION="0.18.1"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(postgresql-15 postgresql-server-dev-15 postgresql-contrib libclang-dev clang pkg-config
          build-essential sudo python3-pip
          postgresql-15-cron   # pg_cron, for the scheduling recipe's test (PostgreSQL 15)
          lz4                  # decodes what walrs wrote, in the libsodium interoperability test
          gnupg                # gpg, the other OpenPGP implementation of the OpenPGP interop test
          tmux                 # a real terminal for the CLI's progress-line test
          python3-yaml         # reads the postgres_exporter queries file as the exporter would
          patchelf)            # points the PyPI servers' libraries at their own libpq
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's package starts a cluster of its own; walrs's tests and demo make their own.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
  say "stopping Debian's default cluster (not used by walrs)"
  pg_lsclusters -h | awk '$4 == "online" {print $1, $2}' | while read -r v c; do pg_ctlcluster "$v" "$c" stop || true; done
fi

others=$(printf '%s\n' $PG_VERSIONS | grep -v '^15$' | tr '\n' ' ' || true)
if [ -n "${others// }" ]; then
  scripts/install-pg-versions.sh "$others"
fi

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found; install Rust 1.95 with rustup first" >&2
  exit 1
fi
if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
  say "cargo install cargo-pgrx ${PGRX_VERSION} (takes a few minutes)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi
for v in $PG_VERSIONS; do
  pg_config=$(scripts/pg-config.sh "$v")
  if ! grep -qs "^pg${v} = \"${pg_config}\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    say "cargo pgrx init --pg${v} ${pg_config}"
    cargo pgrx init "--pg${v}" "$pg_config"
  fi
done

# Storage servers for the tests (moto, Azurite); `make demo` does not need them.
if [ "${WALRS_NO_TEST_SERVERS:-}" != 1 ]; then
  scripts/install-test-servers.sh
fi
