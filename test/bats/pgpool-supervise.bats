#!/usr/bin/env bats
# The pgpool entrypoint's supervisor (pgha_pgpool_supervise and its decisions), sourced from
# the generated context. A stand-in command plays pgpool: it exits, or waits for a signal.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh"
  # shellcheck source=/dev/null
  . "$CONTEXT/entrypoint.sh"
  # Nothing of a real node is touched: no pgpool processes, sockets or delegate IP here.
  pgha_pgpool_clean_after_exit() { echo cleaned >>"$BATS_TEST_TMPDIR/cleaned"; }
}

@test "restart delays double from 1 s up to the bound" {
  PGHA_PGPOOL_RESTART_MAX_DELAY=8
  [[ "$(pgha_pgpool_restart_delay 1)" == 1 ]]
  [[ "$(pgha_pgpool_restart_delay 2)" == 2 ]]
  [[ "$(pgha_pgpool_restart_delay 4)" == 8 ]]
  [[ "$(pgha_pgpool_restart_delay 5)" == 8 ]]
  [[ "$(pgha_pgpool_restart_delay 40)" == 8 ]]
  PGHA_PGPOOL_RESTART_MAX_DELAY=5
  [[ "$(pgha_pgpool_restart_delay 3)" == 4 ]]
  [[ "$(pgha_pgpool_restart_delay 4)" == 5 ]]
}

@test "after an exit: stop when asked, fail when the first run ended at once, else restart" {
  PGHA_PGPOOL_SETTLE_SECONDS=10
  [[ "$(pgha_pgpool_after_exit 1 3 0)" == fail ]]
  [[ "$(pgha_pgpool_after_exit 1 10 0)" == restart ]]
  [[ "$(pgha_pgpool_after_exit 2 0 0)" == restart ]]
  [[ "$(pgha_pgpool_after_exit 1 3 1)" == stop ]]
  [[ "$(pgha_pgpool_after_exit 5 300 1)" == stop ]]
}

@test "a first run that fails at once ends the container with its status, without a restart" {
  PGHA_PGPOOL_SETTLE_SECONDS=10
  run pgha_pgpool_supervise bash -c 'exit 3'
  [[ "$status" -eq 3 ]]
  # 0 s, or 1 s when the run straddled a second's boundary (whole seconds are counted).
  [[ "$output" == *"action=start: ERROR: pgpool exited with status 3 "[01]" s after it started; not restarted"* ]]
  [[ ! -e "$BATS_TEST_TMPDIR/cleaned" ]]
}

@test "a pgpool that exits after it settled is cleaned up after and started again" {
  PGHA_PGPOOL_SETTLE_SECONDS=0 PGHA_PGPOOL_RESTART_MAX_DELAY=1
  runs="$BATS_TEST_TMPDIR/runs"
  # Exits twice, then stays up until it is told to stop.
  fake() {
    echo run >>"$runs"
    if (($(wc -l <"$runs") < 3)); then exit 1; fi
    trap 'exit 0' INT
    # Told only once its handler is in place (a SIGINT before it would end it with 130).
    touch "$BATS_TEST_TMPDIR/handler-set"
    while :; do sleep 0.1; done
  }
  (
    pgha_pgpool_supervise fake &
    sup=$!
    for _ in $(seq 100); do [[ -f "$BATS_TEST_TMPDIR/handler-set" ]] && break; sleep 0.1; done
    kill -TERM "$sup"
    wait "$sup"
    echo "supervisor status $?"
  ) >"$BATS_TEST_TMPDIR/out" 2>&1
  cat "$BATS_TEST_TMPDIR/out"
  [[ "$(wc -l <"$runs")" -eq 3 ]]
  [[ "$(wc -l <"$BATS_TEST_TMPDIR/cleaned")" -eq 2 ]]
  grep -q "action=restart: pgpool exited with status 1 after 0 s; starting it again in 1 s (restart 1)" "$BATS_TEST_TMPDIR/out"
  grep -q "action=stop: pgpool shut down (status 0)" "$BATS_TEST_TMPDIR/out"
  grep -q "supervisor status 0" "$BATS_TEST_TMPDIR/out"
}

