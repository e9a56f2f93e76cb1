#!/usr/bin/env bash
# generated from templates/pgpool/failover.sh.hbs by pgha (npm run generate); do not edit
# failover_command: pgpool runs this on the watchdog leader when a backend is detached.
# When the primary failed, it promotes the new main node over SSH and rewrites the
# .node_role breadcrumbs; when a standby failed, it drops that standby's slot.
# Arguments: %d %h %p %D %m %H %M %P %r %R %N %S (see pgpool.conf)
set -euo pipefail
PGHA_SCRIPT=failover.sh
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

failed_id=$1 failed_host=$2
new_main_id=$5 new_main_host=$6
old_primary_id=$8
old_primary_host=${11:-}

log failover "backend $failed_id ($failed_host) is down; old primary $old_primary_id, new main candidate $new_main_id ($new_main_host)"

if [[ "$new_main_id" -lt 0 ]]; then
  die failover "every backend is down: no node to promote; refusing to act. Bring a node back and attach it with pcp_attach_node"
fi

if [[ "$failed_id" != "$old_primary_id" ]]; then
  log failover "a standby failed; the primary stays. Dropping its replication slot on the primary"
  if [[ -n "$old_primary_host" ]]; then
    pgha_ssh "$old_primary_host" /usr/local/bin/pgha-node drop-slot "$(slot_name "$failed_host")" ||
      log failover "WARNING: could not drop slot $(slot_name "$failed_host") on $old_primary_host; WAL is kept for it until it is dropped"
  fi
  exit 0
fi

require_ssh "$new_main_host" failover
log failover "promoting $new_main_host (node $new_main_id)"
pgha_ssh "$new_main_host" /usr/local/bin/pgha-node promote ||
  die failover "promotion of $new_main_host failed: see its container log; the cluster has no primary until one is promoted"

# The old primary is usually unreachable now; when it is, mark it so it comes back as a standby.
if pgha_ssh "$failed_host" /usr/local/bin/pgha-node set-role BACKUP 2>/dev/null; then
  log failover "$failed_host marked BACKUP"
else
  log failover "$failed_host unreachable; it will be rebuilt as BACKUP when it returns"
fi
log failover "done: $new_main_host is the primary"
