#!/usr/bin/env bats
# The lease on a postgres node's data volume: the entrypoint holds an exclusive lock on the
# volume for the container's life; a second container of the same node (an orchestrator's new
# task while the old one runs) waits, says so, and touches nothing until the first is gone.

setup() {
  PG="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$PG/pgha-lib.sh" PGHA_NODE_CMD="$PG/pgha-node.sh" PGHA_HOME="$BATS_TEST_TMPDIR/volume" PGHA_LEASE_LOG_SECONDS=1 PGHA_NODE=pg0
  mkdir -p "$PGHA_HOME"
}

# wait_held: until the holder has the lease (at most 10 s).
wait_held() {
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -e "$BATS_TEST_TMPDIR/held" ]] && return 0
    sleep 0.1
  done
  echo "the holder never took the lease: $(cat "$BATS_TEST_TMPDIR/holder.log" 2>/dev/null)"
  return 1
}

# holder SECONDS: a first container holding the lease for SECONDS (its log in holder.log).
holder() {
  bash -c '. "$1/entrypoint.sh"; pgha_postgres_take_lease; touch "$2/held"; sleep "$3"' _ "$PG" "$BATS_TEST_TMPDIR" "$1" 2>"$BATS_TEST_TMPDIR/holder.log" &
  wait_held
}

@test "a lone container takes the lease at once" {
  run bash -c '. "$1/entrypoint.sh"; pgha_postgres_take_lease' _ "$PG"
  [[ "$status" -eq 0 && "$output" == *"action=lease: took the lease on the data volume $PGHA_HOME" ]]
}

@test "a second container waits while the first holds the lease, says so, and takes it once the first is gone" {
  holder 3
  local started=$SECONDS
  run bash -c '. "$1/entrypoint.sh"; pgha_postgres_take_lease; echo "took it at $SECONDS"' _ "$PG"
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"another container holds the lease on the data volume $PGHA_HOME: waiting for it to end before touching the data"* ]]
  [[ "$output" == *"still waiting for the lease on $PGHA_HOME (1 s)"* ]]
  [[ "$output" == *"took the lease on the data volume $PGHA_HOME after waiting at least"* ]]
  # It waited for the holder (about 3 s), not less.
  ((SECONDS - started >= 2))
  wait
}

@test "the lease stays held across exec, as the entrypoint's exec into supervisord keeps it" {
  bash -c '. "$1/entrypoint.sh"; pgha_postgres_take_lease; touch "$2/held"; exec sleep 3' _ "$PG" "$BATS_TEST_TMPDIR" 2>/dev/null &
  wait_held
  run flock -n "$PGHA_HOME" true
  [[ "$status" -ne 0 ]]
  wait
  run flock -n "$PGHA_HOME" true
  [[ "$status" -eq 0 ]]
}
