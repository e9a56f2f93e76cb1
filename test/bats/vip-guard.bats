#!/usr/bin/env bats
# The delegate IP where the watchdog says it is (pgpool-reconcile.sh): a leader that has
# escalated but lost the address gets it back, a standby that holds it lets it go; both only
# after two checks in a row agree. pcp_watchdog_info, the interface and pgha-vip are stubbed.

load decide_helper

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pgpool0 PGHA_VIP_CHECK_SECONDS=0
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-lib.sh"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgpool-reconcile.sh"
  PGHA_VIP_CONF_IP=172.30.0.100 PGHA_VIP_CONF_PREFIX=24 PGHA_VIP_CONF_DEVICE=eth0
  pgha_read_vip_conf() { true; }
  CALLS="$BATS_TEST_TMPDIR/calls"
  export PGHA_VIP_BIN="$BATS_TEST_TMPDIR/pgha-vip"
  printf '#!/bin/sh\necho "pgha-vip $*" >>"%s"\necho done\n' "$CALLS" >"$PGHA_VIP_BIN"
  chmod +x "$PGHA_VIP_BIN"
  HOLDS=no STATUS=LEADER ESCALATED=YES QUORUM='QUORUM EXIST'
  pgha_pgpool_holds_vip() { echo "$HOLDS"; }
  pgha_watchdog_info() {
    printf 'Quorum state             : %s\nLocal node escalation    : %s\nLeader Host Name         : pgpool0\n\n' "$QUORUM" "$ESCALATED"
    printf 'Host Name         : pgpool0\nStatus Name       : %s\n' "$STATUS"
  }
  # The loop's sleep: each one is a check; after ROUNDS of them the loop ends.
  ROUNDS=3
  echo 0 >"$BATS_TEST_TMPDIR/n"
  sleep() { local n; n=$(($(cat "$BATS_TEST_TMPDIR/n") + 1)); echo "$n" >"$BATS_TEST_TMPDIR/n"; ((n <= ROUNDS)); }
}

@test "the verdict, row by row" {
  decide_table pgha_decide_vip <<'TABLE'
# STATUS ESCALATED QUORUM HOLDS => VERDICT
LEADER YES yes yes => ok
# the nemesis's wedge: a leader that escalated, the address on no interface
LEADER YES yes no => up
# not escalated yet (an escalation under way), or no quorum (pgpool itself gives it up then)
LEADER NO yes no => ok
LEADER YES no no => ok
# a standby holding it: two nodes would answer ARP
STANDBY NO yes yes => down
STANDBY NO yes no => ok
# pcp did not answer: nothing known, nothing done
- - no yes => ok
- - no no => ok
TABLE
}

@test "a leader that escalated but lost the address: put back and announced after two checks in a row" {
  run pgha_pgpool_vip_loop
  [[ "$(cat "$CALLS")" == $'pgha-vip up\npgha-vip announce' ]]
  [[ "$output" == *"action=vip: this node leads the watchdog with the quorum and has escalated, but 172.30.0.100 is on no interface here: putting it back"* ]]
}

@test "one check alone does nothing (an escalation settling); a standby holding it lets it go" {
  ROUNDS=1
  run pgha_pgpool_vip_loop
  [[ ! -e "$CALLS" ]]
  STATUS=STANDBY ESCALATED=NO HOLDS=yes ROUNDS=3
  echo 0 >"$BATS_TEST_TMPDIR/n"
  run pgha_pgpool_vip_loop
  [[ "$(cat "$CALLS")" == "pgha-vip down" ]]
}

@test "the leader holding it, or pcp silent: nothing done" {
  HOLDS=yes
  run pgha_pgpool_vip_loop
  [[ ! -e "$CALLS" ]]
  HOLDS=no
  pgha_watchdog_info() { :; }
  echo 0 >"$BATS_TEST_TMPDIR/n"
  run pgha_pgpool_vip_loop
  [[ ! -e "$CALLS" ]]
}
