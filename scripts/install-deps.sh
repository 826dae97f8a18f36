#!/usr/bin/env bash
# Install what building and testing walrs needs on Debian 12, as root. Idempotent: each step
# runs only when its result is missing, so a second run takes seconds.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_CONFIG="/usr/lib/postgresql/${PG_VERSION}/bin/pg_config"
PGRX_VERSION="0.18.1"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(postgresql-${PG_VERSION} postgresql-server-dev-${PG_VERSION} postgresql-contrib
          libclang-dev clang pkg-config build-essential sudo)
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

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found; install Rust 1.95 with rustup first" >&2
  exit 1
fi
if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
  say "cargo install cargo-pgrx ${PGRX_VERSION} (takes a few minutes)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi
if ! grep -qs "^pg${PG_VERSION} = \"${PG_CONFIG}\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  say "cargo pgrx init --pg${PG_VERSION} ${PG_CONFIG}"
  cargo pgrx init "--pg${PG_VERSION}" "$PG_CONFIG"
fi
