#!/usr/bin/env bash
# source: shell/postgres/postgres-run.sh of pgha, copied verbatim into the postgres image's
# build context by `npm run generate`; edit the source, not the copy.
#
# Runs postgres for supervisor, unless the node is marked .do_not_start: then it waits for
# the marker to go (pgpool_remote_start or the operator removes it) and starts postgres.
set -euo pipefail
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

if [[ -e "$PGHA_HOLD_MARKER" ]]; then
  pgha_log hold "postgres held: $PGHA_HOLD_MARKER exists; waiting for recovery to remove it"
  while [[ -e "$PGHA_HOLD_MARKER" ]]; do sleep 0.2; done
  pgha_log hold "marker removed; starting postgres"
fi
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  pgha_log hold "no database cluster in $PGDATA yet; waiting for one"
  while [[ ! -s "$PGDATA/PG_VERSION" ]]; do sleep 1; done
fi
pgha_log start "starting postgres ($(cat "$PGHA_ROLE_FILE" 2>/dev/null || echo 'no role'))"
exec postgres -D "$PGDATA"
