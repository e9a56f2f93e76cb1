#!/usr/bin/env bats
# pgha_pcp_run: a pcp action counts as done only when pcp printed its success line. pcp's client
# (4.7) exits 0 once connected, also after the server answered ERROR: the exit status alone let
# `pgha-node rejoin` log "rebuilt and attached" right after a failed recovery's "1st stage".

setup() {
  # Before the library sets every path from it: the rejoin tests' hold marker and requests must
  # land in the test's directory, never in this machine's /var/lib/postgresql.
  export PGHA_HOME="$BATS_TEST_TMPDIR"
  # shellcheck source=/dev/null
  . "$BATS_TEST_DIRNAME/../../images/postgres/bookworm/pgha-lib.sh"
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  PGHA_PCPPASS_FILE=/dev/null
}

# stub NAME BODY: an executable NAME on PATH running BODY (timeout runs executables, not functions).
stub() {
  printf '#!/usr/bin/env bash\n%s\n' "$2" >"$BATS_TEST_TMPDIR/bin/$1"
  chmod +x "$BATS_TEST_TMPDIR/bin/$1"
}

@test "a pcp action succeeds only on its own success line, whatever pcp's exit status" {
  # Each row: the command run | what the stub pcp does | expected status | a line the output must hold.
  local -a rows=(
    'pcp_recovery_node|echo "pcp_recovery_node -- Command Successful"|0|pcp_recovery_node -- Command Successful'
    'pcp_recovery_node|echo "ERROR: executing recovery, execution of command failed at \"1st stage\"" >&2; exit 0|1|ERROR: executing recovery'
    'pcp_attach_node|echo "ERROR: invalid node id" >&2|1|ERROR: invalid node id'
    'pcp_attach_node|echo "ERROR: connection to host \"x\" failed" >&2; exit 1|1|connection to host'
    'pcp_recovery_node|echo "pcp_attach_node -- Command Successful"|1|pcp_attach_node -- Command Successful'
    'pcp_attach_node|echo "pcp_attach_node -- Command Successful"; exit 1|1|pcp_attach_node -- Command Successful'
    'pcp_attach_node|sleep 5; echo "pcp_attach_node -- Command Successful"|1|no answer within 1 s'
  )
  local row command body expected line
  for row in "${rows[@]}"; do
    IFS='|' read -r command body expected line <<<"$row"
    stub "$command" "$body"
    run pgha_pcp_run 1 pgpool0 "$command" -n 0
    [[ "$status" -eq "$expected" && "$output" == *"$line"* ]] || {
      echo "row '$row': status $status, output '$output'"
      false
    }
  done
}

@test "pcp is called with the host, port, user and pass file, and the action's own arguments" {
  stub pcp_attach_node 'echo "args: $* pass=$PCPPASSFILE"; echo "pcp_attach_node -- Command Successful"'
  PGHA_PCP_PORT=9898 PGHA_PCP_USER=pgpool PGHA_PCPPASS_FILE=/run/x/pcppass run pgha_pcp_run 3 10.0.0.5 pcp_attach_node -n 1
  [[ "$status" -eq 0 ]]
  [[ "${lines[0]}" == "args: -h 10.0.0.5 -p 9898 -U pgpool -w -n 1 pass=/run/x/pcppass" ]]
}