@test "docker stop reaches pgpool as SIGINT (its fast shutdown), not SIGTERM (smart)" {
  got="$BATS_TEST_TMPDIR/signal"
  fake() {
    trap 'echo INT >"$got"; exit 0' INT
    trap 'echo TERM >"$got"; exit 0' TERM
    while :; do sleep 0.1; done
  }
  (
    pgha_pgpool_supervise fake &
    sup=$!
    sleep 0.5
    kill -TERM "$sup"
    wait "$sup"
  )
  [[ "$(cat "$got")" == INT ]]
}

@test "docker stop while pgpool is down between restarts ends the supervisor at once" {
  PGHA_PGPOOL_SETTLE_SECONDS=0 PGHA_PGPOOL_RESTART_MAX_DELAY=30
  runs="$BATS_TEST_TMPDIR/runs"
  fake() { echo run >>"$runs"; exit 1; }
  (
    # The fourth restart in a row would wait 8 s; the stop comes during the first waits.
    pgha_pgpool_supervise fake &
    sup=$!
    sleep 1.5
    start=$SECONDS
    kill -TERM "$sup"
    wait "$sup"
    echo "status $? after $((SECONDS - start)) s"
  ) >"$BATS_TEST_TMPDIR/out" 2>&1
  cat "$BATS_TEST_TMPDIR/out"
  grep -q "action=stop: stopped while pgpool was down" "$BATS_TEST_TMPDIR/out"
  grep -q "status 0 after 0 s" "$BATS_TEST_TMPDIR/out"
}

@test "stale backends: down here while the leader has them up ('waiting' already read as up); nothing else" {
  [[ "$(pgha_pgpool_stale_backends $'pg0 down\npg1 up' $'pg0 up\npg1 up')" == pg0 ]]
  [[ "$(pgha_pgpool_stale_backends $'pg0 down\npg1 down\npg2 up' $'pg0 up\npg1 up\npg2 up')" == "pg0 pg1" ]]
  # Both agree it is down, or only the leader has it down: not this node's staleness.
  [[ -z "$(pgha_pgpool_stale_backends $'pg0 down\npg1 up' $'pg0 down\npg1 up')" ]]
  [[ -z "$(pgha_pgpool_stale_backends $'pg0 up\npg1 up' $'pg0 down\npg1 up')" ]]
  # The leader did not answer: no comparison, no restart.
  [[ -z "$(pgha_pgpool_stale_backends $'pg0 down\npg1 up' '')" ]]
}

