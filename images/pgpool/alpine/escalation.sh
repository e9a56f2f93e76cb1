#!/usr/bin/env bash
# source: shell/pgpool/escalation.sh of pgha, copied verbatim into every pgpool image's build
# context by `npm run generate`; edit the source, not the copy.
#
# wd_escalation_command: runs on the pgpool node that has just become watchdog leader,
# before it brings the delegate IP up. Clears the IP from every other pgpool node first,
# so two nodes never answer for it.
set -euo pipefail
PGHA_SCRIPT=escalation.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

: "${PGHA_DELEGATE_IP:?PGHA_DELEGATE_IP is not set}"

pgha_log escalation "becoming leader; clearing $PGHA_DELEGATE_IP from the other pgpool nodes: ${PGHA_PGPOOL_PEERS:-none}"
for peer in ${PGHA_PGPOOL_PEERS//,/ }; do
  [[ "$peer" == "$PGHA_NODE" ]] && continue
  if pgha_ssh "$peer" vip-down "$PGHA_DELEGATE_IP"; then
    pgha_log escalation "$PGHA_DELEGATE_IP cleared on $peer"
  else
    # An unreachable peer cannot answer ARP for the address either; say so and go on.
    pgha_log escalation "WARNING: could not reach $peer over SSH to clear $PGHA_DELEGATE_IP; check sshd on $peer and the mounted keys"
  fi
done
pgha_log escalation "done; pgpool brings $PGHA_DELEGATE_IP up here next"
