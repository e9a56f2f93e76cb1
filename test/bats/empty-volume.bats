#!/usr/bin/env bats
# pgha_postgres_init_empty (entrypoint.sh): what a node with an empty data directory does when
# no primary is known. The first primary asks the other postgres nodes; when one answers with
# this cluster's data (a lost or replaced volume, not a first start), it never runs initdb: it
# is held to be rebuilt. Initialising, cloning and asking the peers are stand-ins here.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE_CMD="$CONTEXT/pgha-node.sh" PGHA_NODE=pg0 PGHA_NODE_ID=0
  export PGHA_HOME="$BATS_TEST_TMPDIR/home" PGHA_POSTGRES_PEERS=pg0,pg1,pg2
  export PGDATA="$PGHA_HOME/pgdata" PGHA_ROLE_FILE="$PGHA_HOME/.node_role"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/entrypoint.sh"
  PGHA_HOLD_MARKER="$PGHA_HOME/.do_not_start" PGHA_REJOIN_REQUEST="$PGHA_HOME/rejoin-requested"
  PGHA_HELD_WHY_FILE="$PGHA_HOME/held-why" RAN="$BATS_TEST_TMPDIR/ran"
  pgha_postgres_init_primary() { echo initdb >>"$RAN"; }
  pgha_postgres_init_standby() { echo clone >>"$RAN"; }
  # Which peers answer a query, as "host=answer" words; the rest are down.
  ANSWERS=''
  _pgha_node_ask() {
    echo "ask $1" >>"$RAN"
    local word
    for word in $ANSWERS; do [[ "${word%%=*}" == "$1" ]] && echo "${word#*=}"; done
    return 0
  }
}

@test "the first start: no other node answers, the first primary runs initdb" {
  PGHA_ROLE=primary run pgha_postgres_init_empty
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$RAN")" == $'ask pg1\nask pg2\ninitdb' ]]
  [[ ! -e "$PGHA_HOLD_MARKER" ]]
}

@test "a lost volume: a standby answers, so no initdb; held behind .do_not_start, BACKUP, asking to be rebuilt, the log names the peer" {
  ANSWERS='pg2=t'
  PGHA_ROLE=primary run pgha_postgres_init_empty
  [[ "$status" -eq 0 ]]
  ! grep -q initdb "$RAN" || false
  [[ -e "$PGHA_HOLD_MARKER" && -e "$PGHA_REJOIN_REQUEST" && "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
  [[ "$output" == *"is empty, but pg2 answers with this cluster's data: not initialising"* ]]
}

@test "a peer that answers something else (no database of this cluster: a failed login, garbage) does not count" {
  ANSWERS='pg1=psql:error pg2='
  PGHA_ROLE=primary run pgha_postgres_init_empty
  [[ "$(tail -n 1 "$RAN")" == initdb ]]
}

@test "a standby clones and asks nobody" {
  ANSWERS='pg1=f'
  PGHA_ROLE=standby run pgha_postgres_init_empty
  [[ "$(cat "$RAN")" == clone ]]
}

@test "the peer that runs as primary is told from one that runs as a standby (the same question, another answer)" {
  ANSWERS='pg1=t pg2=f'
  run pgha_node_running_primary_peer
  [[ "$output" == pg2 ]]
  run pgha_node_running_peer
  [[ "$output" == pg1 ]]
  ANSWERS='pg1=t'
  run pgha_node_running_primary_peer
  [[ -z "$output" ]]
}
