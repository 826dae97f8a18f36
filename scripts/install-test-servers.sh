#!/usr/bin/env bash
# Install the storage servers the tests talk to: moto (S3) and Azurite (Azure Blob), pinned,
# into a cache directory so nothing system-wide changes but Node.js when it is missing.
# Idempotent: a second run only checks versions. Prints where the binaries are.
#
#   WALRS_CACHE_DIR   where to install (default ~/.cache/walrs)
#
# Both come from their registries (PyPI, npm); Node.js, when missing or older than 18, comes
# from Debian's own packages (Debian 12 has 18.x; Azurite supports it), so no download from
# outside a package registry is needed.
set -euo pipefail

MOTO_VERSION="5.2.1"
AZURITE_VERSION="3.35.0"
NODE_MIN_MAJOR=18
CACHE="${WALRS_CACHE_DIR:-$HOME/.cache/walrs}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'install-test-servers: %s\n' "$*" >&2; exit 1; }

apt_install() {
  [ "$(id -u)" = 0 ] || die "$* missing and not root: install it (apt-get install $*) and run again"
  say "apt-get install $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- moto (S3), in its own virtual environment ---------------------------------------------
moto_venv="$CACHE/moto"
moto_bin="$moto_venv/bin/moto_server"
if [ ! -x "$moto_bin" ] || [ "$("$moto_venv/bin/python" -m pip show moto 2>/dev/null | awk '/^Version:/ {print $2}')" != "$MOTO_VERSION" ]; then
  command -v python3 >/dev/null || apt_install python3
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt_install python3-venv
  fi
  say "pip install moto[server]==$MOTO_VERSION into $moto_venv"
  rm -rf "$moto_venv"
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# --- Azurite (Azure Blob), with npm into the cache -------------------------------------------
node_major() { node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || [ "$(node_major)" -lt "$NODE_MIN_MAJOR" ] || ! command -v npm >/dev/null; then
  apt_install nodejs npm
  [ "$(node_major)" -ge "$NODE_MIN_MAJOR" ] || die "node $(node --version) is older than $NODE_MIN_MAJOR"
fi
azurite_dir="$CACHE/azurite"
azurite_bin="$azurite_dir/node_modules/.bin/azurite-blob"
installed=$(node -e "try{process.stdout.write(require('$azurite_dir/node_modules/azurite/package.json').version)}catch(e){}" 2>/dev/null || true)
if [ ! -x "$azurite_bin" ] || [ "$installed" != "$AZURITE_VERSION" ]; then
  say "npm install azurite@$AZURITE_VERSION into $azurite_dir"
  mkdir -p "$azurite_dir"
  npm install --silent --no-audit --no-fund --prefix "$azurite_dir" "azurite@$AZURITE_VERSION" >/dev/null
fi

"$moto_bin" --help >/dev/null || die "$moto_bin does not run"
[ -x "$azurite_bin" ] || die "$azurite_bin is missing after npm install"
echo "moto_server ($MOTO_VERSION):    $moto_bin"
echo "azurite-blob ($AZURITE_VERSION): $azurite_bin (node $(node --version))"
