#!/usr/bin/env bats
# Convergence as the watch loop runs it (node-watch.sh): the inputs of pgha_decide_converge
# gathered (the local role, pgpool's view, this node's and each peer's state over SSH) and the
# verdict acted on (pcp_attach_node, or stop and rejoin). And pgha_node_state, which a peer's
# SSH request runs, on a stopped data directory. pgpool, SSH, psql and pg_controldata are
# stubbed.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg1 PGHA_NODE_ID=1 PGHA_DELEGATE_IP=172.30.0.100
  export PGHA_POSTGRES_PEERS=pg0,pg1,pg2 PGDATA="$BATS_TEST_TMPDIR/data" PGHA_HOME="$BATS_TEST_TMPDIR"
  mkdir -p "$PGDATA/pg_wal" "$BATS_TEST_TMPDIR/bin"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  PGHA_DURABILITY_FILE="$BATS_TEST_TMPDIR/durability"
  echo strict >"$PGHA_DURABILITY_FILE"
  ROLE=primary MINE="primary 2 0/5000060"
  POOL=$'0|pg0|down|standby\n1|pg1|down|standby\n2|pg2|up|standby'
  declare -gA PEER=([pg0]="held 1 0/3000028" [pg2]="standby 2 0/5000060")
  pgha_node_local_role() { echo "$ROLE"; }
  pgha_node_pool_nodes() { [[ -n "$POOL" ]] && printf '%s\n' "$POOL"; }
  pgha_node_state() { echo "$MINE"; }
  # SSH: the peer's `pgha-node state`, or no answer (status 255) for a silent one.
  pgha_ssh_within() {
    echo "ssh $2 ${*:3}" >>"$BATS_TEST_TMPDIR/asked"
    [[ "${PEER[$2]}" != silent ]] || return 255
    echo "${PEER[$2]}"
  }
}

@test "the issue's wedge: pgpool has no primary, this node runs as one with the newest data: it attaches itself" {
  run pgha_node_converge_verdict
  [[ "$status" -eq 0 && "${lines[0]}" == attach ]]
  [[ "${lines[1]}" == "this node: primary 2 0/5000060; peers: pg0=held:1:0/3000028 pg2=standby:2:0/5000060" ]]
  # Each peer asked once, for its state, and not this node itself.
  [[ "$(cat "$BATS_TEST_TMPDIR/asked")" == $'ssh pg0 pgha-node state\nssh pg2 pgha-node state' ]]
  printf '#!/usr/bin/env bash\necho "$*" >"%s/attached"; echo "pcp_attach_node -- Command Successful"\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/bin/pcp_attach_node"
  chmod +x "$BATS_TEST_TMPDIR/bin/pcp_attach_node"
  run pgha_node_converge attach "${lines[1]}"
  [[ "$output" == *"action=converge: pgpool has no primary and this node runs as one with the newest data"*"attaching it (pcp_attach_node)"* ]]
  [[ "$output" == *"node 1 attached"* ]]
  [[ "$(cat "$BATS_TEST_TMPDIR/attached")" == *"-n 1" ]]
}

@test "a failed attach is said, never reported as done" {
  printf '#!/usr/bin/env bash\necho "ERROR: node 1 is not a valid node" >&2\n' >"$BATS_TEST_TMPDIR/bin/pcp_attach_node"
  chmod +x "$BATS_TEST_TMPDIR/bin/pcp_attach_node"
  run pgha_node_converge attach "inputs"
  [[ "$output" == *"WARNING: pcp_attach_node -n 1 failed"* && "$output" != *"node 1 attached"* ]]
}

@test "nothing is asked of the peers while pgpool has a primary, or does not answer, or on a standby" {
  POOL=$'0|pg0|up|primary\n1|pg1|down|standby'
  [[ "$(pgha_node_converge_verdict)" == ok ]]
  POOL=''
  [[ "$(pgha_node_converge_verdict)" == ok ]]
  ROLE=standby POOL=$'0|pg0|down|standby\n1|pg1|down|standby'
  [[ "$(pgha_node_converge_verdict)" == ok ]]
  [[ ! -e "$BATS_TEST_TMPDIR/asked" ]]
}

@test "strict: a peer that does not answer (frozen, gone) holds the attach; available goes on" {
  PEER[pg0]=silent
  run pgha_node_converge_verdict
  [[ "${lines[0]}" == "wait pg0" && "${lines[1]}" == *"pg0=silent"* ]]
  run pgha_node_converge "wait pg0" "${lines[1]}"
  [[ "$output" == *"pg0 did not answer and durability is strict: waiting until every node answers"* ]]
  echo available >"$PGHA_DURABILITY_FILE"
  [[ "$(pgha_node_converge_verdict | head -n 1)" == attach ]]
}

