#!/usr/bin/env bats
# pgha-node standby-lost on the primary: synchronous replication is suspended only when the
# lost standby was the last one streaming; sync-restore puts the configured value back.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_DURABILITY_FILE="$BATS_TEST_TMPDIR/durability"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  SYNC_NAMES="ANY 1 (*)" OTHERS=""
  CALLS="$BATS_TEST_TMPDIR/calls"
  # psql stand-in: answers SHOW and the pg_stat_replication query, records ALTER SYSTEM.
  pgha_node_psql() {
    local args="$*" sql=""
    [[ "$args" == *"-c"* ]] || sql=$(cat)
    case "$args$sql" in
      *"ALTER SYSTEM SET synchronous_standby_names = ''"*) echo suspend >>"$CALLS" ;;
      *"SHOW synchronous_standby_names"*) echo "$SYNC_NAMES" ;;
      *pg_stat_replication*) [[ "$args" == *"host=pg1"* ]] || return 9; echo "$OTHERS" ;;
      *) return 8 ;;
    esac
  }
}

@test "the last streaming standby lost: synchronous replication suspended, and said why" {
  run pgha_node_standby_lost pg1
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$CALLS")" == suspend ]]
  [[ "$output" == *"action=standby-lost: pg1 was the last standby streaming"* ]]
  [[ "$output" == *"action=sync-suspend: synchronous replication (ANY 1 (*)) suspended until a standby is attached again"* ]]
}

@test "another standby still streams: synchronous replication stays" {
  OTHERS=pg2
  run pgha_node_standby_lost pg1
  [[ "$status" -eq 0 ]]
  [[ ! -e "$CALLS" ]]
  [[ "$output" == *"action=standby-lost: pg1 detached; pg2 still confirm commits: synchronous replication stays"* ]]
}

@test "asynchronous replication: nothing to do, nothing said" {
  SYNC_NAMES=""
  run pgha_node_standby_lost pg1
  [[ "$status" -eq 0 && -z "$output" ]]
  [[ ! -e "$CALLS" ]]
}

@test "durability strict (as the entrypoint wrote it down for SSH sessions): never suspended, on a lost standby or a promotion; commits wait for a standby" {
  echo strict >"$PGHA_DURABILITY_FILE"
  run pgha_node_standby_lost pg1
  [[ "$status" -eq 0 ]]
  [[ ! -e "$CALLS" ]]
  [[ "$output" == *"action=sync-suspend: durability strict: synchronous replication (ANY 1 (*)) stays; commits wait until a standby confirms them"* ]]
  run pgha_node_sync_suspend
  [[ ! -e "$CALLS" ]]
}
