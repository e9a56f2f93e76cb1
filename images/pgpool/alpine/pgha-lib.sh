#!/usr/bin/env bash
# source: shell/lib/pgha-lib.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# The functions every pgha script shares, in both images: logging that names the node and
# the action, collected configuration problems, secrets, SSH, pass files and the node's
# paths. Sourced, never run. Every variable and its default is declared in pgha-env.sh,
# generated next to this file.

# shellcheck source=pgha-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/pgha-env.sh"

PGHA_SCRIPT="${PGHA_SCRIPT:-$(basename "$0")}"

# pgha_log ACTION MESSAGE...: one line on stderr, which supervisor and docker keep.
pgha_log() {
  local action=$1
  shift
  printf '%s pgha[%s] node=%s action=%s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PGHA_SCRIPT" "$PGHA_NODE" "$action" "$*" >&2
}

# pgha_die ACTION MESSAGE...: log as an error and exit non-zero.
pgha_die() {
  local action=$1
  shift
  pgha_log "$action" "ERROR: $*"
  exit 1
}

# --- Configuration problems: collected, then reported together, one line each.

PGHA_PROBLEMS=()

# pgha_problem WHERE MESSAGE: remember one problem, naming the variable or file.
pgha_problem() { PGHA_PROBLEMS+=("$1: $2"); }

