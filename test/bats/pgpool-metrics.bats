#!/usr/bin/env bats
# pgha-pgpool-metrics, a pgpool node's metrics service (postgres image): what it refuses to
# start with, how it reaches that pgpool, its health check.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pgpool0-metrics
  export PGHA_METRICS_PGPOOL=pgpool0 PGHA_PGPOOL_PORT=9999 PGHA_METRICS_PORT=9187
  printf 'secret\n' >"$BATS_TEST_TMPDIR/pgpool_password"
  export PGPOOL_PASSWORD_FILE="$BATS_TEST_TMPDIR/pgpool_password"
  printf 'queries: {}\n' >"$BATS_TEST_TMPDIR/queries.yaml"
  export PGHA_EXPORTER_QUERIES="$BATS_TEST_TMPDIR/queries.yaml"
  export PGHA_TLS_CA_FILE=
  # shellcheck source=/dev/null
  . "$CONTEXT/pgpool-metrics.sh"
}

@test "every configuration problem is reported at once, one line naming its variable, exit 2" {
  PGHA_METRICS_PGPOOL='pgpool0;id' PGHA_PGPOOL_PORT=x PGHA_METRICS_PORT='' PGHA_PGPOOL_USER='Pg Pool'
  PGPOOL_PASSWORD_FILE=/nonexistent PGHA_TLS_CA_FILE=/nonexistent/ca.crt PGHA_METRICS_CA_FILE='/run/ca copy&x=1' PGHA_EXPORTER_QUERIES=/nonexistent
  run pgha_metrics_check_config
  [[ "$status" -eq 2 ]]
  [[ "${lines[0]}" == "pgha-pgpool-metrics: configuration error: PGHA_METRICS_PGPOOL: expected the host name of the pgpool node to ask, got 'pgpool0;id'" ]]
  [[ "${lines[1]}" == "pgha-pgpool-metrics: configuration error: PGHA_PGPOOL_PORT: expected a port number, got 'x'" ]]
  [[ "${lines[2]}" == "pgha-pgpool-metrics: configuration error: PGHA_METRICS_PORT: expected a port number, got ''" ]]
  [[ "${lines[3]}" == "pgha-pgpool-metrics: configuration error: PGHA_PGPOOL_USER: expected a role name, got 'Pg Pool'" ]]
  [[ "${lines[4]}" == "pgha-pgpool-metrics: configuration error: PGPOOL_PASSWORD_FILE: expected a readable file, got /nonexistent" ]]
  [[ "${lines[5]}" == "pgha-pgpool-metrics: configuration error: PGHA_TLS_CA_FILE: expected a readable file, got /nonexistent/ca.crt" ]]
  [[ "${lines[6]}" == "pgha-pgpool-metrics: configuration error: PGHA_METRICS_CA_FILE: expected an absolute path of letters, digits and ._/-, got '/run/ca copy&x=1'" ]]
  [[ "${lines[7]}" == "pgha-pgpool-metrics: configuration error: PGHA_EXPORTER_QUERIES: expected a readable file, got /nonexistent" ]]
  [[ "${#lines[@]}" -eq 8 ]]
}

@test "a CA that is not there is named; a complete environment passes; a port beyond 65535 is refused" {
  PGHA_TLS_CA_FILE=/nonexistent/ca.crt
  run pgha_metrics_check_config
  [[ "$status" -eq 2 ]]
  [[ "$output" == "pgha-pgpool-metrics: configuration error: PGHA_TLS_CA_FILE: expected a readable file, got /nonexistent/ca.crt" ]]
  PGHA_TLS_CA_FILE=$PGHA_EXPORTER_QUERIES
  run pgha_metrics_check_config
  [[ "$status" -eq 0 && -z "$output" ]]
  PGHA_PGPOOL_PORT=99999 PGHA_CONNECT_TIMEOUT=0
  run pgha_metrics_check_config
  [[ "$status" -eq 2 ]]
  [[ "${lines[0]}" == "pgha-pgpool-metrics: configuration error: PGHA_PGPOOL_PORT: expected a port number, got '99999'" ]]
  [[ "${lines[1]}" == "pgha-pgpool-metrics: configuration error: PGHA_CONNECT_TIMEOUT: expected whole seconds from 1 to 999, got '0'" ]]
}

@test "with the cluster's CA (the postgres account's copy) the pgpool node's certificate and name are checked; without it the connection is plain" {
  [[ "$(pgha_metrics_source_uri)" == "pgpool0:9999/postgres?connect_timeout=3&sslmode=disable" ]]
  PGHA_TLS_CA_FILE=/etc/pgha/tls/ca.crt PGHA_METRICS_CA_FILE=/run/pgha/private/ca.crt
  [[ "$(pgha_metrics_source_uri)" == "pgpool0:9999/postgres?connect_timeout=3&sslmode=verify-full&sslrootcert=/run/pgha/private/ca.crt" ]]
}

@test "healthy while something accepts on the metrics port, not otherwise" {
  PGHA_METRICS_PORT=$((20000 + RANDOM % 20000))
  run pgha_metrics_health
  [[ "$status" -ne 0 ]]
  python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(5)' "$PGHA_METRICS_PORT" &
  local listener=$!
  local tries=0
  until pgha_metrics_health; do
    tries=$((tries + 1))
    [[ "$tries" -lt 20 ]]
    sleep 0.1
  done
  kill "$listener"
}

@test "an unknown command is a usage line and exit 2" {
  run pgha_metrics_main nope
  [[ "$status" -eq 2 ]]
  [[ "$output" == "usage: pgha-pgpool-metrics [run|health]" ]]
}