# pcp_watchdog_info -v: the cluster header, then one block per node (this node first).
wd_info() {
  printf 'Quorum state : QUORUM EXIST\nLeader Node Name : pgpool0:9999 Linux pgpool0\nLeader Host Name : pgpool0\n\n'
  local host state
  for pair in "$@"; do
    host=${pair%%=*} state=${pair#*=}
    printf 'Node Name : %s:9999 Linux %s\nHost Name : %s\nStatus : 7\nStatus Name : %s\nMembership Status : MEMBER\n\n' "$host" "$host" "$host" "$state"
  done
}

@test "a reconcile restart waits until every other watchdog node is joined (the leader keeps its quorum)" {
  export PGHA_NODE=pgpool2
  pgha_pgpool_others_joined "$(wd_info pgpool2=STANDBY pgpool0=LEADER pgpool1=STANDBY)"
  # Another stale standby restarting right now: not yet.
  ! pgha_pgpool_others_joined "$(wd_info pgpool2=STANDBY pgpool0=LEADER pgpool1=SHUTDOWN)" || false
  ! pgha_pgpool_others_joined "$(wd_info pgpool2=STANDBY pgpool0=LEADER pgpool1=LOST)" || false
  # This node's own state does not count; no answer is no permission.
  pgha_pgpool_others_joined "$(wd_info pgpool2=JOINING pgpool0=LEADER pgpool1=STANDBY)"
  ! pgha_pgpool_others_joined "" || false
}

@test "backend view: pcp_node_info's 'waiting' is up" {
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  printf '#!/usr/bin/env bash\necho "pg0 5432 3 0.500000 down up standby standby 0 streaming async 2026-11-22 10:26:05"\necho "pg1 5432 1 0.500000 waiting up primary primary 0 none none 2026-11-22 10:26:21"\n' >"$BATS_TEST_TMPDIR/bin/pcp_node_info"
  chmod +x "$BATS_TEST_TMPDIR/bin/pcp_node_info"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  [[ "$(pgha_pgpool_backend_view)" == $'pg0 down\npg1 up' ]]
}

@test "the exit status is the child's own: 137 for a killed child, 0 for a clean exit after a trapped TERM" {
  # A child killed by a signal keeps its 128+n.
  sh -c 'kill -KILL $$' &
  pgha_pgpool_wait_child $!
  [[ "$PGHA_PGPOOL_EXIT" -eq 137 ]]
  # A trapped TERM arrives while the child runs and it then exits 0 (docker stop): status 0.
  # (A guard only: the race where the TERM lands as the child ends was not reproducible here.)
  # (USR1, not INT: a background child of a non-interactive shell starts with INT ignored.)
  trap 'kill -USR1 "$child" 2>/dev/null' TERM
  bash -c 'trap "exit 0" USR1; touch "$1"; for _ in {1..400}; do sleep 0.05; done; exit 3' _ "$BATS_TEST_TMPDIR/ready" &
  child=$!
  for _ in $(seq 100); do [[ -f "$BATS_TEST_TMPDIR/ready" ]] && break; sleep 0.05; done
  me=$BASHPID
  (sleep 0.2; kill -TERM "$me") &
  pgha_pgpool_wait_child "$child"
  trap - TERM
  [[ "$PGHA_PGPOOL_EXIT" -eq 0 ]]
}

@test "docker stop before pgpool runs (configuration, credentials, sshd) ends the entrypoint at once with 0" {
  (
    # The steps before the supervisor, each short (bash runs a trap between commands).
    pgha_pgpool_check_config() { for _ in $(seq 50); do sleep 0.1; done; }
    _pgha_pgpool_main &
    main=$!
    sleep 0.5
    start=$SECONDS
    kill -TERM "$main"
    wait "$main"
    echo "status $? after $((SECONDS - start)) s"
  ) >"$BATS_TEST_TMPDIR/out" 2>&1
  cat "$BATS_TEST_TMPDIR/out"
  grep -q "action=stop: stopped while starting, before pgpool ran" "$BATS_TEST_TMPDIR/out"
  grep -q "status 0 after [01] s" "$BATS_TEST_TMPDIR/out"
}

# exec_done PID: waits (up to 5 s) until the child forked as PID has exec'd the program named
# pgpool: right after the fork its name is still the shell's, more so on a loaded machine.
exec_done() {
  local i
  for ((i = 0; i < 50; i++)); do
    [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == pgpool ]] && return 0
    sleep 0.1
  done
  return 1
}

@test "the reconcile restart signals only a pgpool of postgres that the pid file names" {
  # Not a number, a process that is not pgpool (this shell), no such process: refused.
  ! pgha_pgpool_is_pgpool '' || false
  ! pgha_pgpool_is_pgpool '1 2' || false
  ! pgha_pgpool_is_pgpool "$$" || false
  ! pgha_pgpool_is_pgpool 999999999 || false
  # A process named pgpool, but not postgres's (this test runs as root, or as its own user).
  cp "$(command -v sleep)" "$BATS_TEST_TMPDIR/pgpool"
  "$BATS_TEST_TMPDIR/pgpool" 30 &
  pid=$!
  exec_done "$pid"
  ! pgha_pgpool_is_pgpool "$pid" || false
  kill "$pid"
  # The same, run as postgres where this host has that account: accepted.
  if id postgres >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    chmod 0755 "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR/pgpool"
    setpriv --reuid postgres --regid postgres --clear-groups "$BATS_TEST_TMPDIR/pgpool" 30 &
    pid=$!
    exec_done "$pid"
    pgha_pgpool_is_pgpool "$pid"
    kill "$pid"
  fi
}
