#!/usr/bin/env bash
# source: shell/pgpool/vip.sh of pgha, copied verbatim into every pgpool image's build context
# by `npm run generate`; edit the source, not the copy.
#
# if_up_cmd / if_down_cmd: adds or removes the delegate IP on this node's interface.
# Usage: vip.sh up|down IP
set -euo pipefail
PGHA_SCRIPT=vip.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

action=${1:-}
ip=${2:-}
pgha_is_ipv4 "$ip" || pgha_die vip "expected an IPv4 address, got '$ip'"
present() { "$PGHA_IP_BIN" -4 -o addr show dev "$PGHA_VIP_DEVICE" | grep -qw "inet $ip/$PGHA_VIP_PREFIX"; }

case "$action" in
  up)
    if present; then
      pgha_log vip-up "$ip already on $PGHA_VIP_DEVICE"
    else
      sudo -n "$PGHA_IP_BIN" addr add "$ip/$PGHA_VIP_PREFIX" dev "$PGHA_VIP_DEVICE" label "$PGHA_VIP_DEVICE:0" ||
        pgha_die vip-up "could not add $ip/$PGHA_VIP_PREFIX to $PGHA_VIP_DEVICE: check sudo for $PGHA_IP_BIN and NET_ADMIN"
      pgha_log vip-up "$ip/$PGHA_VIP_PREFIX added to $PGHA_VIP_DEVICE"
    fi
    ;;
  down)
    if present; then
      sudo -n "$PGHA_IP_BIN" addr del "$ip/$PGHA_VIP_PREFIX" dev "$PGHA_VIP_DEVICE" ||
        pgha_die vip-down "could not remove $ip/$PGHA_VIP_PREFIX from $PGHA_VIP_DEVICE"
      pgha_log vip-down "$ip/$PGHA_VIP_PREFIX removed from $PGHA_VIP_DEVICE"
    else
      pgha_log vip-down "$ip not on $PGHA_VIP_DEVICE"
    fi
    ;;
  *) pgha_die vip "usage: vip.sh up|down IP" ;;
esac
