#!/usr/bin/env bats
# pgha-lib.sh: secrets, collected configuration problems, pass files.

setup() {
  # shellcheck source=/dev/null
  . "$BATS_TEST_DIRNAME/../../images/postgres/bookworm/pgha-lib.sh"
  unset SECRET SECRET_FILE
}

@test "a secret comes from NAME_FILE before NAME, without its trailing newline" {
  printf 'from-file\n' >"$BATS_TEST_TMPDIR/s"
  SECRET=from-env SECRET_FILE="$BATS_TEST_TMPDIR/s"
  [[ "$(pgha_read_secret SECRET)" == from-file ]]
  unset SECRET_FILE
  [[ "$(pgha_read_secret SECRET)" == from-env ]]
  unset SECRET
  ! pgha_read_secret SECRET || false
}

@test "every problem is collected and reported at once, one line each, exit 2" {
  SECRET_FILE=/nonexistent
  pgha_check_secret SECRET required
  pgha_check_secret OTHER required 'a password'
  pgha_check_secret OPTIONAL optional
  pgha_check_port PORT abc
  pgha_check_ipv4 ADDR 10.0.0
  run pgha_report_problems pgha-test
  [[ "$status" -eq 2 ]]
  [[ "${lines[0]}" == "pgha-test: configuration error: SECRET_FILE: expected a readable file, got /nonexistent" ]]
  [[ "${lines[1]}" == "pgha-test: configuration error: OTHER: expected a password in OTHER or a file path in OTHER_FILE" ]]
  [[ "${lines[2]}" == "pgha-test: configuration error: PORT: expected a port number, got 'abc'" ]]
  [[ "${lines[3]}" == "pgha-test: configuration error: ADDR: expected an IPv4 address, got '10.0.0'" ]]
  [[ "${#lines[@]}" -eq 4 ]]
}

@test "no problem, no report" {
  SECRET=x
  pgha_check_secret SECRET required
  run pgha_report_problems pgha-test
  [[ "$status" -eq 0 && -z "$output" ]]
}

@test "pass files escape ':' and '\\' in the password, mode 0600" {
  SECRET='a:b\c'
  pgha_write_passfile "$BATS_TEST_TMPDIR/pass" '*:*:*:repl' SECRET
  [[ "$(cat "$BATS_TEST_TMPDIR/pass")" == '*:*:*:repl:a\:b\\c' ]]
  [[ "$(stat -c %a "$BATS_TEST_TMPDIR/pass")" == 600 ]]
}

@test "no secret, an empty pass file" {
  pgha_write_passfile "$BATS_TEST_TMPDIR/pass" '*:*:pgpool' SECRET
  [[ -e "$BATS_TEST_TMPDIR/pass" && ! -s "$BATS_TEST_TMPDIR/pass" ]]
}

@test "slot names keep a-z, 0-9 and _ only" {
  [[ "$(pgha_slot_name PG-Node.1)" == pg_node_1 ]]
}

@test "secrets handed to a process that cannot read their files: values exported, _FILE unset" {
  printf 'pw\n' >"$BATS_TEST_TMPDIR/s"
  export SECRET_FILE="$BATS_TEST_TMPDIR/s"
  (
    pgha_export_secrets SECRET MISSING
    [[ "$(bash -c 'echo "$SECRET|${SECRET_FILE:-unset}|${MISSING:-unset}"')" == "pw|unset|unset" ]]
  )
}

@test "refused secrets: both NAME and NAME_FILE, only a line break, an inner line break" {
  printf '\n' >"$BATS_TEST_TMPDIR/blank"
  printf 'one\ntwo\n' >"$BATS_TEST_TMPDIR/two-lines"
  printf 'ok\n' >"$BATS_TEST_TMPDIR/ok"
  BOTH=x BOTH_FILE="$BATS_TEST_TMPDIR/ok"
  BLANK_FILE="$BATS_TEST_TMPDIR/blank"
  TWO_FILE="$BATS_TEST_TMPDIR/two-lines"
  SPACES='   '
  GOOD_FILE="$BATS_TEST_TMPDIR/ok"
  for s in BOTH BLANK TWO SPACES GOOD; do pgha_check_secret "$s" required; done
  run pgha_report_problems pgha-test
  [[ "$status" -eq 2 ]]
  [[ "${lines[0]}" == "pgha-test: configuration error: BOTH: expected a value in BOTH or in the file named by BOTH_FILE, not both" ]]
  [[ "${lines[1]}" == "pgha-test: configuration error: BLANK_FILE: expected a value, found only white space" ]]
  [[ "${lines[2]}" == "pgha-test: configuration error: TWO_FILE: expected a value on one line without control characters" ]]
  [[ "${lines[3]}" == "pgha-test: configuration error: SPACES: expected a value, found only white space" ]]
  [[ "${#lines[@]}" -eq 4 ]]
}

