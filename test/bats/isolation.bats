#!/usr/bin/env bats
# A cut-off primary (pgha_node_isolation_check in node-watch.sh): armed by the first peer that
# answers (a pgpool leader with a quorum, or another postgres node), it stops postgres once none
# has answered for PGHA_ISOLATION_FENCE_SECONDS. The local role, the leader search, the peers'
# ports and the stop are stubbed.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_PGPOOL_PEERS=pgpool0,pgpool1 PGHA_POSTGRES_PEERS=pg0,pg1
  export PGDATA="$BATS_TEST_TMPDIR/data"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PGHA_ISOLATION_FENCE_SECONDS=15
  ROLE=primary OPEN="" LEADER=""
  ASKED="$BATS_TEST_TMPDIR/asked" STOPPED="$BATS_TEST_TMPDIR/stopped"
  pgha_node_local_role() { echo "$ROLE"; }
  # OPEN: the host:port pairs that accept a connection; every one asked is recorded.
  pgha_port_open() {
    echo "$1:$2" >>"$ASKED"
    [[ " $OPEN " == *" $1:$2 "* ]]
  }
  pgha_node_stop_for_rebuild() { echo "$1" >"$STOPPED"; }
  # LEADER: the watchdog leader the pgpool peers name with a quorum (none: nobody does).
  pgha_node_pgpool_host() {
    echo leader >>"$ASKED"
    [[ -n "$LEADER" ]] && echo "$LEADER"
  }
  pgha_log() { :; }
}

@test "a pgpool leader with a quorum answers: not alone, and armed from then on" {
  LEADER=pgpool1
  ! pgha_node_isolation_check 100
  [[ "$PGHA_PEER_SEEN" == yes && "$PGHA_ALONE_SINCE" == 0 ]]
}

@test "only another postgres node answers: not alone (it is asked on its postgres port, this node never)" {
  OPEN="pg1:$PGPORT"
  ! pgha_node_isolation_check 100
  [[ "$PGHA_PEER_SEEN" == yes ]]
  ! grep -q "^pg0:" "$ASKED"
}

@test "never armed (nobody has answered since the start): never stops, however long" {
  ! pgha_node_isolation_check 100
  ! pgha_node_isolation_check 1000
  [[ ! -e "$STOPPED" ]]
}

@test "armed, then alone: stops once the bound has passed, not before" {
  LEADER=pgpool0
  ! pgha_node_isolation_check 100
  LEADER=""
  ! pgha_node_isolation_check 102
  [[ "$PGHA_ALONE_SINCE" == 102 ]]
  ! pgha_node_isolation_check 116
  [[ ! -e "$STOPPED" ]]
  pgha_node_isolation_check 117
  [[ "$(cat "$STOPPED")" == isolate ]]
}

@test "alone for a while, then a peer answers again: the count starts over" {
  PGHA_PEER_SEEN=yes
  ! pgha_node_isolation_check 100
  LEADER=pgpool1
  ! pgha_node_isolation_check 110
  LEADER=""
  ! pgha_node_isolation_check 120
  ! pgha_node_isolation_check 134
  [[ ! -e "$STOPPED" ]]
}

@test "a standby is never stopped, and its peers are not asked" {
  ROLE=standby PGHA_PEER_SEEN=yes PGHA_ALONE_SINCE=1
  ! pgha_node_isolation_check 1000
  [[ ! -e "$STOPPED" && ! -e "$ASKED" ]]
}

@test "PGHA_ISOLATION_FENCE_SECONDS=0: off" {
  PGHA_ISOLATION_FENCE_SECONDS=0 PGHA_PEER_SEEN=yes PGHA_ALONE_SINCE=1
  ! pgha_node_isolation_check 1000
  [[ ! -e "$STOPPED" && ! -e "$ASKED" ]]
}

@test "with a delegate IP: its pcp port answering is a pgpool with a quorum (only such a leader holds it)" {
  PGHA_DELEGATE_IP=172.30.0.100
  OPEN="172.30.0.100:$PGHA_PCP_PORT"
  ! pgha_node_isolation_check 100
  [[ "$PGHA_PEER_SEEN" == yes ]]
  ! grep -qx leader "$ASKED"
  OPEN=""
  ! pgha_node_isolation_check 101
  pgha_node_isolation_check 116
}
