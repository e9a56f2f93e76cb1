#!/usr/bin/env bats
# The images' HEALTHCHECK decisions: pgha-node health (postgres) and entrypoint.sh health
# (pgpool), with psql, pcp_watchdog_info and the port probe replaced by stand-ins.

setup() {
  PG="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  POOL="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  export PGHA_LIB="$PG/pgha-lib.sh" PGHA_HOME="$BATS_TEST_TMPDIR" PGHA_HOLD_MARKER="$BATS_TEST_TMPDIR/.do_not_start"
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  # psql stand-in: prints $PSQL_OUT, fails when PSQL_FAILS is set.
  printf '#!/usr/bin/env bash\n[[ -z "$PSQL_FAILS" ]] || { echo "psql: error: connection to server failed" >&2; exit 2; }\necho "$PSQL_OUT"\n' >"$BATS_TEST_TMPDIR/bin/psql"
  # pcp_watchdog_info stand-in: this node (pgpool1) in state $WD_STATE among others.
  printf '#!/usr/bin/env bash\n[[ -n "$WD_STATE" ]] || exit 1\nprintf "Watchdog Cluster Information\\nTotal Nodes : 3\\n\\nNode Name : pgpool0:9999 Linux pgpool0\\nHost Name : pgpool0\\nStatus Name : LEADER\\n\\nNode Name : pgpool1:9999 Linux pgpool1\\nHost Name : pgpool1\\nStatus Name : %%s\\n" "$WD_STATE"\n' >"$BATS_TEST_TMPDIR/bin/pcp_watchdog_info"
  chmod +x "$BATS_TEST_TMPDIR/bin/"*
  export PSQL_FAILS="" PSQL_OUT="primary" WD_STATE=STANDBY PORT_OPEN=yes
}

# The stand-ins go first on PATH after sourcing (pgha-env.sh puts the PostgreSQL bin directory first).
node_health() { run bash -c '. "$1/pgha-node.sh"; PATH="$2:$PATH"; id() { echo 70; }; pgha_node_health' _ "$PG" "$BATS_TEST_TMPDIR/bin"; }

@test "postgres: a primary and a streaming standby are healthy" {
  node_health
  [[ "$status" -eq 0 && "$output" == primary ]]
  PSQL_OUT="standby, streaming" node_health
  [[ "$status" -eq 0 && "$output" == "standby, streaming" ]]
}

@test "postgres: a standby that does not stream, a server that does not answer, a held node are not" {
  PSQL_OUT="standby, not streaming" node_health
  [[ "$status" -ne 0 && "$output" == "standby, not streaming" ]]
  PSQL_FAILS=1 node_health
  [[ "$status" -ne 0 && "$output" == "postgres does not answer: psql: error: connection to server failed" ]]
  touch "$PGHA_HOLD_MARKER"
  node_health
  [[ "$status" -ne 0 && "$output" == "held: $PGHA_HOLD_MARKER present"* ]]
}

@test "postgres: a node still held after failed rebuild requests says why" {
  export PGHA_HELD_WHY_FILE="$BATS_TEST_TMPDIR/held-why"
  touch "$PGHA_HOLD_MARKER"
  echo 'pcp_recovery_node -n 0 at 10.0.0.1 failed 7 times; last: ERROR: no primary' >"$PGHA_HELD_WHY_FILE"
  node_health
  [[ "$status" -ne 0 && "$output" == "held: pcp_recovery_node -n 0 at 10.0.0.1 failed 7 times; last: ERROR: no primary" ]]
  # A link planted in its place is not followed.
  rm "$PGHA_HELD_WHY_FILE" && ln -s /etc/shadow "$PGHA_HELD_WHY_FILE"
  node_health
  [[ "$status" -ne 0 && "$output" == "held: $PGHA_HOLD_MARKER present"* ]]
}

@test "postgres: a data directory of another major is unhealthy, and says so" {
  mkdir -p "$BATS_TEST_TMPDIR/data"
  echo 14 >"$BATS_TEST_TMPDIR/data/PG_VERSION"
  PG_MAJOR=15 PGDATA="$BATS_TEST_TMPDIR/data" node_health
  [[ "$status" -ne 0 && "$output" == "refused: $BATS_TEST_TMPDIR/data holds a PostgreSQL 14 database cluster and this image runs PostgreSQL 15: postgres is not started;"* ]]
  echo 15 >"$BATS_TEST_TMPDIR/data/PG_VERSION"
  PG_MAJOR=15 PGDATA="$BATS_TEST_TMPDIR/data" node_health
  [[ "$status" -eq 0 && "$output" == primary ]]
}

