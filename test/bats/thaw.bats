#!/usr/bin/env bats
# The thaw guard (pgha_node_thaw_round and pgha_node_thaw_check in pgha-node.sh): a primary that
# stood still is held (SIGSTOP) while pgpool is asked whether another node took over; let go on
# when not, stopped while still held when so, asked again while a failover is under way. Real
# processes stand in for the postmaster and one backend; the clock, pgpool's answers (the thaw
# verdict) and the rebuild are stubbed.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_DELEGATE_IP=172.30.0.100
  export PGDATA="$BATS_TEST_TMPDIR/data" PGHA_PG_CTL_TIMEOUT=5 PGHA_THAW_CHECK_SECONDS=3 PGHA_THAW_ASK_SECONDS=2
  export PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/hold" PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin"
  export PGHA_ROLE_FILE="$BATS_TEST_TMPDIR/role" PGHA_REBUILD_LOCK="$BATS_TEST_TMPDIR/rebuild.lock"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  CALLS="$BATS_TEST_TMPDIR/calls"
  # pgpool's answers, one per question (the last repeats).
  VERDICTS=go
  ASKED="$BATS_TEST_TMPDIR/asked"
  echo 0 >"$ASKED"
  # Asked while postgres is held: records what the processes were doing at that moment.
  pgha_node_thaw_verdict() {
    local n
    n=$(($(cat "$ASKED") + 1))
    echo "$n" >"$ASKED"
    echo "asked: postmaster $(stopped_state "$PM") backend $(stopped_state "$(cat "$BATS_TEST_TMPDIR/backend")")" >>"$CALLS"
    read -r -a answers <<<"$VERDICTS"
    local i=$((n <= ${#answers[@]} ? n - 1 : ${#answers[@]} - 1))
    echo "${answers[$i]//_/ }"
  }
  pgha_node_rejoin() { echo "rejoin, postmaster $(proc_state "$PM")" >>"$CALLS"; }
  # A clock that moves 600 ms each time it is read.
  CLOCK="$BATS_TEST_TMPDIR/clock"
  echo 100000 >"$CLOCK"
  pgha_read_uptime() {
    PGHA_UPTIME_MS=$(($(cat "$CLOCK") + 600))
    echo "$PGHA_UPTIME_MS" >"$CLOCK"
  }
  sleep() { :; }
}

# round STILL_MS: one guard round after a sleep that took STILL_MS ms more than its second.
round() { pgha_node_thaw_round $(($(cat "$CLOCK") + 600 - 1000 - $1)); }

teardown() {
  [[ -z "${PM:-}" ]] || kill -CONT "$PM" "$(cat "$BATS_TEST_TMPDIR/backend" 2>/dev/null)" 2>/dev/null || true
  [[ -z "${PM:-}" ]] || kill -KILL "$PM" "$(cat "$BATS_TEST_TMPDIR/backend" 2>/dev/null)" 2>/dev/null || true
}

# stopped_state PID: proc_state once PID has stopped, or after 3 s. A signal is acted on when
# its target next runs, which on a loaded host is not at once (a CI run saw "running").
stopped_state() {
  local i
  for ((i = 0; i < 60; i++)); do
    [[ "$(proc_state "$1")" == running ]] || break
    command sleep 0.05
  done
  proc_state "$1"
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
  for _ in $(seq 200); do [[ -s "$BATS_TEST_TMPDIR/backend" ]] && return 0; command sleep 0.1; done
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

@test "a primary that stood still, pgpool names no other primary: held while asked, then runs again" {
  start_postmaster
  run round 41000
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$CALLS")" == "asked: postmaster stopped backend stopped" ]]
  [[ "$(proc_state "$PM")" == running && "$(proc_state "$(cat "$BATS_TEST_TMPDIR/backend")")" == running ]]
  [[ "$output" == *"action=thaw: this primary stood still for 41 s"* && "$output" == *"postgres goes on"* ]]
  [[ ! -e "$PGHA_HOLD_MARKER" ]]
}

@test "pgpool routes writes to another primary: postgres quits while held, behind the marker, then rejoins" {
  start_postmaster
  VERDICTS=fence_pg1
  run round 30000
  [[ "$status" -eq 0 ]]
  [[ "$(sed -n 1p "$CALLS")" == "asked: postmaster stopped backend stopped" ]]
  [[ "$(sed -n 2p "$CALLS")" == "rejoin, postmaster gone" ]]
  [[ "$output" == *"action=fence: this node runs as a primary but pgpool routes writes to pg1"* ]]
  # The marker was there when it quit: supervisor's restart of postgres finds it and holds.
  [[ "$(cat "$BATS_TEST_TMPDIR/quit")" == marked ]]
  [[ -e "$PGHA_REJOIN_REQUEST" && "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
}

@test "a failover under way: held and asked again until pgpool names the new primary, then fenced" {
  start_postmaster
  VERDICTS="wait wait fence_pg1"
  run round 25000
  [[ "$status" -eq 0 ]]
  [[ "$(grep -c "asked: postmaster stopped backend stopped" "$CALLS")" == 3 ]]
  [[ "$(tail -n 1 "$CALLS")" == "rejoin, postmaster gone" ]]
}

@test "a failover that does not finish within 3 x PGHA_THAW_ASK_SECONDS: postgres goes on, saying why" {
  start_postmaster
  VERDICTS=wait
  run round 25000
  [[ "$status" -eq 0 ]]
  # 6 s on a clock that moves 600 ms a reading: asked again and again, then no more.
  (($(cat "$ASKED") > 1 && $(cat "$ASKED") < 12))
  [[ "$(proc_state "$PM")" == running ]]
  [[ "$output" == *"WARNING: pgpool has this node down and no other primary yet"* ]]
}

@test "a standby that stood still, or a short stall of a primary: nothing asked, postgres runs on" {
  start_postmaster
  run round 2900
  [[ "$status" -eq 0 && ! -e "$CALLS" && "$(proc_state "$PM")" == running ]]
  touch "$PGDATA/standby.signal"
  run round 60000
  [[ "$status" -eq 0 && ! -e "$CALLS" && "$(proc_state "$PM")" == running ]]
  [[ "$(proc_state "$(cat "$BATS_TEST_TMPDIR/backend")")" == running ]]
}

@test "no postgres running: nothing held, nothing asked" {
  run round 30000
  [[ "$status" -eq 0 && ! -e "$CALLS" ]]
}

@test "a fence already under way in another process of the node: the second one leaves it to that one" {
  flock "$PGHA_REBUILD_LOCK" sleep 30 3>&- &
  HOLDER=$!
  for _ in $(seq 200); do flock -n "$PGHA_REBUILD_LOCK" true || break; command sleep 0.1; done
  ! flock -n "$PGHA_REBUILD_LOCK" true || false
  pg_ctl() { echo "pg_ctl $*" >>"$CALLS"; }
  run pgha_node_stop_for_rebuild fence
  kill "$HOLDER"
  [[ "$status" -eq 0 && "$output" == *"already stopping it for a rebuild"* ]]
  [[ ! -e "$CALLS" && ! -e "$PGHA_HOLD_MARKER" ]]
}

@test "the watch loop fencing already: the guard leaves it the stop, and lets the held processes go so its SIGQUIT lands" {
  start_postmaster
  VERDICTS=fence_pg1
  flock "$PGHA_REBUILD_LOCK" sleep 30 3>&- &
  HOLDER=$!
  for _ in $(seq 200); do flock -n "$PGHA_REBUILD_LOCK" true || break; command sleep 0.1; done
  ! flock -n "$PGHA_REBUILD_LOCK" true || false
  run round 30000
  kill "$HOLDER"
  [[ "$status" -eq 0 && "$output" == *"already stopping it for a rebuild"* ]]
  [[ "$(proc_state "$PM")" == running ]]
  [[ "$(cat "$CALLS")" == "asked: postmaster stopped backend stopped" ]]
}

@test "a guard that starts and finds postgres stopped (its predecessor ended while holding it) asks before it lets go" {
  start_postmaster
  kill -STOP "$PM"
  [[ "$(stopped_state "$PM")" == stopped ]]
  pgha_node_thaw_guard >"$BATS_TEST_TMPDIR/guard.log" 2>&1 3>&- &
  GUARD=$!
  for _ in $(seq 200); do [[ -s "$CALLS" ]] && break; command sleep 0.1; done
  kill "$GUARD"
  cat "$BATS_TEST_TMPDIR/guard.log"
  [[ "$(cat "$CALLS")" == "asked: postmaster stopped backend stopped" ]]
  for _ in $(seq 20); do [[ "$(proc_state "$PM")" == running ]] && break; command sleep 0.1; done
  [[ "$(proc_state "$PM")" == running ]]
}
