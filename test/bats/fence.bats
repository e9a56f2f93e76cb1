#!/usr/bin/env bats
# Fencing (pgha_node_fence_verdict in pgha-node.sh): a node that runs as a primary while
# pgpool routes writes to another node must stop; without evidence (pgpool silent) it does
# nothing. pgpool's answer, the local role and postgres are stubbed.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_DELEGATE_IP=172.30.0.100
  export PGDATA="$BATS_TEST_TMPDIR/data"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  RUNNING=yes IN_RECOVERY=f POOL_ANSWER=silent
  pgha_node_is_running() { [[ "$RUNNING" == yes ]]; }
  pgha_node_psql() { echo "$IN_RECOVERY"; }
  pgha_node_pool_nodes() { [[ "$POOL_ANSWER" != silent ]] && printf '%s\n' "$POOL_ANSWER"; }
  # What the node pgpool names answers for itself (pg_is_in_recovery()).
  OTHER_IN_RECOVERY=f
  pgha_node_peer_is_primary() { [[ "$OTHER_IN_RECOVERY" == f ]]; }
}

pool() { POOL_ANSWER=$(printf '%s\n' "$@"); }

@test "a primary that pgpool routes to: ok" {
  pool "0|pg0|up|primary" "1|pg1|up|standby"
  [[ "$(pgha_node_fence_verdict)" == ok ]]
}

@test "a primary while pgpool routes to another up primary (resumed, reconnected): fence, naming it" {
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  [[ "$(pgha_node_fence_verdict)" == "fence pg1" ]]
}

@test "pgpool names another primary that says it is a standby (pgpool's view lagging): no action" {
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  OTHER_IN_RECOVERY=t
  [[ "$(pgha_node_fence_verdict)" == ok ]]
  OTHER_IN_RECOVERY=""
  [[ "$(pgha_node_fence_verdict)" == ok ]]
}

@test "pgpool silent (cut off, or the whole cluster starting): no evidence, no action" {
  [[ "$(pgha_node_fence_verdict)" == ok ]]
}

@test "pgpool has no up primary yet (a failover under way): no action" {
  pool "0|pg0|down|primary" "1|pg1|up|standby"
  [[ "$(pgha_node_fence_verdict)" == ok ]]
}

@test "a standby is never fenced, whatever pgpool says" {
  IN_RECOVERY=t
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  [[ "$(pgha_node_fence_verdict)" == ok ]]
}

@test "postgres not running (held for a rebuild): no action" {
  RUNNING=no
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  [[ "$(pgha_node_fence_verdict)" == ok ]]
}

@test "fencing stops postgres at once, holds it and asks to be rebuilt" {
  export PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold" PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin" PGHA_ROLE_FILE="$BATS_TEST_TMPDIR/role" PGHA_REBUILD_LOCK="$BATS_TEST_TMPDIR/rebuild.lock"
  CALLS="$BATS_TEST_TMPDIR/calls"
  pg_ctl() { echo "pg_ctl $*" >>"$CALLS"; }
  pgha_node_rejoin() { echo rejoin >>"$CALLS"; }
  run pgha_node_fence pg1
  [[ "$status" -eq 0 ]]
  [[ -e "$PGHA_HOLD_MARKER" && -e "$PGHA_REJOIN_REQUEST" && "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
  grep -q -- "-m immediate" "$CALLS"
  [[ "$(tail -1 "$CALLS")" == rejoin ]]
  [[ "$output" == *"action=fence: this node runs as a primary but pgpool routes writes to pg1"* ]]
}

@test "only what the verdict needs is asked: pgpool not on a standby, the other node not when pgpool routes to this one" {
  ASKED="$BATS_TEST_TMPDIR/asked"
  pgha_node_pool_nodes() { echo pool >>"$ASKED"; [[ "$POOL_ANSWER" != silent ]] && printf '%s\n' "$POOL_ANSWER"; }
  pgha_node_peer_is_primary() { echo peer >>"$ASKED"; [[ "$OTHER_IN_RECOVERY" == f ]]; }
  IN_RECOVERY=t
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  [[ "$(pgha_node_fence_verdict)" == ok && ! -e "$ASKED" ]]
  IN_RECOVERY=f
  pool "0|pg0|up|primary" "1|pg1|up|standby"
  [[ "$(pgha_node_fence_verdict)" == ok && "$(cat "$ASKED")" == pool ]]
}
