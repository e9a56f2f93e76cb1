#!/usr/bin/env bats
# The primary's first initialisation (pgha_postgres_init_primary): every step after initdb
# runs with errexit on, so the first failing init script ends it even when a later one would
# pass, and a failed or cut-off initialisation leaves nothing that a later start would take
# for a finished cluster. initdb, pg_ctl and the role creation are stand-ins here; the smoke
# test runs the real ones.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE_CMD="$CONTEXT/pgha-node.sh" PGHA_NODE=pg0
  export PGHA_HOME="$BATS_TEST_TMPDIR/home" PGHA_PRIVATE_DIR="$BATS_TEST_TMPDIR/private"
  export PGDATA="$PGHA_HOME/pgdata" PGHA_INITDB_DIR="$BATS_TEST_TMPDIR/initdb.d"
  export PGHA_ROLE_FILE="$PGHA_HOME/.node_role" PGHA_INIT_MARKER="$PGHA_HOME/.pgha-initialising"
  export POSTGRES_PASSWORD=secret POSTGRES_USER=postgres POSTGRES_DB=postgres POSTGRES_INITDB_ARGS=''
  mkdir -p "$PGDATA" "$PGHA_PRIVATE_DIR" "$PGHA_INITDB_DIR"
  # shellcheck source=/dev/null
  . "$CONTEXT/entrypoint.sh"
  export RAN="$BATS_TEST_TMPDIR/ran" ROLES_STATUS=0
}

# init_primary: pgha_postgres_init_primary in a bash of its own, as the entrypoint runs it
# (bats runs a test where errexit is ignored, which would hide what is tested here).
init_primary() {
  bash -c '
    set -euo pipefail
    . "$1"
    initdb() { echo 15 >"$PGDATA/PG_VERSION"; touch "$PGDATA/postgresql.conf"; }
    pg_ctl() { echo "pg_ctl $*" >>"$RAN"; }
    pgha_postgres_create_roles() { echo roles >>"$RAN"; return "$ROLES_STATUS"; }
    pgha_postgres_init_primary
  ' init-primary "$CONTEXT/entrypoint.sh"
}

# script NAME STATUS: an executable init script that notes it ran and exits with STATUS.
script() {
  printf '#!/bin/sh\necho %s >>"%s"\nexit %s\n' "$1" "$RAN" "$2" >"$PGHA_INITDB_DIR/$1"
  chmod +x "$PGHA_INITDB_DIR/$1"
}

@test "every step passes: MASTER, the marker gone, the server stopped" {
  script 01-a.sh 0
  script 02-b.sh 0
  run init_primary
  [[ "$status" -eq 0 ]]
  [[ "$(cat "$PGHA_ROLE_FILE")" == MASTER && ! -e "$PGHA_INIT_MARKER" && -s "$PGDATA/PG_VERSION" ]]
  grep -qx roles "$RAN" && grep -qx 01-a.sh "$RAN" && grep -qx 02-b.sh "$RAN"
  [[ "$(tail -n 1 "$RAN")" == "pg_ctl -D $PGDATA -m fast -w stop" ]]
  grep -qx "max_connections = 100" "$PGDATA/pgha.conf"
}

@test "a failing init script followed by a passing one fails the initialisation, and the later one never runs" {
  script 01-bad.sh 1
  script 02-good.sh 0
  run init_primary
  [[ "$status" -eq 1 ]]
  [[ "$output" == *"action=init: ERROR: the first initialisation failed (status 1; see above); the data directory was emptied again"* ]]
  grep -qx 01-bad.sh "$RAN"
  ! grep -qx 02-good.sh "$RAN" || false
  grep -q -- "-m immediate" "$RAN"
  [[ -z "$(ls -A "$PGDATA")" && ! -e "$PGHA_INIT_MARKER" && ! -e "$PGHA_ROLE_FILE" ]]
}

@test "a failing role creation is a failed initialisation too" {
  ROLES_STATUS=3
  script 01-a.sh 0
  run init_primary
  [[ "$status" -eq 1 && "$output" == *"the first initialisation failed (status 3; see above)"* ]]
  ! grep -qx 01-a.sh "$RAN" || false
  [[ -z "$(ls -A "$PGDATA")" ]]
}

