#!/usr/bin/env bats
# Attaching (pgha_node_attach_verdict in pgha-node.sh), which replaces pgpool's auto_failback:
# a standby is attached only while it streams from the node pgpool routes writes to and pgpool
# has it down. Right after a failover a standby still names the dead primary as its sender:
# it must not be attached then, or follow_primary never re-points it. pgpool's answer, the
# local role, the walreceiver and the hold marker are stubbed.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg2 PGHA_NODE_ID=2 PGHA_DELEGATE_IP=172.30.0.100
  export PGDATA="$BATS_TEST_TMPDIR/data" PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  RUNNING=yes IN_RECOVERY=t SENDER=pg1 POOL_ANSWER=silent
  pgha_node_is_running() { [[ "$RUNNING" == yes ]]; }
  pgha_node_psql() { echo "$IN_RECOVERY"; }
  pgha_node_wal_sender() { echo "$SENDER"; }
  pgha_node_pool_nodes() { [[ "$POOL_ANSWER" != silent ]] && printf '%s\n' "$POOL_ANSWER"; }
}

pool() { POOL_ANSWER=$(printf '%s\n' "$@"); }

@test "streaming from pgpool's primary while pgpool has it down (back from a pause, a restart, a first clone): attach" {
  pool "0|pg0|down|standby" "1|pg1|up|primary" "2|pg2|down|standby"
  [[ "$(pgha_node_attach_verdict)" == attach ]]
}

@test "right after a failover, still naming the dead primary as its sender (to be re-pointed by follow_primary): no attach" {
  SENDER=pg0
  pool "0|pg0|down|standby" "1|pg1|up|primary" "2|pg2|down|standby"
  [[ "$(pgha_node_attach_verdict)" == ok ]]
}

@test "not streaming at all (its walreceiver is retrying): no attach" {
  SENDER=""
  pool "0|pg0|up|primary" "2|pg2|down|standby"
  [[ "$(pgha_node_attach_verdict)" == ok ]]
}

@test "already up in pgpool's view: nothing to do" {
  pool "0|pg0|down|standby" "1|pg1|up|primary" "2|pg2|up|standby"
  [[ "$(pgha_node_attach_verdict)" == ok ]]
}

@test "pgpool knows no up primary (a failover under way), or is silent: no attach" {
  pool "0|pg0|down|primary" "1|pg1|up|standby" "2|pg2|down|standby"
  SENDER=pg0
  [[ "$(pgha_node_attach_verdict)" == ok ]]
  POOL_ANSWER=silent
  SENDER=pg1
  [[ "$(pgha_node_attach_verdict)" == ok ]]
}

@test "a primary, a stopped postgres or a held node is never attached by this" {
  pool "0|pg0|down|standby" "1|pg1|up|primary" "2|pg2|down|standby"
  IN_RECOVERY=f
  [[ "$(pgha_node_attach_verdict)" == ok ]]
  IN_RECOVERY=t RUNNING=no
  [[ "$(pgha_node_attach_verdict)" == ok ]]
  RUNNING=yes
  touch "$PGHA_HOLD_MARKER"
  [[ "$(pgha_node_attach_verdict)" == ok ]]
}

@test "the node id is matched by host, not by position: another down standby does not count" {
  pool "0|pg0|up|primary" "1|pg1|down|standby" "2|pg2|up|standby"
  SENDER=pg0
  [[ "$(pgha_node_attach_verdict)" == ok ]]
}

@test "attach asks the pgpool behind the delegate IP for this node only, bounded" {
  CALLS="$BATS_TEST_TMPDIR/calls"
  export PGHA_REMOTE_STEP_SECONDS=7 PGHA_PCP_PORT=9898 PGHA_PCP_USER=pgpool
  timeout() {
    echo "timeout $*" >>"$CALLS"
    echo "pcp_attach_node -- Command Successful"
  }
  run pgha_node_attach
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$CALLS")" == "timeout 7 pcp_attach_node -h 172.30.0.100 -p 9898 -U pgpool -w -n 2" ]]
  [[ "$output" == *"action=attach: streaming from the primary pg1 while pgpool has node 2 down: attaching it"* ]]
  [[ "$output" == *"node 2 attached"* ]]
}

@test "an attach that pcp answers with ERROR (exit status 0) is not reported as done" {
  export PGHA_REMOTE_STEP_SECONDS=7 PGHA_PCP_PORT=9898 PGHA_PCP_USER=pgpool
  timeout() { echo "ERROR: node 2 is not in down status" >&2; }
  run pgha_node_attach
  [[ "$output" != *"node 2 attached"* ]]
  [[ "$output" == *"WARNING: pcp_attach_node -n 2 failed"* ]]
}

@test "only what the verdict needs is asked: nothing on a held node, pgpool not while the node does not stream" {
  ASKED="$BATS_TEST_TMPDIR/asked"
  pgha_node_psql() { echo psql >>"$ASKED"; echo "$IN_RECOVERY"; }
  pgha_node_pool_nodes() { echo pool >>"$ASKED"; [[ "$POOL_ANSWER" != silent ]] && printf '%s\n' "$POOL_ANSWER"; }
  pool "0|pg0|down|standby" "1|pg1|up|primary" "2|pg2|down|standby"
  touch "$PGHA_HOLD_MARKER"
  [[ "$(pgha_node_attach_verdict)" == ok && ! -e "$ASKED" ]]
  rm "$PGHA_HOLD_MARKER"
  SENDER=""
  [[ "$(pgha_node_attach_verdict)" == ok && "$(cat "$ASKED")" == psql ]]
}
