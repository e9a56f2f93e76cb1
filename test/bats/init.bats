#!/usr/bin/env bats
# pgha-init, the init service of a cluster's compose file: the secrets and SSH material it
# makes in a deploy directory, what it keeps across runs, whom the files belong to, and that
# it writes nothing through a link.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=init
  export PGHA_INIT_DIR="$BATS_TEST_TMPDIR/deploy"
  mkdir "$PGHA_INIT_DIR"
  export PGHA_POSTGRES_PEERS=pg0,pg1 PGHA_PGPOOL_PEERS=pgpool0,pgpool1
  export PGHA_CLUSTER_SUBNET=172.30.0.0/24 PGHA_SSH_PORT=2222
  export PGHA_INIT_SECRETS=postgres_password,wd_authkey
  export PGHA_SSH_ACCESS="pg0:pgpool0:pgpool pg0:pgpool1:pgpool pg0:pg1:postgres pg1:pgpool0:pgpool pg1:pgpool1:pgpool pg1:pg0:postgres pgpool0:pgpool1:pgpool pgpool1:pgpool0:pgpool"
}

init() { run bash "$CONTEXT/pgha-init.sh"; }
# hand_to UID:GID: the deploy directory to another owner, who can reach it (bats's directories
# are root's, 0700), as a user's own directory is.
hand_to() {
  local d=$PGHA_INIT_DIR
  chown "$1" "$d"
  while d=$(dirname "$d") && [[ "$d" == "$BATS_RUN_TMPDIR"* ]]; do chmod o+x "$d"; done
}
pub() { cut -d' ' -f1,2 "$PGHA_INIT_DIR/ssh/$1/$2.pub"; }
mode() { stat -c %a "$1"; }

@test "every configuration problem is reported at once, one line naming its variable, exit 2, nothing written" {
  PGHA_PGPOOL_PEERS='' PGHA_CLUSTER_SUBNET=samenet PGHA_INIT_SECRETS='../x' \
    PGHA_SSH_ACCESS='pg0:pgpool0:root pg0:nowhere:pgpool' init
  [ "$status" -eq 2 ]
  [[ "$output" == *"PGHA_PGPOOL_PEERS: expected the cluster's node names"* ]]
  [[ "$output" == *"PGHA_CLUSTER_SUBNET: expected the cluster network as a CIDR"*"got 'samenet'"* ]]
  [[ "$output" == *"PGHA_INIT_SECRETS: expected file names"*"got '../x'"* ]]
  [[ "$output" == *"PGHA_SSH_ACCESS: expected NODE:CALLER:pgpool|postgres entries"*"'pg0:pgpool0:root'"* ]]
  [[ "$output" == *"PGHA_SSH_ACCESS: expected nodes of PGHA_POSTGRES_PEERS or PGHA_PGPOOL_PEERS, got 'nowhere'"* ]]
  [ "$(printf '%s\n' "$output" | grep -c 'configuration error')" -eq 5 ]
  [ -z "$(ls -A "$PGHA_INIT_DIR")" ]
}