@test "an initialisation cut off (the marker left) is emptied at the next start, and said" {
  echo 15 >"$PGDATA/PG_VERSION"
  mkdir "$PGDATA/base"
  touch "$PGHA_INIT_MARKER"
  echo MASTER >"$PGHA_ROLE_FILE"
  run pgha_postgres_discard_unfinished_init
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"action=init: $PGHA_INIT_MARKER: the first initialisation of $PGDATA did not finish; emptying it to initialise again" ]]
  [[ -d "$PGDATA" && -z "$(ls -A "$PGDATA")" && ! -e "$PGHA_INIT_MARKER" && ! -e "$PGHA_ROLE_FILE" ]]
}

@test "no marker: a finished cluster is left alone" {
  echo 15 >"$PGDATA/PG_VERSION"
  echo MASTER >"$PGHA_ROLE_FILE"
  run pgha_postgres_discard_unfinished_init
  [[ "$status" -eq 0 && -z "$output" ]]
  [[ -s "$PGDATA/PG_VERSION" && -e "$PGHA_ROLE_FILE" ]]
}

@test "names PostgreSQL would refuse only after initdb are refused at the configuration check, each on its line" {
  run bash -c '. "$1"; pgha_postgres_check_config' t "$CONTEXT/entrypoint.sh"
  [[ "$status" -eq 0 ]] || { echo "$output"; false; }
  POSTGRES_USER=pg_app POSTGRES_DB=template1 PGHA_MAX_CONNECTIONS=0 run bash -c '. "$1"; pgha_postgres_check_config' t "$CONTEXT/entrypoint.sh"
  [[ "$status" -eq 2 ]]
  [[ "$output" == *"pgha-postgres: configuration error: POSTGRES_USER: expected a role name PostgreSQL allows ('pg_' names, public and none are reserved), got 'pg_app'"* ]]
  [[ "$output" == *"pgha-postgres: configuration error: POSTGRES_DB: expected a database of your own, got 'template1', which every cluster has"* ]]
  [[ "$output" == *"pgha-postgres: configuration error: PGHA_MAX_CONNECTIONS: expected a whole number from 1 to 999999999, got '0'"* ]]
}

@test "a POSTGRES_USER changed after the first initialisation has no role: said once postgres answers" {
  pgha_node_psql() { cat >/dev/null; echo "$FOUND"; }
  FOUND=0 POSTGRES_USER=app run pgha_node_check_superuser_role
  [[ "$status" -eq 0 && "$output" == *"WARNING: POSTGRES_USER=app has no role in this database cluster: POSTGRES_USER is used only at the first initialisation"* ]]
  FOUND=1 POSTGRES_USER=app run pgha_node_check_superuser_role
  [[ "$status" -eq 0 && -z "$output" ]]
  pgha_node_psql() { return 2; }
  run pgha_node_check_superuser_role
  [[ "$status" -eq 1 && -z "$output" ]]
}

@test "POSTGRES_INITDB_ARGS: options of its own pass; the data directory, superuser and authentication (any spelling) are refused, each named" {
  POSTGRES_INITDB_ARGS='--data-checksums -E UTF8 --locale=C' run bash -c '. "$1"; pgha_postgres_check_config' t "$CONTEXT/entrypoint.sh"
  [[ "$status" -eq 0 ]] || { echo "$output"; false; }
  for arg in -Atrust '-A trust' --auth=trust --auth-local=trust -Dx --pgdata=/x -Ux --username=x --pwfile=/x -W; do
    POSTGRES_INITDB_ARGS="--data-checksums $arg" run bash -c '. "$1"; pgha_postgres_check_config' t "$CONTEXT/entrypoint.sh"
    [[ "$status" -eq 2 ]] || { echo "accepted: $arg"; false; }
    [[ "$output" == *"POSTGRES_INITDB_ARGS: expected initdb options other than the data directory, the superuser and authentication (set by the image), got '${arg%% *}'"* ]]
  done
}
