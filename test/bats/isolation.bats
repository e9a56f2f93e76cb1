#!/usr/bin/env bats
# The isolation guard (pgha_node_isolation_round in node-watch.sh): armed by the first round that
# reaches the pgpool nodes' side (the delegate IP's pcp port, or most pgpool nodes' pcp ports)
# or another postgres node, it stops postgres once no round has for PGHA_ISOLATION_FENCE_SECONDS.
# Then the step-down that failover.sh asks for over SSH (pgha_node_step_down). The clock, the
# data directory's role, the ports and the stop are stubbed; the looks themselves run (in
# parallel, as in the image).

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_PGPOOL_PEERS=pgpool0,pgpool1,pgpool2 PGHA_POSTGRES_PEERS=pg0,pg1
  export PGDATA="$BATS_TEST_TMPDIR/data"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PGHA_DELEGATE_IP="" PGHA_ISOLATION_FENCE_SECONDS=3 PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold"
  ROLE=primary OPEN=""
  ASKED="$BATS_TEST_TMPDIR/asked" STOPPED="$BATS_TEST_TMPDIR/stopped" CLOCK="$BATS_TEST_TMPDIR/clock"
  at 100000
  # The clock (ms) lives in a file: the looks run in subshells.
  pgha_read_uptime() { PGHA_UPTIME_MS=$(cat "$CLOCK"); }
  pgha_node_data_role() { echo "$ROLE"; }
  # OPEN: the host:port pairs that accept a connection; every one asked is recorded.
  pgha_port_open() {
    echo "$1:$2" >>"$ASKED"
    [[ " $OPEN " == *" $1:$2 "* ]]
  }
  # The guard only stops and holds; the watch loop asks for the rebuild.
  pgha_node_stop_and_hold() { echo "$1" >"$STOPPED"; }
  pgha_node_rejoin() { echo "rejoin in the guard" >>"$STOPPED"; }
  pgha_log() { :; }
}

at() { echo "$1" >"$CLOCK"; }
round() { pgha_node_isolation_round; }

@test "most pgpool nodes answer on pcp: armed, the start of the round kept" {
  OPEN="pgpool0:$PGHA_PCP_PORT pgpool2:$PGHA_PCP_PORT"
  ! round || false
  [[ "$PGHA_LAST_PEER_MS" == 100000 ]]
}

@test "one pgpool node of three answers (one on this node's own host answers through any cut): not reached" {
  OPEN="pgpool1:$PGHA_PCP_PORT"
  ! round || false
  [[ "$PGHA_LAST_PEER_MS" == 0 ]]
}

@test "only another postgres node answers: reached (it is asked on its postgres port, this node never)" {
  OPEN="pg1:$PGPORT"
  ! round || false
  [[ "$PGHA_LAST_PEER_MS" == 100000 ]]
  ! grep -q "^pg0:" "$ASKED" || false
}

@test "never armed (nobody has answered since the start): never stops, however long" {
  ! round || false
  at 900000
  ! round || false
  [[ ! -e "$STOPPED" && "$PGHA_LAST_PEER_MS" == 0 ]]
}

@test "armed, then alone: stops once the bound has passed since the last round that reached a peer, not before" {
  OPEN="pg1:$PGPORT"
  ! round || false
  OPEN=""
  at 101000
  ! round || false
  at 102999
  ! round || false
  [[ ! -e "$STOPPED" ]]
  at 103000
  round
  [[ "$(cat "$STOPPED")" == isolate && "$PGHA_LAST_PEER_MS" == 0 ]]
}

@test "the time the looks take counts: a round that ends past the bound stops at once" {
  OPEN="pg1:$PGPORT"
  ! round || false
  OPEN=""
  at 102000
  # The looks run out their bound: the clock moves on while they do.
  pgha_port_open() { at 104000; return 1; }
  round
  [[ "$(cat "$STOPPED")" == isolate ]]
}

@test "alone for a while, then a peer answers again: the count starts over" {
  PGHA_LAST_PEER_MS=100000
  at 102000
  ! round || false
  OPEN="pgpool0:$PGHA_PCP_PORT pgpool1:$PGHA_PCP_PORT"
  at 102500
  ! round || false
  OPEN=""
  at 105000
  ! round || false
  [[ ! -e "$STOPPED" && "$PGHA_LAST_PEER_MS" == 102500 ]]
}