@test "a first run makes random secrets and every node's keys; authorized_keys follows PGHA_SSH_ACCESS, known_hosts pins every host key" {
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"secrets made in secrets/: postgres_password,wd_authkey"* ]]
  [[ "$output" == *"SSH host and client keys made in ssh/ for pg0,pg1,pgpool0,pgpool1"* ]]
  local pw
  pw=$(cat "$PGHA_INIT_DIR/secrets/postgres_password")
  [[ "$pw" =~ ^[A-Za-z0-9_-]{32}$ ]]
  [ "$pw" != "$(cat "$PGHA_INIT_DIR/secrets/wd_authkey")" ]
  [ "$(mode "$PGHA_INIT_DIR/secrets")" = 700 ]
  [ "$(mode "$PGHA_INIT_DIR/secrets/postgres_password")" = 600 ]
  for f in ssh_host_ed25519_key id_ed25519 authorized_keys known_hosts; do [ "$(mode "$PGHA_INIT_DIR/ssh/pg0/$f")" = 600 ]; done
  # pg0: both pgpool nodes as pgpool, pg1 as postgres; each restricted, from the subnet, forced.
  local line=('restrict,from="172.30.0.0/24",command="/usr/local/lib/pgha/ssh-command'
  )
  mapfile -t keys <"$PGHA_INIT_DIR/ssh/pg0/authorized_keys"
  [ "${#keys[@]}" -eq 3 ]
  [ "${keys[0]}" = "${line[0]} pgpool\" $(pub pgpool0 id_ed25519) postgres@pgpool0" ]
  [ "${keys[2]}" = "${line[0]} postgres\" $(pub pg1 id_ed25519) postgres@pg1" ]
  # a pgpool node: only the other pgpool node.
  [ "$(cat "$PGHA_INIT_DIR/ssh/pgpool0/authorized_keys")" = "${line[0]} pgpool\" $(pub pgpool1 id_ed25519) postgres@pgpool1" ]
  mapfile -t known <"$PGHA_INIT_DIR/ssh/pgpool1/known_hosts"
  [ "${#known[@]}" -eq 4 ]
  [ "${known[1]}" = "[pg1]:2222 $(pub pg1 ssh_host_ed25519_key)" ]
  ssh-keygen -l -f "$PGHA_INIT_DIR/ssh/pg1/id_ed25519" >/dev/null
}

@test "a second run keeps every secret and key; a node added later gets keys and is learned by every node" {
  init
  [ "$status" -eq 0 ]
  local pw key
  pw=$(cat "$PGHA_INIT_DIR/secrets/postgres_password")
  key=$(cat "$PGHA_INIT_DIR/ssh/pg0/id_ed25519")
  PGHA_POSTGRES_PEERS=pg0,pg1,pg2 PGHA_SSH_ACCESS="$PGHA_SSH_ACCESS pg2:pgpool0:pgpool pg0:pg2:postgres" init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" != *"secrets made"* ]]
  [[ "$output" == *"keys made in ssh/ for pg2;"* ]]
  [ "$(cat "$PGHA_INIT_DIR/secrets/postgres_password")" = "$pw" ]
  [ "$(cat "$PGHA_INIT_DIR/ssh/pg0/id_ed25519")" = "$key" ]
  grep -qF "[pg2]:2222 $(pub pg2 ssh_host_ed25519_key)" "$PGHA_INIT_DIR/ssh/pgpool0/known_hosts"
  grep -qF "postgres\" $(pub pg2 id_ed25519) postgres@pg2" "$PGHA_INIT_DIR/ssh/pg0/authorized_keys"
}

@test "everything belongs to the owner of the deploy directory, so the user who started compose reads the passwords" {
  [[ $EUID -eq 0 ]] || skip "needs root to hand files to another owner"
  hand_to 4321:4322
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -z "$(find "$PGHA_INIT_DIR" ! \( -uid 4321 -gid 4322 \))" ] || { find "$PGHA_INIT_DIR" -printf '%u:%g %p\n'; false; }
  [[ "$output" == *"(owner 4321:4322)"* ]]
}

@test "a link planted in the deploy directory is never written through" {
  local outside="$BATS_TEST_TMPDIR/outside"
  mkdir "$outside"
  echo untouched >"$outside/target"
  # A link in place of the secrets directory: refused, nothing made behind it.
  ln -s "$outside" "$PGHA_INIT_DIR/secrets"
  init
  [ "$status" -ne 0 ]
  [[ "$output" == *"secrets: expected a directory in the deploy directory, found a link or a file"* ]]
  [ "$(ls "$outside")" = target ]
  # A link in place of a file that is rewritten: replaced by the file, its target unchanged.
  rm "$PGHA_INIT_DIR/secrets"
  mkdir -p "$PGHA_INIT_DIR/ssh/pg0"
  ln -s "$outside/target" "$PGHA_INIT_DIR/ssh/pg0/authorized_keys"
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ ! -L "$PGHA_INIT_DIR/ssh/pg0/authorized_keys" ]
  [ "$(cat "$outside/target")" = untouched ]
}

