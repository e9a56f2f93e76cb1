#!/usr/bin/env bash
# generated from templates/postgres/postgres-run.sh.hbs by pgha (npm run generate); do not edit
# Runs postgres for supervisor, unless the node is marked .do_not_start: then it waits for
# the marker to go (pgpool_remote_start or the operator removes it) and starts postgres.
set -euo pipefail
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

marker=/var/lib/postgresql/.do_not_start
if [[ -e "$marker" ]]; then
  log hold "postgres held: $marker exists; waiting for recovery to remove it"
  while [[ -e "$marker" ]]; do sleep 1; done
  log hold "marker removed; starting postgres"
fi
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  log hold "no database cluster in $PGDATA yet; waiting for one"
  while [[ ! -s "$PGDATA/PG_VERSION" ]]; do sleep 1; done
fi
log start "starting postgres ($(cat /var/lib/postgresql/.node_role 2>/dev/null || echo 'no role'))"
exec postgres -D "$PGDATA"
