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

# escalation_clear_peer PEER: removes the delegate IP from one peer, bounded in total. A peer
# that does not answer within PGHA_ESCALATION_SSH_TIMEOUT cannot answer ARP for the address
# either (it is dead or cut off), so a short bound loses nothing and the IP moves sooner.
escalation_clear_peer() {
  local peer=$1
  if PGHA_SSH_CONNECT_TIMEOUT=$PGHA_ESCALATION_SSH_TIMEOUT pgha_ssh_within "$PGHA_REMOTE_STEP_SECONDS" "$peer" vip-down "$PGHA_DELEGATE_IP"; then
    pgha_log escalation "$PGHA_DELEGATE_IP cleared on $peer"
  else
    pgha_log escalation "WARNING: could not reach $peer over SSH to clear $PGHA_DELEGATE_IP; check sshd on $peer and the mounted keys"
  fi
}

pgha_log escalation "becoming leader; clearing $PGHA_DELEGATE_IP from the other pgpool nodes: ${PGHA_PGPOOL_PEERS:-none}"
# All peers at once: the slowest bounds the wait, not the sum.
for peer in ${PGHA_PGPOOL_PEERS//,/ }; do
  [[ "$peer" == "$PGHA_NODE" ]] && continue
  escalation_clear_peer "$peer" &
done
wait
pgha_log escalation "done; pgpool brings $PGHA_DELEGATE_IP up here next"
