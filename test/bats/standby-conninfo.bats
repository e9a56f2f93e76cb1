#!/usr/bin/env bats
# pgha_node_configure_standby (node-copy.sh): the standby's stream is bounded within
# PGHA_REPLICATION_TIMEOUT_SECONDS, so a stream a cut stalled is dropped and made again instead
# of waiting out TCP's retransmission back-off; libpq reads every key it is given.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg1 PGHA_REPLICATION_USER=repl
  export PGDATA="$BATS_TEST_TMPDIR/data" PGHA_ROLE_FILE="$BATS_TEST_TMPDIR/role" PGHA_PGPASS_FILE=/run/pgha/private/pgpass
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
}

conninfo() { sed -n "s/^primary_conninfo = '\(.*\)'$/\1/p" "$PGDATA/postgresql.auto.conf"; }

@test "the default bound (10 s): unacknowledged data and a silent link within about 10 s, a blocking connect within 5 s" {
  export PGHA_REPLICATION_TIMEOUT_SECONDS=10
  pgha_node_configure_standby pg0 5432
  [[ "$(conninfo)" == "host=pg0 port=5432 user=repl application_name=pg1 passfile=/run/pgha/private/pgpass connect_timeout=5 tcp_user_timeout=10000 keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3" ]]
  [[ -e "$PGDATA/standby.signal" && "$(cat "$PGHA_ROLE_FILE")" == BACKUP ]]
}

@test "a bound of 1 s keeps every value a whole number libpq accepts (none 0, which would mean no bound)" {
  export PGHA_REPLICATION_TIMEOUT_SECONDS=1
  pgha_node_configure_standby pg0 5432
  [[ "$(conninfo)" == *" connect_timeout=1 tcp_user_timeout=1000 keepalives=1 keepalives_idle=1 keepalives_interval=1 keepalives_count=3" ]]
}

@test "libpq parses the connection string as written (conninfo_parse through psql, no server needed)" {
  export PGHA_REPLICATION_TIMEOUT_SECONDS=10
  pgha_node_configure_standby 127.0.0.1 1
  # An unknown key or a bad value is refused before any connect; a good string fails only at the connect.
  run psql -X -At -d "$(conninfo)" -c 'SELECT 1'
  [[ "$status" -ne 0 ]]
  [[ "$output" != *"invalid connection option"* && "$output" != *"invalid integer value"* && "$output" != *"invalid value"* ]]
  [[ "$output" == *"127.0.0.1"* ]]
}
