#!/usr/bin/env bats
# The postgres image refuses, with one line and without a restart loop, a data directory made
# by another PostgreSQL major (pgha_node_data_major_problem, pgha_postgres_idle): what a
# `pgha bump --allow-major` rollout meets on volumes that were not upgraded.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE_CMD="$CONTEXT/pgha-node.sh"
  export PGDATA="$BATS_TEST_TMPDIR/data" PG_MAJOR=16
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/entrypoint.sh"
}

@test "a data directory of the image's major passes, as does a new empty one" {
  run pgha_node_data_major_problem
  [[ "$status" -eq 0 && -z "$output" ]]
  echo 16 >"$PGDATA/PG_VERSION"
  run pgha_node_data_major_problem
  [[ "$status" -eq 0 && -z "$output" ]]
}

@test "a data directory of another major is refused in one line naming both majors" {
  echo 15 >"$PGDATA/PG_VERSION"
  run pgha_node_data_major_problem
  [[ "$status" -eq 0 ]]
  [[ "$output" == "$PGDATA holds a PostgreSQL 15 database cluster and this image runs PostgreSQL 16: postgres is not started; upgrade the data directory (pg_upgrade, or dump and restore) or run the image of its major" ]]
}

@test "a PG_VERSION that is a link is not read (root reads it at start; postgres owns the directory)" {
  echo 'secret of root' >"$BATS_TEST_TMPDIR/elsewhere"
  ln -s "$BATS_TEST_TMPDIR/elsewhere" "$PGDATA/PG_VERSION"
  run pgha_node_data_major_problem
  [[ "$status" -eq 0 && -z "$output" ]]
}

@test "idle keeps running until TERM, then ends with status 0 at once (docker stop, no restart loop)" {
  pgha_postgres_idle &
  pid=$!
  sleep 0.3
  kill -0 "$pid"
  sleeper=$(pgrep -P "$pid" sleep)
  [[ -n "$sleeper" ]]
  kill -TERM "$pid"
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  ! kill -0 "$pid" 2>/dev/null || false
  wait "$pid"
  # Its sleep went with it (it would hold the output open for an hour): gone, or a zombie
  # its new parent has not reaped yet.
  gone() { [[ ! -e "/proc/$sleeper" ]] || [[ "$(awk '{print $3}' "/proc/$sleeper/stat" 2>/dev/null)" == Z ]]; }
  for _ in $(seq 40); do gone && break; sleep 0.05; done
  gone
}