@test "TLS on: a dev CA and a server certificate for PGHA_TLS_SAN that verifies against it; the CA's key stays out of tls/" {
  export PGHA_INIT_TLS=on PGHA_TLS_SAN=DNS:pg0,DNS:pgpool0,IP:172.30.0.100,IP:127.0.0.1
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"TLS: dev CA made"* && "$output" == *"TLS: server certificate for $PGHA_TLS_SAN made"* ]]
  local d=$PGHA_INIT_DIR
  openssl verify -CAfile "$d/ca/ca.crt" "$d/tls/server.crt"
  [ "$(ls "$d/tls" | sort | tr '\n' ' ')" = "ca.crt server.crt server.key server.san " ]
  cmp "$d/ca/ca.crt" "$d/tls/ca.crt"
  local san
  san=$(openssl x509 -noout -ext subjectAltName -in "$d/tls/server.crt" | tail -1 | tr -d ' ')
  [ "$san" = "DNS:pg0,DNS:pgpool0,IPAddress:172.30.0.100,IPAddress:127.0.0.1" ] || { echo "$san"; false; }
  openssl x509 -noout -ext extendedKeyUsage -in "$d/tls/server.crt" | grep -q "TLS Web Server Authentication"
  # The key matches the certificate.
  [ "$(openssl pkey -in "$d/tls/server.key" -pubout)" = "$(openssl x509 -in "$d/tls/server.crt" -noout -pubkey)" ]
  for f in ca/ca.key ca/ca.crt tls/server.key tls/server.crt; do [ "$(mode "$d/$f")" = 600 ]; done
}

@test "TLS: a second run keeps the CA and the certificate; a changed name list issues a new certificate from the same CA" {
  export PGHA_INIT_TLS=on PGHA_TLS_SAN=DNS:pg0,IP:127.0.0.1
  init
  [ "$status" -eq 0 ]
  local d=$PGHA_INIT_DIR ca cert
  ca=$(cat "$d/ca/ca.crt")
  cert=$(cat "$d/tls/server.crt")
  init
  [ "$status" -eq 0 ]
  [[ "$output" != *"TLS:"* ]]
  [ "$(cat "$d/tls/server.crt")" = "$cert" ]
  PGHA_TLS_SAN=DNS:pg0,DNS:pg1,IP:127.0.0.1 init
  [ "$status" -eq 0 ]
  [[ "$output" == *"TLS: server certificate for DNS:pg0,DNS:pg1,IP:127.0.0.1 made"* && "$output" != *"dev CA made"* ]]
  [ "$(cat "$d/ca/ca.crt")" = "$ca" ]
  [ "$(cat "$d/tls/server.crt")" != "$cert" ]
  openssl verify -CAfile "$d/ca/ca.crt" "$d/tls/server.crt"
}

@test "TLS settings are checked with the rest: an unknown switch, a name list entry that is neither DNS: nor IP:" {
  PGHA_INIT_TLS=yes init
  [ "$status" -eq 2 ]
  [[ "$output" == *"PGHA_INIT_TLS: expected on or off, got 'yes'"* ]]
  PGHA_INIT_TLS=on PGHA_TLS_SAN='DNS:pg0,URI:x,IP:300.1.1.1' init
  [ "$status" -eq 2 ]
  [[ "$output" == *"PGHA_TLS_SAN: expected DNS:name or IP:address entries separated by commas, got 'URI:x'"* ]]
  [[ "$output" == *"got 'IP:300.1.1.1'"* ]]
  [ -z "$(ls -A "$PGHA_INIT_DIR")" ]
}