@test "a peer that answers something else than a state counts as silent" {
  PEER[pg2]="standby 2 not-an-lsn"
  [[ "$(pgha_node_converge_verdict | head -n 1)" == "wait pg2" ]]
}

@test "another primary with newer data: this node yields (stops, rejoins as its standby)" {
  MINE="primary 1 0/9000000" PEER[pg2]="primary 2 0/3000028"
  run pgha_node_converge_verdict
  [[ "${lines[0]}" == "yield pg2" ]]
  pgha_node_fence() { echo "fenced for $1"; }
  run pgha_node_converge "yield pg2" "inputs"
  [[ "$output" == *"pg2 runs as a primary with newer data (inputs): this node stops and rejoins as its standby"* && "$output" == *"fenced for pg2" ]]
}

@test "refuse is said once, not every check" {
  run bash -c '. "$1/pgha-node.sh"; for i in 1 2 3; do pgha_node_converge "refuse pg0" in; done' _ "$CONTEXT"
  [[ "$(grep -c 'not attaching it, a person must choose' <<<"$output")" -eq 1 ]]
}

@test "pgha_node_state on a stopped data directory: held or stopped, the newest timeline in pg_wal, the last checkpoint" {
  # The real functions again (setup stubbed them), with postgres not running.
  # shellcheck source=/dev/null
  . "$CONTEXT/node-ops.sh"
  pgha_node_is_running() { false; }
  printf '#!/usr/bin/env bash\nprintf "Latest checkpoint location:           0/3000028\\nLatest checkpoint'"'"'s TimeLineID:       1\\n"\n' >"$BATS_TEST_TMPDIR/bin/pg_controldata"
  chmod +x "$BATS_TEST_TMPDIR/bin/pg_controldata"
  [[ "$(pgha_node_state)" == "stopped 1 0/3000028" ]]
  # Promoted, then killed before its first checkpoint on the new timeline: pg_wal shows it.
  touch "$PGDATA/pg_wal/000000010000000000000003" "$PGDATA/pg_wal/00000002.history" "$PGDATA/pg_wal/000000020000000000000003.partial"
  touch "$PGHA_HOLD_MARKER"
  [[ "$(pgha_node_state)" == "held 2 0/3000028" ]]
  touch "$PGDATA/pg_wal/0000000A0000000000000004"
  [[ "$(pgha_node_state)" == "held 10 0/3000028" ]]
  # Names that are not WAL are not read as timelines.
  touch "$PGDATA/pg_wal/FFFFFFFF.junk" "$PGDATA/pg_wal/archive_status"
  [[ "$(pgha_node_state)" == "held 10 0/3000028" ]]
}

@test "the watch loop's pause: the interval, or none after a round that took far longer (a freeze)" {
  PGHA_WATCH_INTERVAL_SECONDS=2
  sleep() { echo "slept $1"; }
  run pgha_node_watch_wait 3
  [[ "$output" == "slept 2" ]]
  run pgha_node_watch_wait 9
  [[ "$output" == "slept 2" ]]
  run pgha_node_watch_wait 31
  [[ "$output" != *slept* && "$output" == *"action=watch: the last check round took 31 s (frozen, starved, or a remote step ran to its bound): checking again at once"* ]]
}

@test "a running primary's own state is taken after its peers': its standbys, streaming what it flushed meanwhile, are not newer" {
  # The primary writes on while its peers are asked: first 0/5000060, then 0/5000200; the
  # standbys received up to 0/5000100, past the first snapshot only.
  MINE_FILE="$BATS_TEST_TMPDIR/mine"
  echo "primary 2 0/5000060" >"$MINE_FILE"
  pgha_node_state() { cat "$MINE_FILE"; }
  PEER=([pg0]="standby 2 0/5000100" [pg2]="standby 2 0/5000100")
  pgha_ssh_within() {
    echo "primary 2 0/5000200" >"$MINE_FILE"
    echo "${PEER[$2]}"
  }
  run pgha_node_converge_verdict
  [[ "$status" -eq 0 && "${lines[0]}" == attach ]]
  [[ "${lines[1]}" == "this node: primary 2 0/5000200; peers: pg0=standby:2:0/5000100 pg2=standby:2:0/5000100" ]]
}
