#!/usr/bin/env bats
# A standby a failover left behind (pgha_node_repoint_check in node-watch.sh): frozen or cut
# off while follow_primary.sh re-pointed the others, back without a restart, it follows the old
# primary (or nothing) while pgpool has it down. Once that has lasted the grace period it stops
# and asks to be rebuilt from pgpool's primary. The local role, the walreceiver, pgpool's
# answer, pg_ctl and the rejoin are stubbed; each look is given its time.
# decide-repoint.bats has the decision's table.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg2 PGHA_NODE_ID=2 PGHA_DELEGATE_IP=172.30.0.100
  export PGDATA="$BATS_TEST_TMPDIR/data" PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold"
  export PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin" PGHA_HELD_WHY_FILE="$BATS_TEST_TMPDIR/why"
  export PGHA_ROLE_FILE="$BATS_TEST_TMPDIR/role" PGHA_REPOINT_GRACE_SECONDS=30
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  CALLS="$BATS_TEST_TMPDIR/calls"
  RUNNING=yes IN_RECOVERY=t SENDER=pg1
  POOL_ANSWER=$(printf '%s\n' "0|pg0|up|primary" "1|pg1|up|standby" "2|pg2|down|standby")
  pgha_node_is_running() { [[ "$RUNNING" == yes ]]; }
  pgha_node_psql() { echo "$IN_RECOVERY"; }
  pgha_node_wal_sender() { echo "$SENDER"; }
  pgha_node_pool_nodes() { [[ "$POOL_ANSWER" != silent ]] && printf '%s\n' "$POOL_ANSWER"; }
  pg_ctl() { echo "pg_ctl $*" >>"$CALLS"; }
  pgha_node_rejoin() { echo "rejoin" >>"$CALLS"; }
}

# check AT: one pgha_node_repoint_check at second AT (not run in a subshell: it keeps state).
check() {
  status=0
  pgha_node_repoint_check "$1" >"$BATS_TEST_TMPDIR/out" 2>&1 || status=$?
}

@test "following the old primary while pgpool has it down: stuck at first, rebuilt from pgpool's primary after the grace" {
  check 1000
  [[ "$status" -ne 0 && "$PGHA_STUCK_SINCE" -eq 1000 && ! -e "$CALLS" ]]
  check 1010
  [[ "$status" -ne 0 && "$PGHA_STUCK_SINCE" -eq 1000 && ! -e "$CALLS" ]]
  check 1030
  [[ "$status" -eq 0 && "$PGHA_STUCK_SINCE" -eq 0 ]]
  grep -q "action=repoint: pgpool has node 2 down and routes writes to pg0, which this standby has not streamed from for 30 s" "$BATS_TEST_TMPDIR/out"
  [[ -e "$PGHA_HOLD_MARKER" && -e "$PGHA_REJOIN_REQUEST" && "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
  grep -q "^pg_ctl .*-m immediate.* stop$" "$CALLS"
  [[ "$(tail -n 1 "$CALLS")" == rejoin ]]
}

@test "not streaming at all: the same" {
  SENDER=""
  check 50
  check 80
  [[ "$status" -eq 0 ]]
  grep -qx rejoin "$CALLS"
}

@test "it comes right in between (follow_primary re-pointed it, or pgpool attached it): the count starts again" {
  check 1000
  SENDER=pg0
  check 1010
  [[ "$status" -ne 0 && "$PGHA_STUCK_SINCE" -eq 0 ]]
  SENDER=pg1
  check 1020
  check 1040
  [[ "$status" -ne 0 && "$PGHA_STUCK_SINCE" -eq 1020 && ! -e "$CALLS" ]]
}

@test "held (a follow or a rebuild under way), pgpool silent, or no primary in pgpool: never rebuilt" {
  touch "$PGHA_HOLD_MARKER"
  check 0
  check 100
  [[ "$status" -ne 0 && "$PGHA_STUCK_SINCE" -eq 0 ]]
  rm "$PGHA_HOLD_MARKER"
  POOL_ANSWER=silent
  check 200
  check 300
  [[ "$status" -ne 0 ]]
  POOL_ANSWER=$(printf '%s\n' "0|pg0|down|primary" "1|pg1|up|standby" "2|pg2|down|standby")
  check 400
  check 500
  [[ "$status" -ne 0 && ! -e "$CALLS" ]]
}

@test "a primary is never rebuilt by this (fencing is another check)" {
  IN_RECOVERY=f
  check 0
  check 100
  [[ "$status" -ne 0 && ! -e "$CALLS" ]]
}
