#!/usr/bin/env bats
# pgha-node never replaces the data of a running primary, nor copies from a host that does not
# answer: the guard runs before the node is held, stopped or emptied.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0
  export PGDATA="$BATS_TEST_TMPDIR/data"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  RUNNING=yes IN_RECOVERY=t SOURCE_UP=yes
  CALLS="$BATS_TEST_TMPDIR/calls"
  pgha_node_is_running() { [[ "$RUNNING" == yes ]]; }
  pgha_node_psql() { echo "$IN_RECOVERY"; }
  pg_isready() { [[ "$SOURCE_UP" == yes ]]; }
  for f in pgha_node_hold pgha_node_stop_postgres pgha_node_basebackup pgha_node_configure_standby pgha_node_release pg_rewind; do
    eval "$f() { echo $f >>\"\$CALLS\"; }"
  done
}

@test "a standby is rebuilt and follows" {
  run pgha_node_rebuild pg1 5432
  [[ "$status" -eq 0 ]]
  grep -qx pgha_node_basebackup "$CALLS"
  rm -f "$CALLS"
  run pgha_node_follow pg1 5432
  [[ "$status" -eq 0 ]]
  grep -qx pg_rewind "$CALLS"
}

@test "a held node (postgres down) is rebuilt" {
  RUNNING=no
  run pgha_node_rebuild pg1 5432
  [[ "$status" -eq 0 ]]
}

@test "a running primary is never replaced" {
  IN_RECOVERY=f
  for verb in pgha_node_rebuild pgha_node_follow; do
    run "$verb" pg1 5432
    [[ "$status" -ne 0 && "$output" == *"this node runs as a primary: refusing"* ]]
  done
  [[ ! -e "$CALLS" ]]
}

@test "a source that does not answer wipes nothing" {
  SOURCE_UP=no
  run pgha_node_rebuild nowhere 1
  [[ "$status" -ne 0 && "$output" == *"nowhere:1 does not answer: refusing"* ]]
  [[ ! -e "$CALLS" ]]
}