@test "a deploy directory everyone can write to is refused (they could swap secrets/ for their own); group write (umask 002) is not" {
  chmod 0777 "$PGHA_INIT_DIR"
  init
  [ "$status" -eq 2 ]
  [[ "$output" == *"PGHA_INIT_DIR: expected a deploy directory that not everyone can write to, got mode 777 on $PGHA_INIT_DIR (chmod o-w it)"* ]]
  [ -z "$(ls -A "$PGHA_INIT_DIR")" ]
  chmod 0775 "$PGHA_INIT_DIR"
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "files are written with the owner's rights, not root's, and what the run keeps must be the owner's" {
  [[ $EUID -eq 0 ]] || skip "needs root to hand files to another owner"
  hand_to 4321:4322
  # secrets/ the owner cannot write to: root could, the owner's process cannot, so nothing is made.
  mkdir -m 0500 "$PGHA_INIT_DIR/secrets"
  chown 4321:4322 "$PGHA_INIT_DIR/secrets"
  init
  [ "$status" -ne 0 ]
  [[ "$output" == *"secrets/postgres_password: could not be written"* ]]
  [ -z "$(ls -A "$PGHA_INIT_DIR/secrets")" ]
  # A secret someone else (root) put there is not trusted.
  chmod 0700 "$PGHA_INIT_DIR/secrets"
  echo chosen-by-someone-else >"$PGHA_INIT_DIR/secrets/postgres_password"
  init
  [ "$status" -ne 0 ]
  [[ "$output" == *"secrets/postgres_password: expected it to belong to the deploy directory's owner (uid 4321), it belongs to uid 0; move it away to have it made again"* ]]
  rm "$PGHA_INIT_DIR/secrets/postgres_password"
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -z "$(find "$PGHA_INIT_DIR" ! \( -uid 4321 -gid 4322 \))" ]
}