# pgha_report_problems PREFIX: print every collected problem and exit 2, if there is any.
pgha_report_problems() {
  local prefix=$1 p
  ((${#PGHA_PROBLEMS[@]})) || return 0
  for p in "${PGHA_PROBLEMS[@]}"; do printf '%s: configuration error: %s\n' "$prefix" "$p" >&2; done
  exit 2
}

# pgha_check_port NAME VALUE: a TCP port number, 1-65535.
pgha_check_port() {
  if [[ ! "$2" =~ ^[1-9][0-9]{0,4}$ ]] || (($2 > 65535)); then
    pgha_problem "$1" "expected a port number, got '$2'"
  fi
}

# pgha_is_ipv4 VALUE: a dotted IPv4 address, each octet 0-255 without leading zeros (which
# other readers take as octal).
pgha_is_ipv4() {
  local octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
  [[ "$1" =~ ^$octet\.$octet\.$octet\.$octet$ ]]
}

# pgha_check_superuser: POSTGRES_USER as every reader takes it verbatim (pool_passwd's
# user:password line, pg_ident.conf, psql identifiers) and not a role pgha makes for itself.
pgha_check_superuser() {
  if ! pgha_is_role "$POSTGRES_USER"; then
    pgha_problem POSTGRES_USER "expected a role name of at most 63 lower-case letters, digits and '_', not starting with a digit, got '$POSTGRES_USER'"
  elif [[ "$POSTGRES_USER" == "$PGHA_PGPOOL_USER" || "$POSTGRES_USER" == "$PGHA_REPLICATION_USER" ]]; then
    pgha_problem POSTGRES_USER "expected a role of your own, got '$POSTGRES_USER', which pgha makes for pgpool's checks or replication"
  elif [[ "$POSTGRES_USER" =~ ^(pg_.*|public|none)$ ]]; then
    # CREATE ROLE refuses these; found only after initdb, they would fail the first start.
    pgha_problem POSTGRES_USER "expected a role name PostgreSQL allows ('pg_' names, public and none are reserved), got '$POSTGRES_USER'"
  fi
}

# pgha_is_role VALUE: a role name every reader takes verbatim: at most 63 lower-case letters,
# digits and '_', not starting with a digit.
pgha_is_role() { [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; }

# pgha_check_count NAME VALUE: a whole number of at least 1 (an interval, a count, a size).
pgha_check_count() {
  [[ "$2" =~ ^[1-9][0-9]{0,8}$ ]] || pgha_problem "$1" "expected a whole number from 1 to 999999999, got '$2'"
}

# pgha_is_host VALUE: a host name (or address) as the scripts pass it on: letters, digits,
# '.' and '-', starting with a letter or digit (never an option to the program it goes to).
pgha_is_host() { [[ "$1" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$ ]]; }

# pgha_is_ipv4_cidr VALUE: ADDRESS/PREFIX with a prefix of 0-32.
pgha_is_ipv4_cidr() {
  pgha_is_ipv4 "${1%/*}" && [[ "$1" == */* && "${1##*/}" =~ ^([0-9]|[12][0-9]|3[0-2])$ ]]
}

# pgha_check_ipv4 NAME VALUE: a dotted IPv4 address, else a problem.
pgha_check_ipv4() {
  pgha_is_ipv4 "$2" || pgha_problem "$1" "expected an IPv4 address, got '$2'"
}

# --- Secrets: from $NAME, or from the file named by ${NAME}_FILE (compose secrets).

# pgha_check_secret NAME required|optional [WHAT]: the secret must come from $NAME or from a
# readable ${NAME}_FILE, not both, and be a single line with something in it once the trailing
# line breaks are gone (an empty password, or an empty wd_authkey that switches watchdog
# authentication off, is refused). WHAT names what is expected ("a password").
pgha_check_secret() {
  local name=$1 need=$2 what=${3:-a value} file_var="${1}_FILE" value
  if [[ -n "${!file_var:-}" && -n "${!name:-}" ]]; then
    pgha_problem "$name" "expected $what in $name or in the file named by $file_var, not both"
    return 0
  fi
  if [[ -n "${!file_var:-}" ]]; then
    if [[ ! -r "${!file_var}" ]]; then
      pgha_problem "$file_var" "expected a readable file, got ${!file_var}"
      return 0
    elif [[ ! -s "${!file_var}" ]]; then
      pgha_problem "$file_var" "expected a non-empty file, ${!file_var} is empty"
      return 0
    fi
  elif [[ -z "${!name:-}" ]]; then
    [[ "$need" == required ]] && pgha_problem "$name" "expected $what in $name or a file path in $file_var"
    return 0
  fi
  value=$(pgha_read_secret "$name") || value=
  local where=$name
  [[ -n "${!file_var:-}" ]] && where=$file_var
  if [[ -z "${value//[[:space:]]/}" ]]; then
    pgha_problem "$where" "expected $what, found only white space"
  elif [[ "$value" == *$'\n'* || "$value" =~ [[:cntrl:]] ]]; then
    pgha_problem "$where" "expected $what on one line without control characters"
  fi
}

# pgha_read_secret NAME: the value of $NAME, or the contents of the file named by ${NAME}_FILE.
pgha_read_secret() {
  local name=$1 file_var="${1}_FILE"
  if [[ -n "${!file_var:-}" ]]; then
    [[ -r "${!file_var}" ]] || return 1
    # Trailing newlines from `echo secret > file` are not part of the secret.
    printf '%s' "$(cat "${!file_var}")"
  elif [[ -n "${!name:-}" ]]; then
    printf '%s' "${!name}"
  else
    return 1
  fi
}

# pgha_export_secrets NAME...: each secret as the variable NAME, ${NAME}_FILE unset, so a
# process that cannot read the secret files (root-only bind mounts) gets the values. Call it
# in a subshell that starts only that process: the values stay out of everything else.
pgha_export_secrets() {
  local name value file_var
  for name in "$@"; do
    file_var="${name}_FILE"
    if value=$(pgha_read_secret "$name"); then
      export "$name=$value"
    fi
    unset "$file_var"
  done
}

# pgha_write_passfile FILE MATCH SECRET_NAME: a pass file (libpq's ~/.pgpass, pcp's
# .pcppass), mode 0600, of one line: MATCH (the fields before the password, e.g. '*:*:*:repl'
# or '*:*:pgpool') and the password from SECRET_NAME; an empty file when the secret is not set.
# Both readers stop a field at ':' and take '\' as an escape, so both are escaped.
pgha_write_passfile() {
  local file=$1 match=$2 secret=$3 pw
  (
    umask 077
    : >"$file"
    if pw=$(pgha_read_secret "$secret"); then
      pw=${pw//\\/\\\\}
      printf '%s:%s\n' "$match" "${pw//:/\\:}" >"$file"
    fi
  )
}

# --- TLS: a server certificate and key given at run time (mounted files), and optionally the
# CA that clients and peers are checked against.

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

# --- SSH between nodes, as postgres, with the mounted key and pinned host keys.

# pgha_fresh_dir DIR MODE OWNER: DIR made anew, empty. Root writes files here at start; a
# symlink or file another account planted there at an earlier run is gone, never followed.
pgha_fresh_dir() {
  rm -rf "$1"
  install -d -m "$2" -o "$3" -g "$3" "$1"
}

# pgha_install_ssh_material OWNER: puts the mounted SSH material (PGHA_SSH_DIR) in place: the
# host key and authorized_keys in a fresh root-owned directory OWNER cannot write to
# (authorized_keys root-owned and world-readable: sshd reads it as OWNER), and OWNER's client
# key and known_hosts in its private directory, which the caller has just made anew.
# Sets PGHA_SSH_MATERIAL_MISSING=1 when the host key or authorized_keys is not mounted (a
# return status would switch off `set -e` inside the function for a caller that tests it).
pgha_install_ssh_material() {
  local owner=$1
  # shellcheck disable=SC2034 # read by the caller
  PGHA_SSH_MATERIAL_MISSING=0
  pgha_fresh_dir "$(dirname "$PGHA_AUTHORIZED_KEYS")" 0755 root
  if [[ -r "$PGHA_SSH_DIR/ssh_host_ed25519_key" ]]; then
    install -m 0600 -o root -g root "$PGHA_SSH_DIR/ssh_host_ed25519_key" "$PGHA_SSH_HOST_KEY"
  else
    # shellcheck disable=SC2034 # read by the caller
    PGHA_SSH_MATERIAL_MISSING=1
  fi
  if [[ -r "$PGHA_SSH_DIR/authorized_keys" ]]; then
    install -m 0644 -o root -g root "$PGHA_SSH_DIR/authorized_keys" "$PGHA_AUTHORIZED_KEYS"
  else
    # shellcheck disable=SC2034 # read by the caller
    PGHA_SSH_MATERIAL_MISSING=1
  fi
  if [[ -r "$PGHA_SSH_DIR/id_ed25519" ]]; then
    install -m 0600 -o "$owner" -g "$owner" "$PGHA_SSH_DIR/id_ed25519" "$PGHA_SSH_KEY"
  fi
  if [[ -r "$PGHA_SSH_DIR/known_hosts" ]]; then
    install -m 0600 -o "$owner" -g "$owner" "$PGHA_SSH_DIR/known_hosts" "$PGHA_KNOWN_HOSTS"
  fi
}

# pgha_ssh HOST COMMAND...: run COMMAND on HOST as postgres. A peer that stops answering
# (frozen, cut off) ends the session after 2 unanswered keepalives, never a hang.
pgha_ssh() { pgha_ssh_within 0 "$@"; }

# pgha_ssh_within SECONDS HOST COMMAND...: pgha_ssh whose whole session (connect, banner,
# command) ends after SECONDS (0: no bound beyond the keepalives), with status 124 then.
pgha_ssh_within() {
  local seconds=$1 host=$2
  shift 2
  timeout "$seconds" ssh -T -p "$PGHA_SSH_PORT" -i "$PGHA_SSH_KEY" \
    -o UserKnownHostsFile="$PGHA_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes -o ConnectTimeout="$PGHA_SSH_CONNECT_TIMEOUT" \
    -o ServerAliveInterval="$PGHA_SSH_CONNECT_TIMEOUT" -o ServerAliveCountMax=2 "postgres@$host" "$@"
}

# pgha_wait_port HOST PORT SECONDS: true once HOST accepts TCP connections on PORT, false
# after SECONDS; each try bounded by a second.
pgha_wait_port() {
  local host=$1 port=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
    timeout 1 bash -c ': >"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# pgha_wait_pg HOST PORT SECONDS: true once postgres on HOST accepts connections (a standby
# too), false after SECONDS.
pgha_wait_pg() {
  local host=$1 port=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    pg_isready -q -h "$host" -p "$port" -t 1 && return 0
    sleep 0.2
  done
  return 1
}

# pgha_lsn_value LSN: a WAL position (X/Y, hexadecimal) as one integer, for comparing; fails
# on anything else.
pgha_lsn_value() {
  [[ "$1" =~ ^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$ ]] || return 1
  echo $(((16#${BASH_REMATCH[1]} << 32) + 16#${BASH_REMATCH[2]}))
}

# pgha_ssh_failed HOST: what to check when SSH to HOST failed (ssh's own status 255).
pgha_ssh_failed() {
  local host=$1
  echo "SSH to postgres@$host port $PGHA_SSH_PORT failed: check sshd on $host, the mounted key $PGHA_SSH_KEY, its entry in authorized_keys and $host's host key in $PGHA_KNOWN_HOSTS"
}

# pgha_require_ssh HOST ACTION: fail loudly, naming what to check, when HOST can't be reached.
pgha_require_ssh() {
  local host=$1 action=$2
  pgha_ssh "$host" ping >/dev/null || pgha_die "$action" "$(pgha_ssh_failed "$host")"
}

# --- The delegate IP, as the entrypoint configured it for pgha-vip (pgpool image).

# pgha_read_vip_conf: PGHA_VIP_CONF_IP, _PREFIX and _DEVICE from PGHA_VIP_CONF; 1 without it.
pgha_read_vip_conf() {
  local key value
  [[ -r "$PGHA_VIP_CONF" ]] || return 1
  # shellcheck disable=SC2034 # read by the caller
  while IFS='=' read -r key value; do
    case "$key" in
      delegate_ip) PGHA_VIP_CONF_IP=$value ;;
      prefix) PGHA_VIP_CONF_PREFIX=$value ;;
      device) PGHA_VIP_CONF_DEVICE=$value ;;
    esac
  done <"$PGHA_VIP_CONF"
}

# --- The watchdog, as this node's pcp sees it (pgpool image).

# pgha_watchdog_info SECONDS: pcp_watchdog_info -v of this node, bounded by SECONDS in total;
# empty when it does not answer (pgpool starting, stopped or stuck), never an error.
pgha_watchdog_info() {
  PCPPASSFILE=$PGHA_PCPPASS_FILE timeout "$1" pcp_watchdog_info -h localhost -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w -v 2>/dev/null || true
}

# pgha_watchdog_status INFO NODE: the status name (LEADER, STANDBY, LOST, ...) INFO gives NODE.
pgha_watchdog_status() {
  awk -v node="$2" -F' *: *' '/^Host Name/ { host = $2 } /^Status Name/ && host == node { print $2; exit }' <<<"$1"
}

# pgha_slot_name NODE: the replication slot of NODE (slot names allow a-z, 0-9 and _ only).
pgha_slot_name() {
  local s=${1,,}
  printf '%s' "${s//[^a-z0-9_]/_}"
}
