#!/usr/bin/env bash
# generated from templates/pgpool/vip.sh.hbs by pgha (npm run generate); do not edit
# if_up_cmd / if_down_cmd: adds or removes the delegate IP on this node's interface.
# Usage: vip.sh up|down IP
set -euo pipefail
PGHA_SCRIPT=vip.sh
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

action=${1:-}
ip=${2:-}
readonly DEVICE=${PGHA_VIP_DEVICE:-eth0}
readonly PREFIX=${PGHA_VIP_PREFIX:-24}

[[ "$ip" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die vip "expected an IPv4 address, got '$ip'"
present() { /sbin/ip -4 -o addr show dev "$DEVICE" | grep -qw "inet $ip/$PREFIX"; }

case "$action" in
  up)
    if present; then
      log vip-up "$ip already on $DEVICE"
    else
      sudo -n /sbin/ip addr add "$ip/$PREFIX" dev "$DEVICE" label "$DEVICE:0" || die vip-up "could not add $ip/$PREFIX to $DEVICE: check sudo for /sbin/ip and NET_ADMIN"
      log vip-up "$ip/$PREFIX added to $DEVICE"
    fi
    ;;
  down)
    if present; then
      sudo -n /sbin/ip addr del "$ip/$PREFIX" dev "$DEVICE" || die vip-down "could not remove $ip/$PREFIX from $DEVICE"
      log vip-down "$ip/$PREFIX removed from $DEVICE"
    else
      log vip-down "$ip not on $DEVICE"
    fi
    ;;
  *) die vip "usage: vip.sh up|down IP" ;;
esac
