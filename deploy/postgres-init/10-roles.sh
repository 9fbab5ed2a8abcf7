#!/usr/bin/env bash
# First start of the compose `postgres` service only (the image runs
# /docker-entrypoint-initdb.d/* when the data volume is empty), as the superuser:
# sql/roles.sql with passwords from the environment: the three roles and the `pigeon`
# database, owned by pigeon_owner. Migrations (`npm run migrate`) do the rest.
# To change a password later, run sql/roles.sql again by hand; this does not re-run.
set -euo pipefail

: "${PIGEON_OWNER_PASSWORD:?}" "${PIGEON_API_PASSWORD:?}" "${PIGEON_WORKER_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$PIGEON_OWNER_PASSWORD" \
  -v api_password="$PIGEON_API_PASSWORD" \
  -v worker_password="$PIGEON_WORKER_PASSWORD" \
  -f /sql/roles.sql
