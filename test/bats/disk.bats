#!/usr/bin/env bats
# A full data volume (pgha_node_disk_* in pgha-node.sh): a primary below the reserve hands
# over only when a streaming standby has flushed all its WAL, and only after PGHA_DISK_TICKS
# checks in a row; without such a standby it keeps running and says so. A node held for a full
# volume asks to be rebuilt once twice the reserve is free. df, psql and pg_ctl are stubbed.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_NODE_ID=0
  export PGDATA="$BATS_TEST_TMPDIR/data" PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold" PGHA_DISK_FULL_MARKER="$BATS_TEST_TMPDIR/disk-full"
  export PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin" PGHA_ROLE_FILE="$BATS_TEST_TMPDIR/role"
  export PGHA_DISK_RESERVE_MB=100 PGHA_DISK_TICKS=3 PGHA_WATCH_INTERVAL_SECONDS=2
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  CALLS="$BATS_TEST_TMPDIR/calls"
  FREE=500 RUNNING=yes IN_RECOVERY=f CAUGHT_UP=1
  df() { printf 'Filesystem 1048576-blocks Used Available Capacity Mounted on\n/dev/loop0 1000 %s %s %s%% /var/lib/postgresql\n' $((1000 - FREE)) "$FREE" $(((1000 - FREE) / 10)); }
  pgha_node_is_running() { [[ "$RUNNING" == yes ]]; }
  pgha_node_psql() {
    case "$*" in
      *pg_is_in_recovery*) echo "$IN_RECOVERY" ;;
      *pg_stat_replication*) echo "$CAUGHT_UP" ;;
    esac
  }
  pg_ctl() { echo "pg_ctl $*" >>"$CALLS"; }
  pgha_node_rejoin() { echo rejoin >>"$CALLS"; }
}

@test "the disk line names free MB, used %, the reserve and the state" {
  [[ "$(pgha_node_disk)" == "free_mb=500 used_pct=50 reserve_mb=100 state=ok" ]]
  FREE=40
  [[ "$(pgha_node_disk)" == "free_mb=40 used_pct=96 reserve_mb=100 state=low" ]]
  touch "$PGHA_HOLD_MARKER" "$PGHA_DISK_FULL_MARKER"
  [[ "$(pgha_node_disk)" == *"state=held" ]]
}

@test "free space above the reserve: ok" {
  [[ "$(pgha_node_disk_verdict)" == ok ]]
}

@test "a primary below the reserve with a standby that flushed all its WAL: handover" {
  FREE=40
  [[ "$(pgha_node_disk_verdict)" == handover ]]
}

@test "a primary below the reserve and no standby with all its WAL (lagging, or none): full, it keeps running" {
  FREE=40 CAUGHT_UP=0
  [[ "$(pgha_node_disk_verdict)" == full ]]
}

@test "a standby, or a stopped postgres, below the reserve: ok (only a primary hands over)" {
  FREE=40 IN_RECOVERY=t
  [[ "$(pgha_node_disk_verdict)" == ok ]]
  IN_RECOVERY=f RUNNING=no
  [[ "$(pgha_node_disk_verdict)" == ok ]]
}

@test "the handover waits for PGHA_DISK_TICKS checks in a row; one check with room starts the count again" {
  FREE=40
  pgha_node_disk_watch
  pgha_node_disk_watch
  [[ ! -e "$CALLS" ]]
  FREE=500
  pgha_node_disk_watch
  FREE=40
  pgha_node_disk_watch
  pgha_node_disk_watch
  [[ ! -e "$CALLS" ]]
  run pgha_node_disk_watch
  [[ "$output" == *"action=disk: the data volume has 40 MB free (reserve 100 MB) and a standby has all the WAL: stopping postgres"* ]]
  grep -q -- "-m immediate" "$CALLS"
  [[ -e "$PGHA_HOLD_MARKER" && -e "$PGHA_DISK_FULL_MARKER" && "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
}

@test "no standby to take over: a warning, postgres left running" {
  FREE=40 CAUGHT_UP=0
  pgha_node_disk_watch
  pgha_node_disk_watch
  run pgha_node_disk_watch
  [[ "$output" == *"WARNING: the data volume has 40 MB free (reserve 100 MB) and no standby has all the WAL to take over"* ]]
  [[ ! -e "$CALLS" && ! -e "$PGHA_HOLD_MARKER" ]]
}

@test "held for a full volume: rebuilt once twice the reserve is free, not before" {
  touch "$PGHA_HOLD_MARKER" "$PGHA_DISK_FULL_MARKER"
  FREE=150
  pgha_node_disk_rejoin_if_room
  [[ ! -e "$CALLS" && -e "$PGHA_DISK_FULL_MARKER" ]]
  FREE=200
  run pgha_node_disk_rejoin_if_room
  [[ "$output" == *"the data volume has 200 MB free again: asking to be rebuilt as a standby"* ]]
  [[ "$(cat "$CALLS")" == rejoin && -e "$PGHA_REJOIN_REQUEST" && ! -e "$PGHA_DISK_FULL_MARKER" ]]
}

@test "held for another reason (a rebuild, a fence): the volume's room changes nothing" {
  touch "$PGHA_HOLD_MARKER"
  pgha_node_disk_rejoin_if_room
  [[ ! -e "$CALLS" ]]
}