pool_health() {
  run bash -c '
    PGHA_LIB=$1/pgha-lib.sh
    . "$1/entrypoint.sh"
    PATH="$3:$PATH" PGHA_NODE=pgpool1 PGHA_VIP_CONF=$2
    # The port probe: open or closed as the test says; anything else runs as it is.
    timeout() { if [[ "$*" == *"/dev/tcp/"* ]]; then [[ "$PORT_OPEN" == yes ]]; else shift; "$@"; fi; }
    pgha_pgpool_health' _ "$POOL" "${VIP_CONF:-$BATS_TEST_TMPDIR/vip.conf}" "$BATS_TEST_TMPDIR/bin"
}

@test "pgpool: answering and a joined watchdog member (leader or standby) is healthy" {
  touch "$BATS_TEST_TMPDIR/vip.conf"
  pool_health
  [[ "$status" -eq 0 && "$output" == *"watchdog STANDBY" ]]
  WD_STATE=LEADER pool_health
  [[ "$status" -eq 0 && "$output" == *"watchdog LEADER" ]]
}

@test "pgpool: a lost or joining watchdog member, a silent watchdog, a closed port are not" {
  touch "$BATS_TEST_TMPDIR/vip.conf"
  WD_STATE=LOST pool_health
  [[ "$status" -ne 0 && "$output" == *"its watchdog is LOST (not a joined member)" ]]
  WD_STATE=JOINING pool_health
  [[ "$status" -ne 0 ]]
  WD_STATE="" pool_health
  [[ "$status" -ne 0 && "$output" == *"its watchdog is not answering"* ]]
  PORT_OPEN=no pool_health
  [[ "$status" -ne 0 && "$output" == "pgpool does not accept connections on port"* ]]
}

@test "pgpool without a watchdog: answering is enough" {
  VIP_CONF="$BATS_TEST_TMPDIR/none" WD_STATE="" pool_health
  [[ "$status" -eq 0 && "$output" == *"(no watchdog)" ]]
}

# The checks under an orchestrator: alive (processes run), never the role.
node_alive() { run bash -c '. "$1/pgha-node.sh"; timeout() { if [[ "$*" == *"/dev/tcp/"* ]]; then [[ "$PORT_OPEN" == yes ]]; else shift; "$@"; fi; }; pgha_node_alive "${PID1:-supervisord}"' _ "$PG"; }

@test "postgres alive: sshd answering is enough; a held node is alive and says it is held" {
  PSQL_FAILS=1 node_alive
  [[ "$status" -eq 0 && "$output" == alive ]]
  touch "$PGHA_HOLD_MARKER"
  node_alive
  [[ "$status" -eq 0 && "$output" == "alive (held: postgres stays down until this node is rebuilt or released)" ]]
  PORT_OPEN=no node_alive
  [[ "$status" -ne 0 && "$output" == "not alive: sshd does not answer on port 2222" ]]
  # Before supervisord: the entrypoint (PID 1) waits or makes the first copy; no sshd yet.
  PORT_OPEN=no PID1=entrypoint.sh node_alive
  [[ "$status" -eq 0 && "$output" == "alive (starting: the entrypoint runs as PID 1; sshd starts with supervisord)" ]]
}

pool_alive() {
  run bash -c 'PGHA_LIB=$1/pgha-lib.sh; . "$1/entrypoint.sh"; pgha_process_running() { [[ "$1" == pgpool && -n "$PGPOOL_RUNS" ]]; }; pgha_pgpool_alive' _ "$POOL"
}

@test "pgpool alive: a pgpool process, joined or not; none is not alive" {
  WD_STATE=JOINING PGPOOL_RUNS=1 pool_alive
  [[ "$status" -eq 0 && "$output" == "alive: pgpool runs" ]]
  PGPOOL_RUNS="" pool_alive
  [[ "$status" -ne 0 && "$output" == "not alive: no pgpool process" ]]
}

@test "pgha_process_running reads command names from /proc" {
  mkdir -p "$BATS_TEST_TMPDIR/proc/12" "$BATS_TEST_TMPDIR/proc/345" "$BATS_TEST_TMPDIR/proc/self"
  echo sshd >"$BATS_TEST_TMPDIR/proc/12/comm"
  echo pgpool >"$BATS_TEST_TMPDIR/proc/345/comm"
  echo pgpool >"$BATS_TEST_TMPDIR/proc/self/comm"
  run bash -c '. "$1/pgha-lib.sh"; pgha_process_running pgpool "$2"' _ "$POOL" "$BATS_TEST_TMPDIR/proc"
  [[ "$status" -eq 0 ]]
  rm "$BATS_TEST_TMPDIR/proc/345/comm"
  # Only numbered entries are processes.
  run bash -c '. "$1/pgha-lib.sh"; pgha_process_running pgpool "$2"' _ "$POOL" "$BATS_TEST_TMPDIR/proc"
  [[ "$status" -ne 0 ]]
  # And the real /proc: this very shell.
  run bash -c '. "$1/pgha-lib.sh"; pgha_process_running bash' _ "$POOL"
  [[ "$status" -eq 0 ]]
}
