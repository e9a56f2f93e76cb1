#!/usr/bin/env bash
# source: shell/pgpool/garp.sh of pgha, copied verbatim into every pgpool image's build context
# by `npm run generate`; edit the source, not the copy.
#
# arping_cmd: announces the delegate IP with gratuitous ARP, through the root-owned pgha-vip,
# so neighbours update their caches. Usage: garp.sh IP (the configured delegate IP).
set -euo pipefail
PGHA_SCRIPT=garp.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

ip=${1:-}
pgha_require_vip garp "$ip"
sudo -n "$PGHA_VIP_BIN" announce >/dev/null ||
  pgha_die garp "gratuitous ARP for $ip on $PGHA_VIP_CONF_DEVICE failed: check sudo for $PGHA_VIP_BIN"
pgha_log garp "gratuitous ARP sent for $ip on $PGHA_VIP_CONF_DEVICE"
