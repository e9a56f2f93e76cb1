#!/usr/bin/env bash
# generated from templates/pgpool/follow_primary.sh.hbs by pgha (npm run generate); do not edit
# follow_primary_command: after a promotion pgpool runs this for every other standby.
# The standby is re-pointed at the new primary (pg_rewind, falling back to pg_basebackup)
# on a fresh replication slot, then attached again with pcp_attach_node.
set -euo pipefail
PGHA_SCRIPT=follow_primary.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

# Arguments, named in src/pgpool/hooks.ts:
failed_node_id=$1
failed_node_host=$2
failed_node_port=$3
new_main_node_id=$4
new_main_node_host=$5
new_main_node_port=$6
old_primary_node_id=$7

pgha_log follow "node $failed_node_id ($failed_node_host) follows the new primary $new_main_node_id ($new_main_node_host:$new_main_node_port)"
if [[ "$failed_node_id" == "$new_main_node_id" ]]; then
  pgha_log follow "node $failed_node_id is the new primary itself; nothing to do"
  exit 0
fi

# The primary that failed fences itself and asks to be rebuilt when it runs again (pgha-node
# rejoin). Re-pointing it here too raced that rebuild on its data directory (seen in a nemesis
# run: this script's pg_ctl stop met the rebuild's single-user postgres), and pgpool runs this
# script node after node, so the other standbys waited behind it.
if [[ "$failed_node_id" == "$old_primary_node_id" ]]; then
  pgha_log follow "node $failed_node_id was the primary that failed: it rebuilds itself from the new primary when it asks pgpool (pgha-node rejoin); not re-pointed here"
  exit 0
fi

# pgpool runs this for down nodes too; a node whose postgres does not answer is rebuilt
# when it comes back (pgha-node rejoin), not here.
if ! pg_isready -q -h "$failed_node_host" -p "$failed_node_port" -t "$PGHA_CONNECT_TIMEOUT"; then
  pgha_log follow "node $failed_node_id ($failed_node_host:$failed_node_port) does not answer; skipping it: it asks to be rebuilt when it returns"
  exit 0
fi
# The standby is checked before a slot is made for it (a slot nobody streams from keeps WAL on
# the primary); the new primary's own SSH failure shows in the slot step's status (255).
pgha_require_ssh "$failed_node_host" follow
slot=$(pgha_slot_name "$failed_node_host")
rc=0
pgha_ssh_within "$PGHA_REMOTE_STEP_SECONDS" "$new_main_node_host" pgha-node ensure-slot "$slot" || rc=$?
((rc != 255)) || pgha_die follow "$(pgha_ssh_failed "$new_main_node_host")"
((rc == 0)) || pgha_die follow "could not create slot $slot on $new_main_node_host"
pgha_ssh "$failed_node_host" pgha-node follow "$new_main_node_host" "$new_main_node_port" ||
  pgha_die follow "$failed_node_host could not follow $new_main_node_host: see its container log"

pgha_log follow "attaching node $failed_node_id with pcp_attach_node"
said=$(pgha_pcp_run "$PGHA_REMOTE_STEP_SECONDS" localhost pcp_attach_node -n "$failed_node_id") ||
  pgha_die follow "pcp_attach_node for node $failed_node_id failed (${said//$'\n'/ }): check pcp.conf and PCPPASSFILE (PCP_PASSWORD)"
# Synchronous replication, if it was suspended, is restored by failback.sh: pgpool runs it for
# this attach.
pgha_log follow "node $failed_node_id ($failed_node_host) is a standby of $new_main_node_host again"
