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
