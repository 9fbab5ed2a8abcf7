#!/usr/bin/env bash
# First start of the compose `postgres` service only (the image runs
# /docker-entrypoint-initdb.d/* when the data volume is empty), as the superuser:
# the three roles from sql/roles.sql with passwords from the environment, then the
# database, owned by pigeon_owner. Migrations (`npm run migrate`) do the rest.
# To change a password later, run sql/roles.sql again by hand; this does not re-run.
set -euo pipefail

: "${PIGEON_OWNER_PASSWORD:?}" "${PIGEON_API_PASSWORD:?}" "${PIGEON_WORKER_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$PIGEON_OWNER_PASSWORD" \
  -v api_password="$PIGEON_API_PASSWORD" \
  -v worker_password="$PIGEON_WORKER_PASSWORD" \
  -f /sql/roles.sql

# The same as src/db/bootstrap.ts ensureDatabase(): owned by pigeon_owner, nothing for
# PUBLIC, connect and temporary for the run-time roles.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v db=pigeon <<'SQL'
select format('create database %I owner pigeon_owner', :'db')
 where not exists (select 1 from pg_database where datname = :'db') \gexec
select format('revoke all on database %I from public', :'db') \gexec
select format('grant connect, temporary on database %I to pigeon_api, pigeon_worker', :'db') \gexec
SQL
