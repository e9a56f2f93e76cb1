#!/usr/bin/env bash
# source: shell/postgres/init-tls.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# pgha-init's TLS material, with PGHA_INIT_TLS=on: a dev CA in ca/ (never mounted into a node)
# and the server certificate every node serves in tls/, each kept while valid and made again
# when it is not. Written through pgha-init.sh's owner-only helpers. Sourced by pgha-init.sh,
# never run.

# Certificates this close to their end are issued again (seconds; 30 days).
PGHA_INIT_TLS_RENEW_SECONDS=2592000

# pgha_init_tls_copy PATH NAME: the deploy directory's PATH copied (as the owner) to NAME in the
# work directory, for openssl to check; fails when PATH is missing or a link.
pgha_init_tls_copy() {
  [[ -f "$1" && ! -L "$1" ]] || return 1
  pgha_init_read "$1" >"$PGHA_INIT_WORK/$2"
}

# pgha_init_tls_ca_ok: ca/ca.key and ca/ca.crt are a pair: a CA certificate, its key, not
# about to expire. Copies of both are left in the work directory.
pgha_init_tls_ca_ok() {
  local w=$PGHA_INIT_WORK ca=$PGHA_INIT_DIR/ca
  pgha_init_tls_copy "$ca/ca.key" ca.key && pgha_init_tls_copy "$ca/ca.crt" ca.crt || return 1
  pgha_init_check_kept "$ca/ca.key"
  openssl x509 -noout -checkend "$PGHA_INIT_TLS_RENEW_SECONDS" -in "$w/ca.crt" >/dev/null 2>&1 &&
    pgha_tls_key_matches "$w/ca.crt" "$w/ca.key"
}

# pgha_init_tls_server_ok: tls/server.key and tls/server.crt are a pair issued by the CA of the
# work directory for exactly PGHA_TLS_SAN (server.san, written last), not about to expire.
pgha_init_tls_server_ok() {
  local w=$PGHA_INIT_WORK tls=$PGHA_INIT_DIR/tls
  pgha_init_tls_copy "$tls/server.key" server.key && pgha_init_tls_copy "$tls/server.crt" server.crt &&
    pgha_init_tls_copy "$tls/server.san" server.san || return 1
  [[ "$(cat "$w/server.san")" == "$PGHA_TLS_SAN" ]] &&
    openssl verify -CAfile "$w/ca.crt" "$w/server.crt" >/dev/null 2>&1 &&
    openssl x509 -noout -checkend "$PGHA_INIT_TLS_RENEW_SECONDS" -in "$w/server.crt" >/dev/null 2>&1 &&
    pgha_tls_key_matches "$w/server.crt" "$w/server.key"
}

# pgha_init_tls: the dev CA and the server certificate every node serves, issued by it for
# PGHA_TLS_SAN. Each is kept while it is whole and valid, and made again when anything is
# missing, does not match, no longer verifies or is about to expire (a name added, a CA made
# again, an interrupted run). server.san is written last: a run cut off before it issues again.
pgha_init_tls() {
  local ca=$PGHA_INIT_DIR/ca tls=$PGHA_INIT_DIR/tls w=$PGHA_INIT_WORK
  pgha_init_dir "$ca"
  pgha_init_dir "$tls"
  if ! pgha_init_tls_ca_ok; then
    [[ ! -e "$ca/ca.key" && ! -e "$ca/ca.crt" ]] ||
      pgha_log init "TLS: ca/ca.key and ca/ca.crt are not a valid pair (missing, mismatched or expiring): making a new dev CA; clients must trust the new tls/ca.crt"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 3650 \
      -subj "/CN=pgha dev CA $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$w/ca.key" -out "$w/ca.crt" 2>"$w/log" || { cat "$w/log" >&2; pgha_die tls "openssl could not make the dev CA"; }
    cp "$w/ca.key" "$w/ca.key.new"
    cp "$w/ca.crt" "$w/ca.crt.new"
    pgha_init_place "$w/ca.key.new" "$ca/ca.key" 0600
    pgha_init_place "$w/ca.crt.new" "$ca/ca.crt" 0600
    PGHA_INIT_MADE_TLS+=("dev CA")
  fi
  if ! pgha_init_tls_server_ok; then
    printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$PGHA_TLS_SAN" >"$w/ext"
    { openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=pgha \
      -keyout "$w/server.key" -out "$w/server.csr" &&
      openssl x509 -req -sha256 -days 825 -set_serial "0x$(openssl rand -hex 16)" -in "$w/server.csr" \
        -CA "$w/ca.crt" -CAkey "$w/ca.key" -extfile "$w/ext" -out "$w/server.crt"; } 2>"$w/log" ||
      { cat "$w/log" >&2; pgha_die tls "openssl could not issue the server certificate for $PGHA_TLS_SAN"; }
    printf '%s\n' "$PGHA_TLS_SAN" >"$w/server.san"
    pgha_init_place "$w/server.key" "$tls/server.key" 0600
    pgha_init_place "$w/server.crt" "$tls/server.crt" 0600
    pgha_init_place "$w/server.san" "$tls/server.san" 0600
    PGHA_INIT_MADE_TLS+=("server certificate for $PGHA_TLS_SAN")
  fi
  pgha_init_write "$tls/ca.crt" 0600 cat "$w/ca.crt"
}