@test "pgha_lsn_value: WAL positions as integers; anything else refused" {
  [[ "$(pgha_lsn_value 0/3000A28)" == $((16#3000A28)) ]]
  [[ "$(pgha_lsn_value 1/0)" == $((1 << 32)) ]]
  (($(pgha_lsn_value 1/10) > $(pgha_lsn_value 0/FFFFFFF0)))
  ! pgha_lsn_value "0/3000A28; rm -rf /" || false
  ! pgha_lsn_value "" || false
}

@test "POSTGRES_USER: a role name every reader takes verbatim, and not one of pgha's own roles" {
  for ok in postgres app _app app_2; do
    PGHA_PROBLEMS=()
    POSTGRES_USER=$ok pgha_check_superuser
    [[ ${#PGHA_PROBLEMS[@]} -eq 0 ]] || { echo "refused $ok: ${PGHA_PROBLEMS[*]}"; return 1; }
  done
  for bad in 'App' '2app' 'a:b' 'a b' '' "$(printf 'a%.0s' {1..64})"; do
    PGHA_PROBLEMS=()
    POSTGRES_USER=$bad pgha_check_superuser
    [[ "${PGHA_PROBLEMS[0]}" == "POSTGRES_USER: expected a role name of at most 63 lower-case letters"* ]] || { echo "accepted '$bad'"; return 1; }
  done
  for own in pgpool repl; do
    PGHA_PROBLEMS=()
    POSTGRES_USER=$own pgha_check_superuser
    [[ "${PGHA_PROBLEMS[0]}" == "POSTGRES_USER: expected a role of your own, got '$own'"* ]]
  done
  # What CREATE ROLE refuses would only fail after initdb: refused at the configuration check.
  for reserved in pg_app pg_monitor public none; do
    PGHA_PROBLEMS=()
    POSTGRES_USER=$reserved pgha_check_superuser
    [[ "${PGHA_PROBLEMS[0]}" == "POSTGRES_USER: expected a role name PostgreSQL allows ('pg_' names, public and none are reserved), got '$reserved'" ]] || { echo "accepted '$reserved'"; return 1; }
  done
  PGHA_PROBLEMS=()
  POSTGRES_USER=pgapp pgha_check_superuser
  [[ ${#PGHA_PROBLEMS[@]} -eq 0 ]]
}

@test "TLS files: both certificate and key or neither, each readable and PEM, the CA only with them; one line each" {
  local d=$BATS_TEST_TMPDIR
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=t -days 1 -keyout "$d/k.pem" -out "$d/c.pem" 2>/dev/null
  PGHA_PROBLEMS=()
  PGHA_TLS_CERT_FILE=$d/c.pem PGHA_TLS_KEY_FILE=$d/k.pem PGHA_TLS_CA_FILE=$d/c.pem pgha_check_tls
  [ "${#PGHA_PROBLEMS[@]}" -eq 0 ] || { echo "${PGHA_PROBLEMS[*]}"; false; }
  PGHA_PROBLEMS=()
  PGHA_TLS_CERT_FILE='' PGHA_TLS_KEY_FILE='' PGHA_TLS_CA_FILE='' pgha_check_tls
  [ "${#PGHA_PROBLEMS[@]}" -eq 0 ]
  PGHA_PROBLEMS=()
  PGHA_TLS_CERT_FILE=$d/missing.pem PGHA_TLS_KEY_FILE=$d/c.pem PGHA_TLS_CA_FILE='' pgha_check_tls
  [ "${PGHA_PROBLEMS[0]}" = "PGHA_TLS_CERT_FILE: expected a readable file with a PEM certificate, got $d/missing.pem (missing or unreadable)" ]
  [ "${PGHA_PROBLEMS[1]}" = "PGHA_TLS_KEY_FILE: expected a PEM private key in $d/c.pem, openssl cannot read one" ]
  PGHA_PROBLEMS=()
  PGHA_TLS_CERT_FILE=$d/c.pem PGHA_TLS_KEY_FILE='' PGHA_TLS_CA_FILE='' pgha_check_tls
  [ "${PGHA_PROBLEMS[*]}" = "PGHA_TLS_KEY_FILE: expected the server key's file with PGHA_TLS_CERT_FILE, got nothing" ]
  PGHA_PROBLEMS=()
  PGHA_TLS_CERT_FILE='' PGHA_TLS_KEY_FILE='' PGHA_TLS_CA_FILE=$d/c.pem pgha_check_tls
  [[ "${PGHA_PROBLEMS[*]}" == "PGHA_TLS_CA_FILE: expected only with PGHA_TLS_CERT_FILE and PGHA_TLS_KEY_FILE"* ]]
  # The key of another certificate: named at the check, not at the server's start.
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=o -days 1 -keyout "$d/other.key" -out "$d/other.pem" 2>/dev/null
  PGHA_PROBLEMS=()
  PGHA_TLS_CERT_FILE=$d/c.pem PGHA_TLS_KEY_FILE=$d/other.key PGHA_TLS_CA_FILE='' pgha_check_tls
  [ "${PGHA_PROBLEMS[*]}" = "PGHA_TLS_KEY_FILE: expected the private key of the certificate in $d/c.pem, $d/other.key holds another key" ]
}
