#!/usr/bin/env bats
# The thaw guard (pgha_node_thaw_check in pgha-node.sh): a primary that stood still is held
# (SIGSTOP) while pgpool is asked whether another node took over; let go on when not, stopped
# while still held when so. Real processes stand in for the postmaster and one backend;
# pgpool's answer (the fence verdict) and the rebuild are stubbed.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_DELEGATE_IP=172.30.0.100
  export PGDATA="$BATS_TEST_TMPDIR/data" PGHA_PG_CTL_TIMEOUT=5
  export PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold" PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin"
  export PGHA_ROLE_FILE="$BATS_TEST_TMPDIR/role" PGHA_REBUILD_LOCK="$BATS_TEST_TMPDIR/rebuild.lock"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  CALLS="$BATS_TEST_TMPDIR/calls"
  VERDICT=ok
  # Asked while postgres is held: records what the processes were doing at that moment.
  pgha_node_fence_verdict() {
    echo "asked as $1: postmaster $(proc_state "$PM") backend $(proc_state "$(cat "$BATS_TEST_TMPDIR/backend")")" >>"$CALLS"
    echo "$VERDICT"
  }
  pgha_node_fence() { echo "fence $1, postmaster $(proc_state "$PM")" >>"$CALLS"; }
}

teardown() {
  [[ -z "${PM:-}" ]] || kill -CONT "$PM" "$(cat "$BATS_TEST_TMPDIR/backend" 2>/dev/null)" 2>/dev/null || true
  [[ -z "${PM:-}" ]] || kill -KILL "$PM" "$(cat "$BATS_TEST_TMPDIR/backend" 2>/dev/null)" 2>/dev/null || true
}

# proc_state PID: R/S when it runs or sleeps, T when stopped, gone when it has exited.
proc_state() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }
  stat=${stat##*) }
  case "${stat%% *}" in T | t) echo stopped ;; Z | X) echo gone ;; *) echo running ;; esac
}

# A stand-in postmaster with one backend; on SIGQUIT it writes whether the hold marker existed
# at that moment, then exits (as a postmaster's immediate stop does).
start_postmaster() {
  cat >"$BATS_TEST_TMPDIR/postmaster.sh" <<'SH'
trap 'if [[ -e "$1" ]]; then echo marked; else echo unmarked; fi >"$2"; kill "$backend"; exit 0' QUIT
sleep 1000 &
backend=$!
echo "$backend" >"$3"
wait
SH
  # Background jobs of a script ignore SIGQUIT, and an ignored signal cannot be trapped.
  env --default-signal=QUIT bash "$BATS_TEST_TMPDIR/postmaster.sh" "$PGHA_HOLD_MARKER" "$BATS_TEST_TMPDIR/quit" "$BATS_TEST_TMPDIR/backend" 3>&- &
  PM=$!
  echo "$PM" >"$PGDATA/postmaster.pid"
  for _ in $(seq 50); do [[ -s "$BATS_TEST_TMPDIR/backend" ]] && return 0; sleep 0.1; done
  return 1
}

@test "the data directory tells the role without asking postgres: stopped, standby, primary" {
  [[ "$(pgha_node_data_role)" == stopped ]]
  start_postmaster
  touch "$PGDATA/standby.signal"
  [[ "$(pgha_node_data_role)" == standby ]]
  rm "$PGDATA/standby.signal"
  [[ "$(pgha_node_data_role)" == primary ]]
  # A pid file left by a postmaster that is gone: stopped.
  kill -KILL "$PM"
  wait "$PM" 2>/dev/null || true
  [[ "$(pgha_node_data_role)" == stopped ]]
}

@test "pgpool names no other primary: postgres was held while asked, and runs again" {
  start_postmaster
  run pgha_node_thaw_check 41000
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$CALLS")" == "asked as primary: postmaster stopped backend stopped" ]]
  [[ "$(proc_state "$PM")" == running && "$(proc_state "$(cat "$BATS_TEST_TMPDIR/backend")")" == running ]]
  [[ "$output" == *"action=thaw: this primary stood still for 41 s"* && "$output" == *"postgres goes on"* ]]
  [[ ! -e "$PGHA_HOLD_MARKER" ]]
}

@test "pgpool routes writes to another primary: postgres quits while held, held behind the marker first, then the fence" {
  start_postmaster
  VERDICT="fence pg1"
  run pgha_node_thaw_check 30000
  [[ "$status" -eq 0 ]]
  [[ "$(sed -n 1p "$CALLS")" == "asked as primary: postmaster stopped backend stopped" ]]
  [[ "$(sed -n 2p "$CALLS")" == "fence pg1, postmaster gone" ]]
  # The marker was there when it quit: supervisor's restart of postgres finds it and holds.
  [[ "$(cat "$BATS_TEST_TMPDIR/quit")" == marked ]]
  [[ -e "$PGHA_REJOIN_REQUEST" && "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
}

@test "no postgres running: nothing held, nothing asked" {
  run pgha_node_thaw_check 30000
  [[ "$status" -eq 1 ]]
  [[ ! -e "$CALLS" ]]
}

@test "a fence already under way in another process of the node: the second one leaves it to that one" {
  flock "$PGHA_REBUILD_LOCK" sleep 30 3>&- &
  HOLDER=$!
  for _ in $(seq 50); do flock -n "$PGHA_REBUILD_LOCK" true || break; sleep 0.1; done
  pg_ctl() { echo "pg_ctl $*" >>"$CALLS"; }
  pgha_node_rejoin() { echo rejoin >>"$CALLS"; }
  run pgha_node_stop_for_rebuild fence
  kill "$HOLDER"
  [[ "$status" -eq 0 && "$output" == *"already stopping it for a rebuild"* ]]
  [[ ! -e "$CALLS" && ! -e "$PGHA_HOLD_MARKER" ]]
}