@test "rejoin: a recovery pcp answers with ERROR (exit 0) is retried past the quick tries, never logged as rebuilt; the health check says why it is held" {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_NODE_ID=0 PGHA_DELEGATE_IP=172.30.0.100
  export PGHA_HOME="$BATS_TEST_TMPDIR"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin-requested" PGHA_HELD_WHY_FILE="$BATS_TEST_TMPDIR/held-why" PGHA_REJOIN_LOCK="$BATS_TEST_TMPDIR/rejoin.lock"
  PGHA_REJOIN_TRIES=2 PGHA_REJOIN_RETRY_SECONDS=0 PGHA_REJOIN_SLOW_RETRY_SECONDS=0
  touch "$PGHA_REJOIN_REQUEST" "$PGHA_HOLD_MARKER"
  pgha_wait_port() { true; }
  # pgpool first knows no primary (nothing is asked of pcp), then names one.
  pgha_node_pool_nodes() {
    if [[ -e "$BATS_TEST_TMPDIR/n" ]]; then printf '0|pg0|down|standby\n1|pg1|up|primary\n'; else printf '0|pg0|down|standby\n1|pg1|down|standby\n'; fi
  }
  run pgha_node_rejoin_source
  [[ "$status" -ne 0 && "$output" == "pgpool knows no primary to rebuild from (pg0 down standby, pg1 down standby)" ]]
  echo 0 >"$BATS_TEST_TMPDIR/n"
  # Four answers of ERROR (the primary lost during the rebuild), then success; each attempt
  # leaves the health check's line behind, checked here at the fourth.
  stub pcp_recovery_node '
    n=$(($(cat "$BATS_TEST_TMPDIR/n" 2>/dev/null || echo 0) + 1)); echo "$n" >"$BATS_TEST_TMPDIR/n"
    if ((n == 4)); then cp "$PGHA_HELD_WHY_FILE" "$BATS_TEST_TMPDIR/why-at-4"; fi
    if ((n <= 4)); then
      echo "ERROR: executing recovery, execution of command failed at \"1st stage\"" >&2; echo "DETAIL: command:\"recovery_1st_stage\"" >&2
    else
      echo "pcp_recovery_node -- Command Successful"
    fi'
  export BATS_TEST_TMPDIR PGHA_HELD_WHY_FILE
  run pgha_node_rejoin
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$BATS_TEST_TMPDIR/n")" -eq 5 ]]
  # Every failure before success; "rebuilt" only once, after the fifth.
  [[ "$(grep -c 'still held: pcp_recovery_node failed: ERROR: executing recovery' <<<"$output")" -ge 2 ]]
  [[ "$(grep -c 'rebuilt and attached' <<<"$output")" -eq 1 ]]
  [[ "${lines[-1]}" == *"node 0 rebuilt and attached as a standby"* ]]
  [[ "$(cat "$BATS_TEST_TMPDIR/why-at-4")" == 'pcp_recovery_node failed: ERROR: executing recovery, execution of command failed at "1st stage" (DETAIL: command:"recovery_1st_stage") (attempt 3)' ]]
  [[ ! -e "$PGHA_REJOIN_REQUEST" && ! -e "$PGHA_HELD_WHY_FILE" ]]
}

@test "rejoin: while pgpool names no primary it is not asked to rebuild, and looks again after the watch interval, not the retry interval" {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_NODE_ID=0 PGHA_DELEGATE_IP=172.30.0.100
  export PGHA_HOME="$BATS_TEST_TMPDIR"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin-requested" PGHA_HELD_WHY_FILE="$BATS_TEST_TMPDIR/held-why" PGHA_REJOIN_LOCK="$BATS_TEST_TMPDIR/rejoin.lock"
  PGHA_REJOIN_TRIES=30 PGHA_REJOIN_RETRY_SECONDS=10 PGHA_WATCH_INTERVAL_SECONDS=2
  touch "$PGHA_REJOIN_REQUEST" "$PGHA_HOLD_MARKER"
  pgha_wait_port() { true; }
  sleep() { echo "slept $1" >>"$BATS_TEST_TMPDIR/sleeps"; }
  # No primary for two looks, then pg1.
  pgha_node_pool_nodes() {
    local looks
    looks=$(($(cat "$BATS_TEST_TMPDIR/looks" 2>/dev/null || echo 0) + 1))
    echo "$looks" >"$BATS_TEST_TMPDIR/looks"
    if ((looks > 2)); then printf '0|pg0|down|standby\n1|pg1|up|primary\n'; else printf '0|pg0|down|standby\n1|pg1|down|standby\n'; fi
  }
  stub pcp_recovery_node 'echo called >>"$BATS_TEST_TMPDIR/pcp"; echo "pcp_recovery_node -- Command Successful"'
  export BATS_TEST_TMPDIR
  run pgha_node_rejoin
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$BATS_TEST_TMPDIR/sleeps")" == $'slept 2\nslept 2' ]]
  [[ "$(wc -l <"$BATS_TEST_TMPDIR/pcp")" -eq 1 ]]
  [[ "$output" == *"still held: pgpool knows no primary to rebuild from (pg0 down standby, pg1 down standby); asking again in 2 s"* ]]
}

