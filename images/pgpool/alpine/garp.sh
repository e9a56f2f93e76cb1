#!/usr/bin/env bash
# source: shell/pgpool/garp.sh of pgha, copied verbatim into every pgpool image's build context
# by `npm run generate`; edit the source, not the copy.
#
# arping_cmd: announces the delegate IP with gratuitous ARP so neighbours update their caches.
# Usage: garp.sh IP
set -euo pipefail
PGHA_SCRIPT=garp.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

ip=${1:-}
pgha_is_ipv4 "$ip" || pgha_die garp "expected an IPv4 address, got '$ip'"
sudo -n "$PGHA_ARPING_BIN" -U -c 3 -I "$PGHA_VIP_DEVICE" "$ip" >/dev/null ||
  pgha_die garp "gratuitous ARP for $ip on $PGHA_VIP_DEVICE failed: check sudo for $PGHA_ARPING_BIN"
pgha_log garp "gratuitous ARP sent for $ip on $PGHA_VIP_DEVICE"
