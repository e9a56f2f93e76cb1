#!/usr/bin/env bats
# The pgpool entrypoint's configuration check (pgha_pgpool_check_config), sourced from the
# generated context with its files pointed at temporary copies: every problem is reported at
# once, and the watchdog's secrets and delegate IP are checked before pgpool.conf is written.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh"
  export PGHA_IMAGE_CONF="$BATS_TEST_TMPDIR/pgpool.conf" PGHA_PGPOOL_PARAMS="$CONTEXT/pgpool-params.txt"
  export PGHA_CLUSTER_CONF="$BATS_TEST_TMPDIR/cluster.conf" PGHA_DEFAULT_CLUSTER_CONF="$BATS_TEST_TMPDIR/cluster.conf"
  cp "$CONTEXT/pgpool.conf" "$PGHA_IMAGE_CONF"
  printf "use_watchdog = on\ndelegate_ip = '172.30.0.100'\nbackend_hostname0 = 'pg0'\n" >"$PGHA_CLUSTER_CONF"
  export POSTGRES_PASSWORD=a PGPOOL_PASSWORD=b PCP_PASSWORD=c WD_AUTHKEY=d PGPOOL_NODE_ID=0
  # shellcheck source=/dev/null
  . "$CONTEXT/entrypoint.sh"
}

check() { run pgha_pgpool_check_config; }

@test "a complete watchdog configuration passes" {
  check
  [[ "$status" -eq 0 && -z "$output" ]]
}

@test "a wd_authkey with a quote or a backslash is refused, not mangled" {
  WD_AUTHKEY="ab'c" check
  [[ "$status" -eq 2 ]]
  [[ "$output" == "pgha-pgpool: configuration error: WD_AUTHKEY: expected a key without ' or \\ (pgpool.conf cannot hold them as themselves)" ]]
  WD_AUTHKEY='ab\c' check
  [[ "$status" -eq 2 ]]
}

@test "an empty wd_authkey file (watchdog authentication off) is refused" {
  printf '\n' >"$BATS_TEST_TMPDIR/key"
  unset WD_AUTHKEY
  WD_AUTHKEY_FILE="$BATS_TEST_TMPDIR/key" check
  [[ "$status" -eq 2 ]]
  [[ "$output" == *"WD_AUTHKEY_FILE: expected a value, found only white space"* ]]
}

@test "every problem at once: node id, delegate IP disagreeing with the environment, prefix, device, unknown key" {
  printf "use_watchdog = on\ndelegate_ip = '172.30.0.100'\nbackend_hostname0 = 'pg0'\ndelegate_IP = 'x'\n" >"$PGHA_CLUSTER_CONF"
  PGPOOL_NODE_ID=x PGHA_DELEGATE_IP=172.30.0.101 PGHA_VIP_PREFIX=33 PGHA_VIP_DEVICE='eth0;id' check
  [[ "$status" -eq 2 ]]
  [[ "${#lines[@]}" -eq 5 ]]
  [[ "${lines[0]}" == *"has no parameter 'delegate_IP'"* ]]
  [[ "${lines[1]}" == *"PGPOOL_NODE_ID: expected this node's watchdog id"* ]]
  [[ "${lines[2]}" == *"PGHA_DELEGATE_IP: expected the delegate_ip of $PGHA_CLUSTER_CONF (172.30.0.100), got '172.30.0.101'"* ]]
  [[ "${lines[3]}" == *"PGHA_VIP_PREFIX: expected a prefix length 0-32, got '33'"* ]]
  [[ "${lines[4]}" == *"PGHA_VIP_DEVICE: expected an interface name, got 'eth0;id'"* ]]
}

@test "PGHA_WD_PRIORITY, when given, is a whole number of at least 1" {
  PGHA_WD_PRIORITY=3 check
  [[ "$status" -eq 0 && -z "$output" ]]
  for bad in 0 x -1 '1 2'; do
    PGHA_WD_PRIORITY=$bad check
    [[ "$status" -eq 2 && "$output" == "pgha-pgpool: configuration error: PGHA_WD_PRIORITY: expected a whole number from 1 to 999999999, got '$bad'" ]] || { echo "accepted '$bad': $output"; return 1; }
  done
}

@test "PGHA_BACKENDS: host[:port] with a port of 1-65535" {
  PGHA_BACKENDS=pg0:5432,pg1 check
  [[ "$status" -eq 0 && -z "$output" ]]
  for bad in pg0:99999 pg0:0 pg0:x '-oProxy:5432'; do
    PGHA_BACKENDS=$bad check
    [[ "$status" -eq 2 && "$output" == "pgha-pgpool: configuration error: PGHA_BACKENDS: expected host[:port],... got '$bad'" ]] || { echo "accepted '$bad': $output"; return 1; }
  done
}

