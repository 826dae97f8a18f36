#!/usr/bin/env bash
# The pg_config of a supported PostgreSQL major version: 15 from Debian, 16-18 from
# scripts/install-pg-versions.sh.
case "${1:?usage: pg-config.sh MAJOR}" in
  15) echo /usr/lib/postgresql/15/bin/pg_config ;;
  16|17|18) echo "${WALRS_PG_PREFIX:-/opt/walrs-pg}/$1/bin/pg_config" ;;
  *) echo "unsupported PostgreSQL version: $1 (walrs supports 15, 16, 17, 18)" >&2; exit 1 ;;
esac