@test "rejoin: pgpool with no primary for longer than a failover takes: the held node may start as the primary (asked only after the grace)" {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_NODE_ID=0 PGHA_DELEGATE_IP=172.30.0.100
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin-requested" PGHA_HELD_WHY_FILE="$BATS_TEST_TMPDIR/held-why" PGHA_REJOIN_LOCK="$BATS_TEST_TMPDIR/rejoin.lock"
  PGHA_REJOIN_TRIES=30 PGHA_WATCH_INTERVAL_SECONDS=2 PGHA_REPOINT_GRACE_SECONDS=30
  touch "$PGHA_REJOIN_REQUEST" "$PGHA_HOLD_MARKER"
  pgha_wait_port() { true; }
  # The clock moves with each sleep.
  sleep() { SECONDS=$((SECONDS + $1)); }
  pgha_node_pool_nodes() { printf '0|pg0|down|standby\n1|pg1|up|standby\n'; }
  pgha_node_release_if_newest() { echo "$SECONDS" >>"$BATS_TEST_TMPDIR/asked"; rm -f "$PGHA_HOLD_MARKER"; }
  SECONDS=0
  pgha_node_rejoin
  [[ "$(wc -l <"$BATS_TEST_TMPDIR/asked")" -eq 1 ]]
  (($(cat "$BATS_TEST_TMPDIR/asked") >= 30))
}

@test "rejoin: refused because pgpool rebuilds another node, it asks again after the watch interval, uses up no quick try, and says why" {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_NODE_ID=0 PGHA_DELEGATE_IP=172.30.0.100
  export PGHA_HOME="$BATS_TEST_TMPDIR"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin-requested" PGHA_HELD_WHY_FILE="$BATS_TEST_TMPDIR/held-why" PGHA_REJOIN_LOCK="$BATS_TEST_TMPDIR/rejoin.lock"
  # Two quick tries only: four busy refusals must not use them up.
  PGHA_REJOIN_TRIES=2 PGHA_REJOIN_RETRY_SECONDS=10 PGHA_REJOIN_SLOW_RETRY_SECONDS=60 PGHA_WATCH_INTERVAL_SECONDS=2
  touch "$PGHA_REJOIN_REQUEST" "$PGHA_HOLD_MARKER"
  pgha_wait_port() { true; }
  sleep() { echo "slept $1" >>"$BATS_TEST_TMPDIR/sleeps"; }
  pgha_node_pool_nodes() { printf '0|pg0|down|standby\n1|pg1|up|primary\n'; }
  stub pcp_recovery_node '
    n=$(($(cat "$BATS_TEST_TMPDIR/n" 2>/dev/null || echo 0) + 1)); echo "$n" >"$BATS_TEST_TMPDIR/n"
    if ((n <= 4)); then
      echo "FATAL:  process recovery request failed" >&2; echo "DETAIL:  pgpool-II is already processing another recovery request." >&2
    else
      echo "pcp_recovery_node -- Command Successful"
    fi'
  export BATS_TEST_TMPDIR
  run pgha_node_rejoin
  [[ "$status" -eq 0 && "$(cat "$BATS_TEST_TMPDIR/n")" -eq 5 ]]
  [[ "$(cat "$BATS_TEST_TMPDIR/sleeps")" == $'slept 2\nslept 2\nslept 2\nslept 2' ]]
  [[ "$output" == *"still held: pcp_recovery_node failed: FATAL: process recovery request failed (DETAIL: pgpool-II is already processing another recovery request.); asking again in 2 s"* ]]
}