@test "a watchdog without a delegate IP passes (several hosts); the environment may not name one then" {
  printf "use_watchdog = on\ndelegate_ip = ''\nbackend_hostname0 = 'pg0'\n" >"$PGHA_CLUSTER_CONF"
  # Prefix and device do not matter without an address.
  PGHA_VIP_PREFIX=99 check
  [[ "$status" -eq 0 && -z "$output" ]]
  PGHA_DELEGATE_IP=172.30.0.100 check
  [[ "$status" -eq 2 && "$output" == "pgha-pgpool: configuration error: PGHA_DELEGATE_IP: expected the delegate_ip of $PGHA_CLUSTER_CONF (none), got '172.30.0.100'" ]]
  printf "use_watchdog = on\ndelegate_ip = 'vip'\nbackend_hostname0 = 'pg0'\n" >"$PGHA_CLUSTER_CONF"
  check
  [[ "$status" -eq 2 && "$output" == *"delegate_ip: expected the delegate IP (IPv4) in $PGHA_CLUSTER_CONF, or '' for none, got 'vip'" ]]
}

# What `ip -4 -o addr show` prints on a node on two networks (a swarm's cluster and clients).
fake_ip() {
  ip() {
    printf '%s\n' '1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever' \
      '40: eth0    inet 10.0.7.250/22 brd 10.0.7.255 scope global eth0\       valid_lft forever preferred_lft forever' \
      '42: eth1    inet 10.0.9.7/24 brd 10.0.9.255 scope global eth1\       valid_lft forever preferred_lft forever'
  }
}

@test "pgha_local_address_in: this node's address inside a subnet, by the subnet's own mask" {
  fake_ip
  [[ "$(pgha_local_address_in 10.0.9.0/24)" == 10.0.9.7 ]]
  [[ "$(pgha_local_address_in 10.0.4.0/22)" == 10.0.7.250 ]]
  [[ "$(pgha_local_address_in 10.0.8.0/23)" == 10.0.9.7 ]]
  [[ "$(pgha_local_address_in 0.0.0.0/0)" == 127.0.0.1 ]]
  run pgha_local_address_in 10.0.8.0/24
  [[ "$status" -ne 0 && -z "$output" ]]
  run pgha_local_address_in 192.168.0.0/16
  [[ "$status" -ne 0 && -z "$output" ]]
}

@test "without a delegate IP, pcp, the watchdog and sshd are bound to the cluster network's address; with one, or samenet, to every address" {
  fake_ip
  printf "use_watchdog = on\ndelegate_ip = ''\nbackend_hostname0 = 'pg0'\n" >"$PGHA_CLUSTER_CONF"
  PGHA_MERGED_CONF=$(pgha_pgpool_merged_conf)
  PGHA_CLUSTER_SUBNET=10.0.9.0/24 pgha_pgpool_find_bind_address
  [[ "$PGHA_PGPOOL_BIND_ADDRESS" == 10.0.9.7 && ${#PGHA_PROBLEMS[@]} -eq 0 ]]
  PGHA_CLUSTER_SUBNET=samenet pgha_pgpool_find_bind_address
  [[ -z "$PGHA_PGPOOL_BIND_ADDRESS" && ${#PGHA_PROBLEMS[@]} -eq 0 ]]
  printf "use_watchdog = on\ndelegate_ip = '10.0.9.100'\nbackend_hostname0 = 'pg0'\n" >"$PGHA_CLUSTER_CONF"
  PGHA_MERGED_CONF=$(pgha_pgpool_merged_conf)
  PGHA_CLUSTER_SUBNET=10.0.9.0/24 pgha_pgpool_find_bind_address
  [[ -z "$PGHA_PGPOOL_BIND_ADDRESS" && ${#PGHA_PROBLEMS[@]} -eq 0 ]]
}

@test "a cluster subnet that is not a CIDR, or holds no address of this node, is one line each" {
  fake_ip
  printf "use_watchdog = on\ndelegate_ip = ''\nbackend_hostname0 = 'pg0'\n" >"$PGHA_CLUSTER_CONF"
  PGHA_CLUSTER_SUBNET=10.0.9.0 check
  [[ "$status" -eq 2 && "$output" == "pgha-pgpool: configuration error: PGHA_CLUSTER_SUBNET: expected the cluster network as a CIDR (or samenet), got '10.0.9.0'" ]]
  PGHA_CLUSTER_SUBNET=10.0.8.0/24 check
  [[ "$status" -eq 2 && "$output" == "pgha-pgpool: configuration error: PGHA_CLUSTER_SUBNET: expected an address of this node in 10.0.8.0/24 (the cluster network), found none" ]]
  PGHA_CLUSTER_SUBNET=10.0.9.0/24 check
  [[ "$status" -eq 0 && -z "$output" ]]
}
