#!/usr/bin/env bats
# A cut-off primary (pgha_node_isolation_check in node-watch.sh): armed by the first peer that
# answers (a pgpool leader with a quorum, or another postgres node), it stops postgres once none
# has answered for PGHA_ISOLATION_FENCE_SECONDS. The clock, the local role, the leader search,
# the peers' ports and the stop are stubbed.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_PGPOOL_PEERS=pgpool0,pgpool1 PGHA_POSTGRES_PEERS=pg0,pg1
  export PGDATA="$BATS_TEST_TMPDIR/data"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PGHA_ISOLATION_FENCE_SECONDS=15
  ROLE=primary OPEN="" LEADER="" NOW=100 CHECK_TAKES=0
  ASKED="$BATS_TEST_TMPDIR/asked" STOPPED="$BATS_TEST_TMPDIR/stopped" CLOCK="$BATS_TEST_TMPDIR/clock"
  echo "$NOW" >"$CLOCK"
  # The clock lives in a file: the checks run in subshells, and a slow peer check moves it on.
  pgha_node_now() { cat "$CLOCK"; }
  at() { echo "$1" >"$CLOCK"; }
  pgha_node_local_role() { echo "$ROLE"; }
  # OPEN: the host:port pairs that accept a connection; every one asked is recorded.
  pgha_port_open() {
    echo "$1:$2" >>"$ASKED"
    [[ " $OPEN " == *" $1:$2 "* ]]
  }
  # LEADER: the watchdog leader the pgpool peers name with a quorum (none: nobody does); the
  # search takes CHECK_TAKES seconds on the clock.
  pgha_node_pgpool_host() {
    echo leader >>"$ASKED"
    at $(($(pgha_node_now) + CHECK_TAKES))
    [[ -n "$LEADER" ]] && echo "$LEADER"
  }
  pgha_node_stop_for_rebuild() { echo "$1" >"$STOPPED"; }
  pgha_log() { :; }
}

@test "a pgpool leader with a quorum answers: armed, and the time of the answer kept" {
  LEADER=pgpool1
  ! pgha_node_isolation_check || false
  [[ "$PGHA_LAST_PEER_AT" == 100 ]]
}

@test "only another postgres node answers: not alone (it is asked on its postgres port, this node never)" {
  OPEN="pg1:$PGPORT"
  ! pgha_node_isolation_check || false
  [[ "$PGHA_LAST_PEER_AT" == 100 ]]
  ! grep -q "^pg0:" "$ASKED" || false
}

@test "never armed (nobody has answered since the start): never stops, however long" {
  ! pgha_node_isolation_check || false
  at 1000
  ! pgha_node_isolation_check || false
  [[ ! -e "$STOPPED" && "$PGHA_LAST_PEER_AT" == 0 ]]
}

@test "armed, then alone: stops once the bound has passed since the last answer, not before" {
  LEADER=pgpool0
  ! pgha_node_isolation_check || false
  LEADER=""
  at 102
  ! pgha_node_isolation_check || false
  at 114
  ! pgha_node_isolation_check || false
  [[ ! -e "$STOPPED" ]]
  at 115
  pgha_node_isolation_check
  [[ "$(cat "$STOPPED")" == isolate && "$PGHA_LAST_PEER_AT" == 0 ]]
}

@test "the time the peer checks take counts: a slow failing round that ends past the bound stops at once" {
  LEADER=pgpool0
  ! pgha_node_isolation_check || false
  LEADER="" CHECK_TAKES=13
  at 104
  pgha_node_isolation_check
  [[ "$(cat "$STOPPED")" == isolate ]]
}

@test "alone for a while, then a peer answers again: the count starts over" {
  PGHA_LAST_PEER_AT=100
  at 110
  ! pgha_node_isolation_check || false
  LEADER=pgpool1
  at 111
  ! pgha_node_isolation_check || false
  LEADER=""
  at 125
  ! pgha_node_isolation_check || false
  [[ ! -e "$STOPPED" ]]
}

@test "a standby is never stopped, its peers are not asked, and its time counts as not alone" {
  ROLE=standby PGHA_LAST_PEER_AT=1
  at 1000
  ! pgha_node_isolation_check || false
  [[ ! -e "$STOPPED" && ! -e "$ASKED" && "$PGHA_LAST_PEER_AT" == 1000 ]]
  # Promoted, then cut off at once: the grace counts from its last round as a standby.
  ROLE=primary
  at 1005
  ! pgha_node_isolation_check || false
  [[ ! -e "$STOPPED" ]]
}

@test "PGHA_ISOLATION_FENCE_SECONDS=0: off" {
  PGHA_ISOLATION_FENCE_SECONDS=0 PGHA_LAST_PEER_AT=1
  at 1000
  ! pgha_node_isolation_check || false
  [[ ! -e "$STOPPED" && ! -e "$ASKED" ]]
}

@test "with a delegate IP: its pcp port answering is a pgpool with a quorum (only such a leader holds it)" {
  PGHA_DELEGATE_IP=172.30.0.100
  OPEN="172.30.0.100:$PGHA_PCP_PORT"
  ! pgha_node_isolation_check || false
  [[ "$PGHA_LAST_PEER_AT" == 100 ]]
  ! grep -qx leader "$ASKED" || false
  OPEN=""
  at 101
  ! pgha_node_isolation_check || false
  at 116
  pgha_node_isolation_check
}
