#!/usr/bin/env bash
# generated from templates/pgpool/follow_primary.sh.hbs by pgha (npm run generate); do not edit
# follow_primary_command: after a promotion pgpool runs this for every other standby.
# The standby is re-pointed at the new primary (pg_rewind, falling back to pg_basebackup)
# on a fresh replication slot, then attached again with pcp_attach_node.
# Arguments: %d %h %p %D %m %H %M %P %r %R (see pgpool.conf)
set -euo pipefail
PGHA_SCRIPT=follow_primary.sh
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

node_id=$1 node_host=$2
new_primary_id=$5 new_primary_host=$6
new_primary_port=$9
readonly DEFAULT_PCP_PORT=9898
readonly PCP_PORT=${PGHA_PCP_PORT:-$DEFAULT_PCP_PORT}

log follow "node $node_id ($node_host) follows the new primary $new_primary_id ($new_primary_host:$new_primary_port)"
if [[ "$node_id" == "$new_primary_id" ]]; then
  log follow "node $node_id is the new primary itself; nothing to do"
  exit 0
fi

# pgpool runs this for down nodes too; a node whose postgres does not answer is rebuilt
# when it comes back (pgha-node rejoin), not here.
if ! pg_isready -q -h "$node_host" -p "$3" -t 5; then
  log follow "node $node_id ($node_host:$3) does not answer; skipping it: it asks to be rebuilt when it returns"
  exit 0
fi
require_ssh "$new_primary_host" follow
require_ssh "$node_host" follow
pgha_ssh "$new_primary_host" /usr/local/bin/pgha-node ensure-slot "$(slot_name "$node_host")" ||
  die follow "could not create slot $(slot_name "$node_host") on $new_primary_host"
pgha_ssh "$node_host" /usr/local/bin/pgha-node follow "$new_primary_host" "$new_primary_port" ||
  die follow "$node_host could not follow $new_primary_host: see its container log"

log follow "attaching node $node_id with pcp_attach_node"
pcp_attach_node -h localhost -p "$PCP_PORT" -U pgpool -w -n "$node_id" ||
  die follow "pcp_attach_node for node $node_id failed: check pcp.conf and PCPPASSFILE (PCP_PASSWORD)"
pgha_ssh "$new_primary_host" /usr/local/bin/pgha-node sync-restore ||
  log follow "WARNING: could not restore synchronous replication on $new_primary_host"
log follow "node $node_id ($node_host) is a standby of $new_primary_host again"
