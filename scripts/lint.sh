#!/usr/bin/env bash
# The checks `make test` runs before any test: formatting (`fmt`), then clippy with every
# warning an error (`clippy`) over every crate and target. The extension is linted for
# PostgreSQL 15 with the workspace, and again for the newest version in $PG_VERSIONS (18 in
# `make test`): the archive module's entry points for 16 and later are compiled only then.
# clippy needs pgrx initialised for those versions: run it after install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
case "${1:-all}" in
fmt | all)
  cargo fmt --all --check
  ;;&
clippy | all)
  cargo clippy --locked --workspace --all-targets -- -D warnings
  newest=$(printf '%s\n' ${PG_VERSIONS:-15} | sort -n | tail -1)
  if [ "$newest" != 15 ]; then
    cargo clippy --locked -p walrs --no-default-features --features "pg$newest" --all-targets -- -D warnings
  fi
  ;;
esac
