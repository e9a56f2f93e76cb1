#!/usr/bin/env bash
# source: shell/lib/pgha-tls.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# TLS: a server certificate and key given at run time (mounted files), and optionally the CA
# that clients and peers are checked against. Sourced by pgha-lib.sh, never on its own.

# pgha_check_tls_file VAR KIND: the file named by VAR exists, is readable and holds a PEM KIND
# (x509: a certificate; pkey: a private key), else a problem naming VAR.
pgha_check_tls_file() {
  local var=$1 kind=$2 what='a PEM certificate'
  [[ "$kind" == pkey ]] && what='a PEM private key'
  if [[ ! -f "${!var}" || ! -r "${!var}" ]]; then
    pgha_problem "$var" "expected a readable file with $what, got ${!var} (missing or unreadable)"
  elif ! openssl "$kind" -noout -in "${!var}" >/dev/null 2>&1; then
    pgha_problem "$var" "expected $what in ${!var}, openssl cannot read one"
  fi
}

# pgha_check_tls: TLS is on when PGHA_TLS_CERT_FILE and PGHA_TLS_KEY_FILE are both set (one
# alone is refused); PGHA_TLS_CA_FILE only with them. Each named file checked.
pgha_check_tls() {
  local problems=${#PGHA_PROBLEMS[@]}
  if [[ -n "$PGHA_TLS_CERT_FILE" || -n "$PGHA_TLS_KEY_FILE" ]]; then
    if [[ -z "$PGHA_TLS_CERT_FILE" ]]; then
      pgha_problem PGHA_TLS_CERT_FILE "expected the server certificate's file with PGHA_TLS_KEY_FILE, got nothing"
    else
      pgha_check_tls_file PGHA_TLS_CERT_FILE x509
    fi
    if [[ -z "$PGHA_TLS_KEY_FILE" ]]; then
      pgha_problem PGHA_TLS_KEY_FILE "expected the server key's file with PGHA_TLS_CERT_FILE, got nothing"
    else
      pgha_check_tls_file PGHA_TLS_KEY_FILE pkey
    fi
  fi
  # A key of another certificate passes both checks above and fails the server only at start.
  if ((${#PGHA_PROBLEMS[@]} == problems)) && [[ -n "$PGHA_TLS_CERT_FILE" && -n "$PGHA_TLS_KEY_FILE" ]] &&
    ! pgha_tls_key_matches "$PGHA_TLS_CERT_FILE" "$PGHA_TLS_KEY_FILE"; then
    pgha_problem PGHA_TLS_KEY_FILE "expected the private key of the certificate in $PGHA_TLS_CERT_FILE, $PGHA_TLS_KEY_FILE holds another key"
  fi
  if [[ -n "$PGHA_TLS_CA_FILE" ]]; then
    if [[ -z "$PGHA_TLS_CERT_FILE$PGHA_TLS_KEY_FILE" ]]; then
      pgha_problem PGHA_TLS_CA_FILE "expected only with PGHA_TLS_CERT_FILE and PGHA_TLS_KEY_FILE (TLS is off without them)"
    else
      pgha_check_tls_file PGHA_TLS_CA_FILE x509
    fi
  fi
}

# pgha_tls_key_matches CERT KEY: the public key of certificate CERT is that of private key KEY.
pgha_tls_key_matches() {
  local from_cert from_key
  from_cert=$(openssl x509 -noout -pubkey -in "$1" 2>/dev/null) || return 1
  from_key=$(openssl pkey -pubout -in "$2" 2>/dev/null) || return 1
  [[ -n "$from_cert" && "$from_cert" == "$from_key" ]]
}

# pgha_install_tls OWNER: the TLS files copied into PGHA_TLS_DIR, made anew and root-owned: the
# key owned by OWNER with mode 0600 (postgres and pgpool refuse a key others may read, and a
# mounted file keeps the host's owner), the certificates 0644. Empty when TLS is off.
pgha_install_tls() {
  pgha_fresh_dir "$PGHA_TLS_DIR" 0755 root
  [[ -n "$PGHA_TLS_CERT_FILE" ]] || return 0
  install -m 0644 -o root -g root "$PGHA_TLS_CERT_FILE" "$PGHA_TLS_DIR/server.crt"
  install -m 0600 -o "$1" -g "$1" "$PGHA_TLS_KEY_FILE" "$PGHA_TLS_DIR/server.key"
  if [[ -n "$PGHA_TLS_CA_FILE" ]]; then
    install -m 0644 -o root -g root "$PGHA_TLS_CA_FILE" "$PGHA_TLS_DIR/ca.crt"
  fi
  pgha_log tls "TLS on with $PGHA_TLS_CERT_FILE${PGHA_TLS_CA_FILE:+ (CA $PGHA_TLS_CA_FILE)}"
}

# pgha_tls_on: TLS files were installed at this start.
pgha_tls_on() { [[ -e "$PGHA_TLS_DIR/server.crt" ]]; }
