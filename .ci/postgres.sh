#!/usr/bin/env bash
# Installs (Debian's package) and starts a PostgreSQL server with a role and database for the
# store's tests; prints the SQLAlchemy URL the tests read from XSTILTS_TEST_POSTGRES.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then  # installing and starting a server needs root; the tests then skip
  echo "postgres.sh: not root, no PostgreSQL server started (the PostgreSQL store tests will skip)" >&2
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
read -r version cluster port _ < <(pg_lsclusters -h | head -1)
pg_ctlcluster "$version" "$cluster" start >&2 2>/dev/null || true   # already running is fine
for _ in $(seq 30); do pg_isready -q -p "$port" && break; sleep 1; done
as_pg() { runuser -u postgres -- psql -p "$port" -qtAc "$1"; }
[ "$(as_pg "SELECT 1 FROM pg_roles WHERE rolname='xstilts'")" = 1 ] ||
  as_pg "CREATE ROLE xstilts LOGIN PASSWORD 'xstilts' CREATEDB" >&2
[ "$(as_pg "SELECT 1 FROM pg_database WHERE datname='xstilts'")" = 1 ] ||
  as_pg "CREATE DATABASE xstilts OWNER xstilts" >&2
echo "postgresql+psycopg://xstilts:xstilts@127.0.0.1:$port/xstilts"
