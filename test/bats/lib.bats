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

@test "pgha-lib.sh brings the library's other files with it, from its own directory" {
  for fn in pgha_read_secret pgha_check_tls pgha_ssh pgha_wait_port pgha_pcp_nodes pgha_decide_promotion; do
    [[ "$(type -t "$fn")" == function ]]
  done
  [[ "$PGHA_LIB_HOME" == "$BATS_TEST_DIRNAME/../../images/postgres/bookworm" ]]
}

@test "pgha_is_sourced: true in a script that was sourced, false in one that runs" {
  local script="$BATS_TEST_TMPDIR/script.sh"
  printf '. "$1"\nif pgha_is_sourced; then echo sourced; else echo ran; fi\n' >"$script"
  local lib="$BATS_TEST_DIRNAME/../../images/postgres/bookworm/pgha-lib.sh"
  [[ "$(bash "$script" "$lib")" == ran ]]
  [[ "$(bash -c '. "$1" "$2"' _ "$script" "$lib")" == sourced ]]
  # Sourced from inside a function (bats' setup does that), and from a script that runs.
  [[ "$(bash -c 'f() { . "$1" "$2"; }; f "$@"' _ "$script" "$lib")" == sourced ]]
  printf '. "$1" "$2"\n' >"$BATS_TEST_TMPDIR/outer.sh"
  [[ "$(bash "$BATS_TEST_TMPDIR/outer.sh" "$script" "$lib")" == sourced ]]
}

@test "port numbers: 1-65535 without leading zeros, for every reader" {
  local port
  for port in 1 22 5432 65535; do pgha_is_port "$port"; done
  for port in 0 00 05432 65536 99999 123456 -1 '' ' 80' 80a; do
    if pgha_is_port "$port"; then echo "accepted '$port'"; false; fi
  done
  pgha_check_port PORT 99999
  run pgha_report_problems pgha-test
  [[ "$output" == "pgha-test: configuration error: PORT: expected a port number, got '99999'" ]]
}

@test "pgha_pcp_nodes: 'id|host|status|role' per backend, 'waiting' read as up; fails when pcp does not answer" {
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  printf '#!/usr/bin/env bash\n[[ -z "$PCP_FAILS" ]] || exit 1\necho "pg0 5432 3 0.5 down down standby standby 0 streaming async 2026-11-22 10:26:05"\necho "pg1 5432 1 0.5 waiting up primary primary 0 none none 2026-11-22 10:26:21"\necho "pg2 5432 2 0.5 up up standby standby 0 streaming async 2026-11-22 10:26:21"\n' >"$BATS_TEST_TMPDIR/bin/pcp_node_info"
  chmod +x "$BATS_TEST_TMPDIR/bin/pcp_node_info"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  [[ "$(PCP_FAILS='' pgha_pcp_nodes localhost 5)" == $'0|pg0|down|standby\n1|pg1|up|primary\n2|pg2|up|standby' ]]
  ! PCP_FAILS=1 pgha_pcp_nodes localhost 5 || false
}

@test "pgha_port_open: one try, bounded; pgha_wait_port: tries until its deadline" {
  ! pgha_port_open 127.0.0.1 1 1 || false
  local start=$SECONDS
  ! pgha_wait_port 127.0.0.1 1 1 || false
  ((SECONDS - start <= 2))
}

@test "pgha_require_vip: only the configured delegate IP, one clear line otherwise" {
  export PGHA_VIP_CONF="$BATS_TEST_TMPDIR/vip.conf" PGHA_NODE=pgpool0
  run pgha_require_vip vip-up 172.30.0.100
  [[ "$status" -eq 1 && "$output" == *"action=vip-up: ERROR: $PGHA_VIP_CONF is missing: the watchdog is off or the entrypoint did not run" ]]
  printf 'delegate_ip=172.30.0.100\nprefix=24\ndevice=eth0\n' >"$PGHA_VIP_CONF"
  pgha_require_vip vip-up 172.30.0.100
  [[ "$PGHA_VIP_CONF_DEVICE" == eth0 ]]
  run pgha_require_vip garp 172.30.0.101
  [[ "$status" -eq 1 && "$output" == *"action=garp: ERROR: expected the configured delegate IP 172.30.0.100, got '172.30.0.101'" ]]
  run pgha_require_vip garp '172.30.0.100;id'
  [[ "$status" -eq 1 && "$output" == *"action=garp: ERROR: expected an IPv4 address, got '172.30.0.100;id'" ]]
}