@test "an interrupted run is repaired: an empty public key is derived again from its private key, never trusted as empty" {
  init
  [ "$status" -eq 0 ]
  local want
  want=$(pub pg1 id_ed25519)
  : >"$PGHA_INIT_DIR/ssh/pg1/id_ed25519.pub"
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(pub pg1 id_ed25519)" = "$want" ]
  grep -qF "postgres\" $want postgres@pg1" "$PGHA_INIT_DIR/ssh/pg0/authorized_keys"
  # Every authorized_keys line carries a key.
  ! grep -h . "$PGHA_INIT_DIR"/ssh/*/authorized_keys | grep -v ' ssh-ed25519 [A-Za-z0-9+/]\{60,\}=* postgres@' || false
}

@test "a private key ssh-keygen cannot read stops the run with one line; the files made from the keys are left as they were" {
  init
  [ "$status" -eq 0 ]
  local before
  before=$(cat "$PGHA_INIT_DIR/ssh/pg0/authorized_keys")
  echo garbage >"$PGHA_INIT_DIR/ssh/pgpool1/id_ed25519"
  init
  [ "$status" -ne 0 ]
  [[ "$output" == *"ssh/pgpool1/id_ed25519: expected a private key ssh-keygen can read; remove it and id_ed25519.pub to have a new pair made"* ]]
  [ "$(cat "$PGHA_INIT_DIR/ssh/pg0/authorized_keys")" = "$before" ]
}

@test "a file whose making fails is not placed: pgha_init_write stops on the first failing step of a function" {
  run bash -c '
    set -euo pipefail
    . "$1"
    PGHA_INIT_UID=$(id -u) PGHA_INIT_GID=$(id -g) PGHA_INIT_WORK=$(mktemp -d)
    half() { echo "first line"; false; echo "never"; }
    pgha_init_write "$PGHA_INIT_DIR/out" 0600 half
  ' t "$CONTEXT/pgha-init.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"action=init: ERROR: out: not written: making it failed (status 1)"* ]]
  [ ! -e "$PGHA_INIT_DIR/out" ]
  [ -z "$(ls -A "$PGHA_INIT_DIR")" ]
}

@test "TLS material repairs itself: a missing key, a changed CA, a lost name list, an expiring certificate each issue again" {
  export PGHA_INIT_TLS=on PGHA_TLS_SAN=DNS:pg0,IP:127.0.0.1
  local d=$PGHA_INIT_DIR cert ca
  init
  [ "$status" -eq 0 ]
  cert=$(cat "$d/tls/server.crt")
  ca=$(cat "$d/ca/ca.crt")
  # The server key lost (an interrupted run): issued again from the same CA.
  rm "$d/tls/server.key"
  init
  [ "$status" -eq 0 ] && [[ "$output" == *"TLS: server certificate for"*"made"* && "$output" != *"dev CA made"* ]]
  [ "$(cat "$d/tls/server.crt")" != "$cert" ] && [ "$(cat "$d/ca/ca.crt")" = "$ca" ]
  [ "$(openssl pkey -in "$d/tls/server.key" -pubout)" = "$(openssl x509 -in "$d/tls/server.crt" -noout -pubkey)" ]
  # server.san missing (written last): issued again.
  cert=$(cat "$d/tls/server.crt")
  rm "$d/tls/server.san"
  init
  [ "$status" -eq 0 ] && [ "$(cat "$d/tls/server.crt")" != "$cert" ]
  # The CA's certificate replaced by another's: the pair is broken, a new CA, a new server certificate.
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=other -days 1 -keyout /dev/null -out "$d/ca/ca.crt" 2>/dev/null
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"ca/ca.key and ca/ca.crt are not a valid pair"* && "$output" == *"TLS: dev CA made"* ]]
  openssl verify -CAfile "$d/ca/ca.crt" "$d/tls/server.crt"
  cmp "$d/ca/ca.crt" "$d/tls/ca.crt"
  # A server certificate that ends within 30 days: issued again.
  openssl x509 -req -days 5 -in <(openssl req -new -key "$d/tls/server.key" -subj /CN=pgha 2>/dev/null) \
    -CA "$d/ca/ca.crt" -CAkey "$d/ca/ca.key" -out "$d/tls/server.crt" 2>/dev/null
  cert=$(cat "$d/tls/server.crt")
  init
  [ "$status" -eq 0 ] && [ "$(cat "$d/tls/server.crt")" != "$cert" ]
  openssl x509 -noout -checkend 2592000 -in "$d/tls/server.crt"
}

@test "metrics on: metrics/ holds the pgpool password and, with TLS, the CA certificate, nothing else; rewritten every run, never through a link" {
  export PGHA_INIT_METRICS=on PGHA_INIT_SECRETS=postgres_password,pgpool_password
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(ls "$PGHA_INIT_DIR/metrics")" = pgpool_password ]
  cmp "$PGHA_INIT_DIR/secrets/pgpool_password" "$PGHA_INIT_DIR/metrics/pgpool_password"
  [ "$(stat -c %a "$PGHA_INIT_DIR/metrics/pgpool_password")" = 600 ]
  # A changed password reaches metrics/ at the next run; a link there is replaced, its target untouched.
  echo changed >"$PGHA_INIT_DIR/secrets/pgpool_password"
  echo untouched >"$BATS_TEST_TMPDIR/target"
  ln -sf "$BATS_TEST_TMPDIR/target" "$PGHA_INIT_DIR/metrics/pgpool_password"
  export PGHA_INIT_TLS=on PGHA_TLS_SAN=DNS:pgpool0,IP:127.0.0.1
  init
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ ! -L "$PGHA_INIT_DIR/metrics/pgpool_password" ]
  [ "$(cat "$PGHA_INIT_DIR/metrics/pgpool_password")" = changed ]
  [ "$(cat "$BATS_TEST_TMPDIR/target")" = untouched ]
  [ "$(ls "$PGHA_INIT_DIR/metrics" | paste -sd,)" = ca.crt,pgpool_password ]
  cmp "$PGHA_INIT_DIR/tls/ca.crt" "$PGHA_INIT_DIR/metrics/ca.crt"
  # Without the pgpool password among the secrets there is nothing to copy: refused with the rest.
  PGHA_INIT_SECRETS=postgres_password PGHA_INIT_METRICS=yes init
  [ "$status" -eq 2 ]
  [[ "$output" == *"PGHA_INIT_METRICS: expected on or off, got 'yes'"* ]]
  PGHA_INIT_SECRETS=postgres_password init
  [ "$status" -eq 2 ]
  [[ "$output" == *"PGHA_INIT_SECRETS: expected pgpool_password among the secrets with PGHA_INIT_METRICS=on, got 'postgres_password'"* ]]
}
