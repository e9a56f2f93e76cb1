#!/usr/bin/env bash
# generated from templates/pgpool/escalation.sh.hbs by pgha (npm run generate); do not edit
# wd_escalation_command: runs on the pgpool node that has just become watchdog leader,
# before it brings the delegate IP up. Clears the IP from every other pgpool node first,
# so two nodes never answer for it.
set -euo pipefail
PGHA_SCRIPT=escalation.sh
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

readonly VIP=${PGHA_DELEGATE_IP:?PGHA_DELEGATE_IP is not set}
readonly PEERS=${PGHA_PGPOOL_PEERS:-}

log escalation "becoming leader; clearing $VIP from the other pgpool nodes: ${PEERS:-none}"
for peer in ${PEERS//,/ }; do
  [[ "$peer" == "$PGHA_NODE" ]] && continue
  if pgha_ssh "$peer" /usr/local/lib/pgha/vip.sh down "$VIP"; then
    log escalation "$VIP cleared on $peer"
  else
    # An unreachable peer cannot answer ARP for the address either; say so and go on.
    log escalation "WARNING: could not reach $peer over SSH to clear $VIP; check sshd on $peer and the mounted keys"
  fi
done
log escalation "done; pgpool brings $VIP up here next"
