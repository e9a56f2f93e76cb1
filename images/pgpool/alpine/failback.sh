#!/usr/bin/env bash
# generated from templates/pgpool/failback.sh.hbs by pgha (npm run generate); do not edit
# failback_command: pgpool runs this when a backend is attached again (pcp_attach_node: by the node
# itself once it streams from the primary, by follow_primary.sh, by a person). The primary
# restores synchronous replication if it was suspended when its last standby was lost; in the
# background and bounded, nothing else to do.
set -euo pipefail
PGHA_SCRIPT=failback.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

# Arguments, named in src/pgpool/hooks.ts:
failed_node_id=$1
failed_node_host=$2
old_primary_node_host=$3

pgha_log failback "backend $failed_node_id ($failed_node_host) attached"
if [[ -z "$old_primary_node_host" || "$old_primary_node_host" == "$failed_node_host" ]]; then
  exit 0
fi
# In the background, bounded: pgpool takes no new client until this script returns, and the
# primary's answer changes nothing pgpool does.
(
  pgha_ssh_within "$PGHA_REMOTE_STEP_SECONDS" "$old_primary_node_host" pgha-node sync-restore ||
    pgha_log failback "WARNING: could not ask the primary $old_primary_node_host to restore synchronous replication"
) </dev/null &
