#!/usr/bin/env bats
# A postgres node that finds .do_not_start from before its start (failover.sh's breadcrumb on
# an old primary that was down, a rebuild cut short by a restart) asks to be rebuilt, instead
# of staying down until a person notices (pgha_postgres_rejoin_if_held).

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE_CMD="$CONTEXT/pgha-node.sh" PGHA_NODE=pg1
  export PGHA_HOME="$BATS_TEST_TMPDIR/home" PGHA_PRIVATE_DIR="$BATS_TEST_TMPDIR/private"
  export PGHA_HOLD_MARKER="$PGHA_HOME/.do_not_start" PGHA_ROLE_FILE="$PGHA_HOME/.node_role" PGHA_REJOIN_REQUEST="$PGHA_PRIVATE_DIR/rejoin-requested"
  mkdir -p "$PGHA_HOME" "$PGHA_PRIVATE_DIR"
  # shellcheck source=/dev/null
  . "$CONTEXT/entrypoint.sh"
  PGHA_DELEGATE_IP=172.30.0.100 PGHA_NODE_ID=1
}

@test "no hold: nothing requested, nothing said" {
  run pgha_postgres_rejoin_if_held
  [[ "$status" -eq 0 && -z "$output" ]]
  [[ ! -e "$PGHA_REJOIN_REQUEST" ]]
}

@test "a hold left from before this start asks pgpool to rebuild the node, as BACKUP" {
  touch "$PGHA_HOLD_MARKER"
  echo MASTER >"$PGHA_ROLE_FILE"
  run pgha_postgres_rejoin_if_held
  [[ "$status" -eq 0 ]]
  [[ -e "$PGHA_REJOIN_REQUEST" && -e "$PGHA_HOLD_MARKER" ]]
  [[ "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
  [[ "$output" == *"action=start: $PGHA_HOLD_MARKER was left from before this start: postgres stays down; pgha-node rejoin asks pgpool to rebuild node 1 from the primary" ]]
}

@test "a hold the start decision just made is left to its own request" {
  touch "$PGHA_HOLD_MARKER" "$PGHA_REJOIN_REQUEST"
  run pgha_postgres_rejoin_if_held
  [[ "$status" -eq 0 && -z "$output" ]]
}

@test "without a watchdog to ask, the hold waits for a person and says so" {
  touch "$PGHA_HOLD_MARKER"
  PGHA_DELEGATE_IP=''
  run pgha_postgres_rejoin_if_held
  [[ "$status" -eq 0 ]]
  [[ ! -e "$PGHA_REJOIN_REQUEST" ]]
  [[ "$output" == *"action=start: $PGHA_HOLD_MARKER present: postgres stays down until it is removed" ]]
}
