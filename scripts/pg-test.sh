#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite.
# Usage: scripts/pg-test.sh start|stop|status   (idempotent; prints the URL on start)
# PGDIR (default /tmp/tenantry-pg) holds data, socket and log; PGPORT defaults to 54329.
set -euo pipefail
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PGDIR=${PGDIR:-/tmp/tenantry-pg}
PGPORT=${PGPORT:-54329}
DB=${DB:-tenantry_test}; ROLE=${ROLE:-tenantry}; PASS=${PASS:-tenantry}
[ -n "$PGBIN" ] || { echo "PostgreSQL binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
start)
  URL="postgresql+psycopg://$ROLE:$PASS@127.0.0.1:$PGPORT/$DB"
  # pg_signal_backend: DROP DATABASE ... WITH (FORCE) must end every session in the database, and
  # refuses while an autovacuum worker is in it unless the role may signal processes of other roles.
  GRANT="GRANT pg_signal_backend TO $ROLE"
  if as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/psql" -h "$PGDIR" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q -c "SET client_min_messages = warning" -c "$GRANT"
    echo "$URL"; exit 0
  fi
  rm -rf "$PGDIR"; mkdir -p "$PGDIR"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGDIR"; fi
  as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 start >/dev/null \
     -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  as_pg "$PGBIN/psql" -h "$PGDIR" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q \
     -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASS' CREATEDB" -c "$GRANT" -c "CREATE DATABASE $DB OWNER $ROLE"
  echo "$URL" ;;
stop)
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR" ;;
status) as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
