#!/usr/bin/env bash
# source: shell/pgpool/vip.sh of pgha, copied verbatim into every pgpool image's build context
# by `npm run generate`; edit the source, not the copy.
#
# if_up_cmd / if_down_cmd (and escalation.sh on the other pgpool nodes, over SSH): adds or
# removes the delegate IP on this node's interface through the root-owned pgha-vip, the only
# thing sudo allows. Usage: vip.sh up|down IP (IP must be the configured delegate IP).
set -euo pipefail
PGHA_SCRIPT=vip.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

action=${1:-}
ip=${2:-}
pgha_require_vip vip "$ip"

case "$action" in
  up)
    result=$(sudo -n "$PGHA_VIP_BIN" up) ||
      pgha_die vip-up "could not add $ip/$PGHA_VIP_CONF_PREFIX to $PGHA_VIP_CONF_DEVICE: check sudo for $PGHA_VIP_BIN and NET_ADMIN"
    case "$result" in
      present) pgha_log vip-up "$ip already on $PGHA_VIP_CONF_DEVICE" ;;
      *) pgha_log vip-up "$ip/$PGHA_VIP_CONF_PREFIX added to $PGHA_VIP_CONF_DEVICE" ;;
    esac
    ;;
  down)
    result=$(sudo -n "$PGHA_VIP_BIN" down) ||
      pgha_die vip-down "could not remove $ip/$PGHA_VIP_CONF_PREFIX from $PGHA_VIP_CONF_DEVICE"
    case "$result" in
      absent) pgha_log vip-down "$ip not on $PGHA_VIP_CONF_DEVICE" ;;
      *) pgha_log vip-down "$ip/$PGHA_VIP_CONF_PREFIX removed from $PGHA_VIP_CONF_DEVICE" ;;
    esac
    ;;
  *) pgha_die vip "usage: vip.sh up|down IP" ;;
esac
