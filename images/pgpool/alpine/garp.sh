#!/usr/bin/env bash
# generated from templates/pgpool/garp.sh.hbs by pgha (npm run generate); do not edit
# arping_cmd: announces the delegate IP with gratuitous ARP so neighbours update their caches.
# Usage: garp.sh IP
set -euo pipefail
PGHA_SCRIPT=garp.sh
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

ip=${1:-}
readonly DEVICE=${PGHA_VIP_DEVICE:-eth0}
[[ "$ip" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die garp "expected an IPv4 address, got '$ip'"
sudo -n /usr/local/sbin/arping -U -c 3 -I "$DEVICE" "$ip" >/dev/null || die garp "gratuitous ARP for $ip on $DEVICE failed: check sudo for /usr/local/sbin/arping"
log garp "gratuitous ARP sent for $ip on $DEVICE"
