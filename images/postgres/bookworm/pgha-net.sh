#!/usr/bin/env bash
# source: shell/lib/pgha-net.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# Reaching a service on another node (or this one): TCP and postgres probes, and the
# delegate IP as the entrypoint configured it. Sourced by pgha-lib.sh, never on its own.

# pgha_port_open HOST PORT SECONDS: HOST accepts a TCP connection on PORT, in one try bounded
# by SECONDS. bash's /dev/tcp: no client package needed (the Alpine image has no psql).
pgha_port_open() {
  # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
  timeout "$3" bash -c ': >"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# pgha_ipv4_int ADDRESS: a dotted IPv4 address as one number.
pgha_ipv4_int() {
  local IFS=.
  local -a o
  read -ra o <<<"$1"
  echo $(((o[0] << 24) + (o[1] << 16) + (o[2] << 8) + o[3]))
}

# pgha_local_address_in CIDR: this container's first IPv4 address inside CIDR (as `ip` lists
# them); fails when it has none there.
pgha_local_address_in() {
  local bits=${1##*/} net mask addr
  net=$(pgha_ipv4_int "${1%/*}")
  mask=$(((bits == 0 ? 0 : 0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF))
  while read -r addr; do
    addr=${addr%/*}
    pgha_is_ipv4 "$addr" || continue
    if ((($(pgha_ipv4_int "$addr") & mask) == (net & mask))); then
      echo "$addr"
      return 0
    fi
  done < <(ip -4 -o addr show 2>/dev/null | awk '{ print $4 }')
  return 1
}

# pgha_wait_port HOST PORT SECONDS: true once HOST accepts TCP connections on PORT, false
# after SECONDS; each try bounded by a second.
pgha_wait_port() {
  local host=$1 port=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    pgha_port_open "$host" "$port" 1 && return 0
    sleep 0.2
  done
  return 1
}

# pgha_wait_pg HOST PORT SECONDS: true once postgres on HOST accepts connections (a standby
# too), false after SECONDS.
pgha_wait_pg() {
  local host=$1 port=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    pg_isready -q -h "$host" -p "$port" -t 1 && return 0
    sleep 0.2
  done
  return 1
}

# --- The delegate IP, as the entrypoint configured it for pgha-vip (pgpool image).

# pgha_read_vip_conf: PGHA_VIP_CONF_IP, _PREFIX and _DEVICE from PGHA_VIP_CONF; 1 without it.
pgha_read_vip_conf() {
  local key value
  [[ -r "$PGHA_VIP_CONF" ]] || return 1
  # shellcheck disable=SC2034 # read by the caller
  while IFS='=' read -r key value; do
    case "$key" in
      delegate_ip) PGHA_VIP_CONF_IP=$value ;;
      prefix) PGHA_VIP_CONF_PREFIX=$value ;;
      device) PGHA_VIP_CONF_DEVICE=$value ;;
    esac
  done <"$PGHA_VIP_CONF"
}

# pgha_require_vip ACTION IP: reads the delegate IP's settings (pgha_read_vip_conf) and dies,
# naming ACTION, unless IP is the configured delegate IP: sudo lets pgpool's scripts move that
# address and no other.
pgha_require_vip() {
  local action=$1 ip=$2
  pgha_is_ipv4 "$ip" || pgha_die "$action" "expected an IPv4 address, got '$ip'"
  pgha_read_vip_conf || pgha_die "$action" "$PGHA_VIP_CONF is missing: the watchdog is off or the entrypoint did not run"
  [[ "$ip" == "$PGHA_VIP_CONF_IP" ]] || pgha_die "$action" "expected the configured delegate IP $PGHA_VIP_CONF_IP, got '$ip'"
}
