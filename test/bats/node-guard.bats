#!/usr/bin/env bats
# pgha-node never replaces the data of a running primary, nor copies from a host that does not
# answer: the guard runs before the node is held, stopped or emptied.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0
  export PGDATA="$BATS_TEST_TMPDIR/data" PGHA_COPY_LOCK="$BATS_TEST_TMPDIR/copy.lock" PGHA_PG_CTL_TIMEOUT=2
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  RUNNING=yes IN_RECOVERY=t SOURCE_UP=yes
  CALLS="$BATS_TEST_TMPDIR/calls"
  pgha_node_is_running() { [[ "$RUNNING" == yes ]]; }
  pgha_node_psql() { echo "$IN_RECOVERY"; }
  LOCAL_UP=yes
  # The local server is asked on its socket directory; any other host is the copy's source.
  pg_isready() {
    if [[ "$*" == *"-h $PGHA_POSTGRES_SOCKET_DIR "* ]]; then [[ "$LOCAL_UP" == yes ]]; else [[ "$SOURCE_UP" == yes ]]; fi
  }
  for f in pgha_node_hold pgha_node_stop_postgres pgha_node_basebackup pgha_node_configure_standby pgha_node_release pg_rewind; do
    eval "$f() { echo $f >>\"\$CALLS\"; }"
  done
  # psql runs under timeout (a program, not a function): stubbed on PATH.
  export CALLS CHECKPOINT_FAILS=""
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  printf '#!/usr/bin/env bash\necho psql >>"$CALLS"\n[[ -z "$CHECKPOINT_FAILS" ]] || { echo "permission denied to execute CHECKPOINT" >&2; exit 1; }\n' >"$BATS_TEST_TMPDIR/bin/psql"
  chmod +x "$BATS_TEST_TMPDIR/bin/psql"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

@test "a standby is rebuilt and follows, rewound when it has data" {
  echo 15 >"$PGDATA/PG_VERSION"
  run pgha_node_rebuild pg1 5432
  [[ "$status" -eq 0 ]]
  grep -qx pg_rewind "$CALLS"
  ! grep -qx pgha_node_basebackup "$CALLS" || false
  rm -f "$CALLS"
  run pgha_node_follow pg1 5432
  [[ "$status" -eq 0 ]]
  grep -qx pg_rewind "$CALLS"
}

@test "rewind or clone: an empty data directory is cloned, not rewound" {
  run pgha_node_rebuild pg1 5432
  [[ "$status" -eq 0 ]]
  grep -qx pgha_node_basebackup "$CALLS"
  ! grep -qx pg_rewind "$CALLS" || false
  [[ "$output" == *"no data directory to rewind; cloning"* ]]
}

@test "rewind or clone: the source is checkpointed before pg_rewind (a fresh promotion's timeline)" {
  echo 15 >"$PGDATA/PG_VERSION"
  run pgha_node_follow pg1 5432
  [[ "$status" -eq 0 ]]
  [[ "$(grep -E '^(psql|pg_rewind)$' "$CALLS" | paste -sd,)" == "psql,pg_rewind" ]]
}

@test "rewind or clone: a source that cannot checkpoint is cloned, never rewound onto a stale timeline" {
  echo 15 >"$PGDATA/PG_VERSION"
  CHECKPOINT_FAILS=1 run pgha_node_rebuild pg1 5432
  [[ "$status" -eq 0 ]]
  ! grep -qx pg_rewind "$CALLS" || false
  grep -qx pgha_node_basebackup "$CALLS"
  [[ "$output" == *"could not checkpoint pg1:5432 before pg_rewind"* ]]
}

@test "rewind or clone: a failed pg_rewind falls back to a clone" {
  echo 15 >"$PGDATA/PG_VERSION"
  pg_rewind() { echo pg_rewind >>"$CALLS"; echo "could not find common ancestor" >&2; return 1; }
  run pgha_node_rebuild pg1 5432
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$CALLS")" == *pg_rewind*pgha_node_basebackup* ]]
  [[ "$output" == *"pg_rewind failed; falling back to pg_basebackup"* ]]
}

@test "rewind or clone: PGHA_FORCE_BASEBACKUP=1 clones without trying pg_rewind" {
  echo 15 >"$PGDATA/PG_VERSION"
  PGHA_FORCE_BASEBACKUP=1 run pgha_node_follow pg1 5432
  [[ "$status" -eq 0 ]]
  ! grep -qx pg_rewind "$CALLS" || false
  grep -qx pgha_node_basebackup "$CALLS"
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

@test "a follow returns only once the local postgres accepts connections (pgpool attaches it next); never up: fails, named" {
  echo 15 >"$PGDATA/PG_VERSION"
  LOCAL_UP=no PGHA_PG_CTL_TIMEOUT=1 run pgha_node_follow pg1 5432
  [[ "$status" -ne 0 ]]
  [[ "$output" == *"postgres did not accept connections within 1 s after the follow"* ]]
}

@test "one copy at a time: a follow waits for a rebuild still holding the lock, and gives up at its bound" {
  echo 15 >"$PGDATA/PG_VERSION"
  # Another verb's process holds the lock for 1 s: the follow waits, then goes on.
  flock "$PGHA_COPY_LOCK" sleep 1 &
  sleep 0.2
  run pgha_node_follow pg1 5432
  wait
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"action=guard: another follow or rebuild of this node is under way: waiting for it"* ]]
  grep -qx pg_rewind "$CALLS"
  # Held longer than the bound (2 s here): refused, nothing touched.
  rm -f "$CALLS"
  flock "$PGHA_COPY_LOCK" sleep 4 &
  sleep 0.2
  run pgha_node_rebuild pg1 5432
  [[ "$status" -ne 0 ]]
  [[ "$output" == *"still runs after 2 s: refusing to replace its data meanwhile"* ]]
  [[ ! -e "$CALLS" ]]
  wait
}
