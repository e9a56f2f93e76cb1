#!/usr/bin/env bash
# source: shell/pgpool/escalation.sh of pgha, copied verbatim into every pgpool image's build
# context by `npm run generate`; edit the source, not the copy.
#
# wd_escalation_command: runs on the pgpool node that has just become watchdog leader,
# before it brings the delegate IP up. Clears the IP from every other pgpool node first,
# so two nodes never answer for it. Without a delegate IP there is nothing to do.
set -euo pipefail
PGHA_SCRIPT=escalation.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

# The address pgpool brings up next is the one the entrypoint wrote (root) from cluster.conf;
# a container environment without it must not make this a no-op while pgpool raises it.
if pgha_read_vip_conf && [[ -n "${PGHA_VIP_CONF_IP:-}" ]]; then
  PGHA_DELEGATE_IP=$PGHA_VIP_CONF_IP
fi
# A watchdog without a delegate IP (several hosts) has nothing to clear.
if [[ -z "$PGHA_DELEGATE_IP" ]]; then
  pgha_log escalation "becoming leader; no delegate IP to clear"
  exit 0
fi

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

# escalation_lost_peers: the pgpool nodes this node's watchdog reports lost, dead or shut down
# (pcp_watchdog_info -v, bounded by 1 s), one a line; nothing when it does not answer.
escalation_lost_peers() {
  pgha_watchdog_info 1 |
    awk -F' *: *' '/^Host Name/ { host = $2 } /^Status Name/ && ($2 == "LOST" || $2 == "DEAD" || $2 == "SHUTDOWN") { print host }'
}

pgha_log escalation "becoming leader; clearing $PGHA_DELEGATE_IP from the other pgpool nodes: ${PGHA_PGPOOL_PEERS:-none}"
# All peers at once: the slowest bounds the wait, not the sum.
declare -A clearing=()
for peer in ${PGHA_PGPOOL_PEERS//,/ }; do
  [[ "$peer" == "$PGHA_NODE" ]] && continue
  escalation_clear_peer "$peer" &
  clearing[$peer]=$!
done
# The peer whose loss made this node leader (a killed container) answers nothing, and waiting
# out its SSH bound would hold the delegate IP down that long. A peer the watchdog has lost is
# cleared in the background instead (a pgpool that died in a live container still answers and
# drops the IP moments later); the peers it still sees are waited for.
lost=$(escalation_lost_peers)
for peer in "${!clearing[@]}"; do
  if grep -qxF -- "$peer" <<<"$lost"; then
    pgha_log escalation "$peer is lost to the watchdog: clearing it in the background, not waiting for it"
  else
    wait "${clearing[$peer]}" || true
  fi
done
pgha_log escalation "done; pgpool brings $PGHA_DELEGATE_IP up here next"