@test "rejoin: a node released meanwhile (a rebuild that ended after its request's bound) stops asking; a second process of the node leaves the asking to the first" {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0 PGHA_NODE_ID=0 PGHA_DELEGATE_IP=172.30.0.100
  export PGHA_HOME="$BATS_TEST_TMPDIR"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  PGHA_REJOIN_REQUEST="$BATS_TEST_TMPDIR/rejoin-requested" PGHA_HELD_WHY_FILE="$BATS_TEST_TMPDIR/held-why" PGHA_REJOIN_LOCK="$BATS_TEST_TMPDIR/rejoin.lock"
  PGHA_REJOIN_RETRY_SECONDS=0
  pgha_wait_port() { true; }
  pgha_node_pool_nodes() { printf '0|pg0|down|standby\n1|pg1|up|primary\n'; }
  # pcp times out; meanwhile the rebuild completes and releases the node (the marker goes).
  stub pcp_recovery_node 'rm -f "$PGHA_HOLD_MARKER"; echo "ERROR: no answer" >&2'
  export PGHA_HOLD_MARKER
  touch "$PGHA_REJOIN_REQUEST" "$PGHA_HOLD_MARKER"
  run pgha_node_rejoin
  [[ "$status" -eq 0 && "$output" == *"node 0 is no longer held: not asking pgpool again"* ]]
  [[ ! -e "$PGHA_REJOIN_REQUEST" ]]
  [[ "$(grep -c "asking pgpool at the delegate IP" <<<"$output")" == 1 ]]
  # Another process asking already: this one does not ask at all.
  touch "$PGHA_REJOIN_REQUEST" "$PGHA_HOLD_MARKER"
  flock "$PGHA_REJOIN_LOCK" sleep 30 3>&- &
  local holder=$!
  for _ in $(seq 200); do flock -n "$PGHA_REJOIN_LOCK" true || break; sleep 0.1; done
  ! flock -n "$PGHA_REJOIN_LOCK" true || false
  run pgha_node_rejoin
  kill "$holder"
  [[ "$status" -eq 0 && "$output" == *"another process of this node already asks pgpool to rebuild it"* ]]
  [[ "$output" != *"asking pgpool"* && -e "$PGHA_REJOIN_REQUEST" ]]
}

@test "the backends from pgpool's memory: one pcp_health_check_stats per backend, waiting read as up; pcp silent fails" {
  PGHA_PCP_PORT=9898 PGHA_PCP_USER=pcp
  stub pcp_health_check_stats 'case "${*: -1}" in
    0) echo "0 pg0 5432 down standby 2026-12-07 20:01:40 113 113 0 0 0 0.000000 0 39 6 10.6 2026-12-07 20:03:31 2026-12-07 20:03:31" ;;
    1) echo "1 pg1 5432 waiting primary 2026-12-07 20:01:40 86 86 0 0 0 0.000000 0 7039 6 325.5 2026-12-07 20:03:31 2026-12-07 20:03:31" ;;
    *) echo "ERROR: invalid node id" >&2; exit 1 ;;
  esac'
  run pgha_pcp_nodes_quick pgpool0 1 2
  [[ "$status" -eq 0 && "$output" == $'0|pg0|down|standby\n1|pg1|up|primary' ]]
  run pgha_pcp_nodes_quick pgpool0 1 3
  [[ "$status" -ne 0 ]]
  stub pcp_health_check_stats 'sleep 5'
  run pgha_pcp_nodes_quick pgpool0 1 2
  [[ "$status" -ne 0 ]]
}