@test "a standby is never stopped, no port is asked, and its time counts as not alone" {
  ROLE=standby PGHA_LAST_PEER_MS=1
  at 900000
  ! round || false
  [[ ! -e "$STOPPED" && ! -e "$ASKED" && "$PGHA_LAST_PEER_MS" == 900000 ]]
  # Promoted, then cut off at once: the lease counts from its last round as a standby.
  ROLE=primary
  at 902000
  ! round || false
  [[ ! -e "$STOPPED" ]]
  at 903000
  round
  [[ "$(cat "$STOPPED")" == isolate ]]
}

@test "a stopped node's time does not count as not alone: postgres started again during a cut is fenced on time" {
  OPEN="pg1:$PGPORT"
  ! round || false
  OPEN="" ROLE=stopped
  at 102000
  ! round || false
  [[ "$PGHA_LAST_PEER_MS" == 100000 ]]
  ROLE=primary
  at 103000
  round
  [[ "$(cat "$STOPPED")" == isolate ]]
}

@test "PGHA_ISOLATION_FENCE_SECONDS=0: off, nothing asked" {
  PGHA_ISOLATION_FENCE_SECONDS=0 PGHA_LAST_PEER_MS=1
  at 900000
  ! round || false
  [[ ! -e "$STOPPED" && ! -e "$ASKED" ]]
}

@test "with a delegate IP: its pcp port answering is enough, nothing else is asked" {
  PGHA_DELEGATE_IP=172.30.0.100
  OPEN="172.30.0.100:$PGHA_PCP_PORT"
  ! round || false
  [[ "$PGHA_LAST_PEER_MS" == 100000 && "$(cat "$ASKED")" == "172.30.0.100:$PGHA_PCP_PORT" ]]
}

@test "with a delegate IP that does not answer (an election under way): most pgpool nodes answering is contact" {
  PGHA_DELEGATE_IP=172.30.0.100
  OPEN="pgpool1:$PGHA_PCP_PORT pgpool2:$PGHA_PCP_PORT"
  PGHA_LAST_PEER_MS=50000
  ! round || false
  [[ "$PGHA_LAST_PEER_MS" == 100000 && ! -e "$STOPPED" ]]
  OPEN=""
  at 103000
  round
  [[ "$(cat "$STOPPED")" == isolate ]]
}

@test "the looks run at once: a round with every port silent for a second takes a second, not one per port" {
  pgha_port_open() { sleep 1; return 1; }
  local began=$SECONDS
  ! round || false
  ((SECONDS - began <= 2))
}

@test "step-down: a primary is held and stopped at once, and says what runs now" {
  pgha_node_stop_and_hold() { echo "$1" >>"$STOPPED"; ROLE=stopped; }
  run pgha_node_step_down
  [[ "$status" -eq 0 && "$output" == stopped && "$(cat "$STOPPED")" == step-down ]]
}

@test "step-down: a stopped node whose data is a primary's is held too (supervisor would start it again as a primary)" {
  pgha_node_stop_and_hold() { echo "$1" >>"$STOPPED"; }
  ROLE=stopped
  echo 15 >"$PGDATA/PG_VERSION"
  run pgha_node_step_down
  [[ "$status" -eq 0 && "$output" == stopped && "$(cat "$STOPPED")" == step-down ]]
}

@test "step-down: a standby, a stopped standby and a node already held are left as they are" {
  pgha_node_stop_and_hold() { echo called >"$STOPPED"; }
  echo 15 >"$PGDATA/PG_VERSION"
  ROLE=standby
  run pgha_node_step_down
  [[ "$status" -eq 0 && "$output" == standby && ! -e "$STOPPED" ]]
  touch "$PGDATA/standby.signal"
  ROLE=stopped
  run pgha_node_step_down
  [[ "$status" -eq 0 && "$output" == stopped && ! -e "$STOPPED" ]]
  rm "$PGDATA/standby.signal"
  PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold"
  touch "$PGHA_HOLD_MARKER"
  run pgha_node_step_down
  [[ "$status" -eq 0 && "$output" == held && ! -e "$STOPPED" ]]
}

@test "step-down: a primary that does not stop within the bound fails (failover.sh then waits for the lease)" {
  pgha_node_stop_and_hold() { :; }
  PGHA_PG_CTL_TIMEOUT=1
  run pgha_node_step_down
  [[ "$status" -ne 0 && "$output" == primary ]]
}

@test "a rebuild asked for with nobody asking: the watch loop asks; with the rejoin lock taken it stays quiet" {
  PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold" PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/request" PGHA_REJOIN_LOCK="$BATS_TEST_TMPDIR/rejoin.lock"
  pgha_node_rejoin() { echo asked >>"$STOPPED"; }
  ! pgha_node_rejoin_if_asked || false
  touch "$PGHA_HOLD_MARKER" "$PGHA_REJOIN_REQUEST"
  pgha_node_rejoin_if_asked
  [[ "$(cat "$STOPPED")" == asked ]]
  exec {fd}>>"$PGHA_REJOIN_LOCK"
  flock -n "$fd"
  ! pgha_node_rejoin_if_asked || false
  [[ "$(cat "$STOPPED")" == asked ]]
}

# release SETUP: a held node whose data is a primary's, pgpool with no primary and this node
# down, one peer (pg1) reporting PEER_STATE.
release_setup() {
  PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold" PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/request"
  PGHA_HELD_WHY_FILE="$BATS_TEST_TMPDIR/why" PGHA_ROLE_FILE="$BATS_TEST_TMPDIR/role" PGHA_DISK_FULL_MARKER="$BATS_TEST_TMPDIR/full"
  echo 15 >"$PGDATA/PG_VERSION"
  touch "$PGHA_HOLD_MARKER" "$PGHA_REJOIN_REQUEST"
  echo BACKUP >"$PGHA_ROLE_FILE"
  POOL=$'0|pg0|down|standby\n1|pg1|down|standby' PEER_STATE=held:1:0/4000000 DURABILITY=available
  pgha_node_pool_nodes() { echo "$POOL"; }
  pgha_node_state() { echo "held 1 0/5000000"; }
  pgha_node_peer_state() { echo "$PEER_STATE"; }
  pgha_node_durability() { echo "$DURABILITY"; }
}

@test "release: a held primary (it fenced itself, nobody was promoted) with the newest data starts again as the primary" {
  release_setup
  pgha_node_release_if_newest
  [[ ! -e "$PGHA_HOLD_MARKER" && ! -e "$PGHA_REJOIN_REQUEST" && "$(cat "$PGHA_ROLE_FILE")" == MASTER ]]
}

@test "release: a standby on this node's timeline past its last checkpoint holds a prefix of its WAL, not newer data" {
  release_setup
  PEER_STATE=standby:1:0/6000000
  pgha_node_release_if_newest
}

@test "release: not when a peer holds newer data, runs as a primary, or pgpool has a primary" {
  release_setup
  PEER_STATE=standby:2:0/1000000
  ! pgha_node_release_if_newest || false
  PEER_STATE=held:2:0/1000000
  ! pgha_node_release_if_newest || false
  PEER_STATE=primary:2:0/1000000
  ! pgha_node_release_if_newest || false
  PEER_STATE=held:1:0/4000000 POOL=$'0|pg0|down|standby\n1|pg1|up|primary'
  ! pgha_node_release_if_newest || false
  [[ -e "$PGHA_HOLD_MARKER" && "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
}

@test "release: not a standby's data, not a full volume, and not while a peer is silent (in either durability)" {
  release_setup
  touch "$PGDATA/standby.signal"
  ! pgha_node_release_if_newest || false
  rm "$PGDATA/standby.signal"
  touch "$PGHA_DISK_FULL_MARKER"
  ! pgha_node_release_if_newest || false
  rm "$PGHA_DISK_FULL_MARKER"
  # A silent peer may be a new primary, down now, with commits this fenced node never saw.
  PEER_STATE=silent DURABILITY=available
  ! pgha_node_release_if_newest || false
  DURABILITY=strict
  ! pgha_node_release_if_newest || false
  [[ -e "$PGHA_HOLD_MARKER" ]]
  PEER_STATE=stopped:1:0/3000000
  pgha_node_release_if_newest
}
