#!/usr/bin/env bash
# source: shell/postgres/pgha-init.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# The one-shot `init` service of a cluster's compose file, which every node waits for
# (`pgha cluster up` runs the same service): makes what a cluster needs before its first start
# and what no image may carry, in the deploy directory mounted at PGHA_INIT_DIR:
#   secrets/<name>            a random secret per name of PGHA_INIT_SECRETS, made once, kept
#   ssh/<node>/               a host key and a client key per node, made once, kept;
#                             authorized_keys (from PGHA_SSH_ACCESS) and known_hosts (every
#                             host key pinned as [node]:PGHA_SSH_PORT), rewritten every run
#   ca/ca.key, ca/ca.crt      with PGHA_INIT_TLS=on: a dev CA, made once, kept (never mounted
#                             into a node)
#   tls/                      the server certificate and key every node serves (SAN:
#                             PGHA_TLS_SAN), issued again when that list changes, and ca.crt
#   metrics/                  with PGHA_INIT_METRICS=on: what the pgpool metrics services
#                             mount, and nothing more: the pgpool password and the CA
#                             certificate (with TLS), copied every run
# Everything belongs to the owner of the deploy directory, mode 0600 (0700 directories), so the
# user who ran `docker compose up` reads the passwords; the nodes read them as root.
# Runs as root in a container whose only mount is the deploy directory, but never writes or
# reads there as root: keys and certificates are made in a private directory of this container
# and put in place by a process running as the directory's owner (setpriv), which writes a
# temporary file beside the destination and renames it (a link there is replaced, not
# followed). A link planted in the deploy directory can only give its owner what the owner
# could already write. Sourceable: bats tests the functions.
set -euo pipefail
# A failure inside $(...) ends the script too, as everywhere else.
shopt -s inherit_errexit
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

_pgha_init_is_sourced() {
  [[ "${#FUNCNAME[@]}" -ge 2 && "${FUNCNAME[0]}" == _pgha_init_is_sourced && "${FUNCNAME[1]}" == source ]]
}

# pgha_init_hosts: every node of the cluster, postgres nodes first, one a line.
pgha_init_hosts() {
  local h
  for h in ${PGHA_POSTGRES_PEERS//,/ } ${PGHA_PGPOOL_PEERS//,/ }; do printf '%s\n' "$h"; done
}

# pgha_init_check_config: every problem of the environment, one line each, then exit 2.
pgha_init_check_config() {
  if [[ -L "$PGHA_INIT_DIR" || ! -d "$PGHA_INIT_DIR" ]]; then
    pgha_problem PGHA_INIT_DIR "expected the mounted deploy directory, got '$PGHA_INIT_DIR' (not a directory)"
  else
    pgha_init_check_owner
  fi
  local var h name entry
  for var in PGHA_POSTGRES_PEERS PGHA_PGPOOL_PEERS; do
    [[ -n "${!var}" ]] || pgha_problem "$var" "expected the cluster's node names separated by commas, got nothing"
    for h in ${!var//,/ }; do
      pgha_is_host "$h" || pgha_problem "$var" "expected host names separated by commas, got '$h'"
    done
  done
  pgha_is_ipv4_cidr "$PGHA_CLUSTER_SUBNET" || pgha_problem PGHA_CLUSTER_SUBNET "expected the cluster network as a CIDR (authorized_keys from=), got '$PGHA_CLUSTER_SUBNET'"
  pgha_check_port PGHA_SSH_PORT "$PGHA_SSH_PORT"
  case "$PGHA_INIT_TLS" in
    on)
      [[ -n "$PGHA_TLS_SAN" ]] || pgha_problem PGHA_TLS_SAN "expected the server certificate's names (DNS:name,IP:address,...) with PGHA_INIT_TLS=on, got nothing"
      for entry in ${PGHA_TLS_SAN//,/ }; do
        if ! { [[ "$entry" == DNS:* ]] && pgha_is_host "${entry#DNS:}"; } && ! { [[ "$entry" == IP:* ]] && pgha_is_ipv4 "${entry#IP:}"; }; then
          pgha_problem PGHA_TLS_SAN "expected DNS:name or IP:address entries separated by commas, got '$entry'"
        fi
      done
      ;;
    off) ;;
    *) pgha_problem PGHA_INIT_TLS "expected on or off, got '$PGHA_INIT_TLS'" ;;
  esac
  case "$PGHA_INIT_METRICS" in
    on) [[ ",$PGHA_INIT_SECRETS," == *,pgpool_password,* ]] || pgha_problem PGHA_INIT_SECRETS "expected pgpool_password among the secrets with PGHA_INIT_METRICS=on, got '$PGHA_INIT_SECRETS'" ;;
    off) ;;
    *) pgha_problem PGHA_INIT_METRICS "expected on or off, got '$PGHA_INIT_METRICS'" ;;
  esac
  [[ -n "$PGHA_INIT_SECRETS" ]] || pgha_problem PGHA_INIT_SECRETS "expected secret names separated by commas, got nothing"
  for name in ${PGHA_INIT_SECRETS//,/ }; do
    [[ "$name" =~ ^[a-z][a-z0-9_]{0,62}$ ]] || pgha_problem PGHA_INIT_SECRETS "expected file names of lower-case letters, digits and '_', got '$name'"
  done
  local hosts
  hosts=$(pgha_init_hosts)
  for entry in $PGHA_SSH_ACCESS; do
    if [[ ! "$entry" =~ ^([^:]+):([^:]+):(pgpool|postgres)$ ]]; then
      pgha_problem PGHA_SSH_ACCESS "expected NODE:CALLER:pgpool|postgres entries separated by blanks, got '$entry'"
      continue
    fi
    for h in "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; do
      grep -qxF -- "$h" <<<"$hosts" || pgha_problem PGHA_SSH_ACCESS "expected nodes of PGHA_POSTGRES_PEERS or PGHA_PGPOOL_PEERS, got '$h' in '$entry'"
    done
  done
}

# The owner of the deploy directory (numeric: it may have no account in this container), set
# by pgha_init_check_owner; every file of the deploy directory is written as this owner.
PGHA_INIT_UID=''
PGHA_INIT_GID=''
# This run's private work directory (root's, in the container): keys are made here first.
PGHA_INIT_WORK=''

# pgha_init_check_owner: the deploy directory's owner, and a directory that not everyone can
# write to (anyone could replace secrets/ or ssh/ with a directory of their own). Group write
# is let through: with user private groups (umask 002, Ubuntu's default) the group is the
# owner's own.
pgha_init_check_owner() {
  local mode
  read -r PGHA_INIT_UID PGHA_INIT_GID mode < <(stat -c '%u %g %a' "$PGHA_INIT_DIR")
  if (((8#$mode) & 8#002)); then
    pgha_problem PGHA_INIT_DIR "expected a deploy directory that not everyone can write to, got mode $mode on $PGHA_INIT_DIR (chmod o-w it)"
  fi
}

# pgha_init_owner: the owner of the deploy directory as UID:GID, for the log.
pgha_init_owner() { echo "$PGHA_INIT_UID:$PGHA_INIT_GID"; }

# pgha_init_as_owner COMMAND...: COMMAND run as the deploy directory's owner, without root's
# groups or capabilities: whatever it finds in the deploy directory, it can only do what that
# owner could do anyway.
pgha_init_as_owner() {
  setpriv --reuid="$PGHA_INIT_UID" --regid="$PGHA_INIT_GID" --clear-groups -- "$@"
}

# pgha_init_rel PATH: PATH relative to the deploy directory, for messages.
pgha_init_rel() { echo "${1#"$PGHA_INIT_DIR"/}"; }

# pgha_init_check_kept PATH: a file or directory this run keeps (a secret, a private key, a
# directory it writes into) is the owner's and not everyone may write to it; else the run stops
# with one line naming it (it would trust what someone else put there).
pgha_init_check_kept() {
  local uid mode
  read -r uid mode < <(stat -c '%u %a' "$1")
  if [[ "$uid" != "$PGHA_INIT_UID" ]]; then
    pgha_die init "$(pgha_init_rel "$1"): expected it to belong to the deploy directory's owner (uid $PGHA_INIT_UID), it belongs to uid $uid; move it away to have it made again"
  elif (((8#$mode) & 8#002)); then
    pgha_die init "$(pgha_init_rel "$1"): expected that not everyone can write to it, got mode $mode"
  fi
}

# pgha_init_dir PATH: PATH as a directory of the owner, mode 0700, made if missing. A link or a
# file in its place is refused: nothing is written through it.
pgha_init_dir() {
  local path=$1
  if [[ -L "$path" || (-e "$path" && ! -d "$path") ]]; then
    pgha_die init "$(pgha_init_rel "$path"): expected a directory in the deploy directory, found a link or a file; move it away"
  fi
  if [[ -d "$path" ]]; then
    pgha_init_check_kept "$path"
  else
    pgha_init_as_owner mkdir -m 0700 -- "$path"
  fi
}

# pgha_init_read PATH: the contents of PATH, read as the owner.
pgha_init_read() { pgha_init_as_owner cat -- "$1"; }

# pgha_init_place FROM TO MODE: FROM (a file of this run's work directory) becomes TO with
# MODE, written by the owner into a temporary file beside TO and renamed over it.
pgha_init_place() {
  # shellcheck disable=SC2016 # expanded by the owner's shell
  pgha_init_as_owner bash -c '
    set -eu
    tmp=$(mktemp "$(dirname "$1")/.pgha-init.XXXXXX")
    trap '\''rm -f "$tmp"'\'' EXIT
    cat >"$tmp"
    chmod "$2" "$tmp"
    mv -fT -- "$tmp" "$1"
    trap - EXIT
  ' pgha-init-place "$2" "$3" <"$1" || pgha_die init "$(pgha_init_rel "$2"): could not be written"
  rm -f "$1"
}

# pgha_init_write PATH MODE COMMAND [ARG...]: COMMAND's output becomes PATH. COMMAND runs with
# errexit on (a function's failing step ends it) and nothing is placed when it fails.
pgha_init_write() {
  local path=$1 mode=$2 out status
  shift 2
  out=$(mktemp "$PGHA_INIT_WORK/out.XXXXXX")
  set +e
  (
    set -e
    "$@" >"$out"
  )
  status=$?
  set -e
  ((status == 0)) || pgha_die init "$(pgha_init_rel "$path"): not written: making it failed (status $status)"
  pgha_init_place "$out" "$path" "$mode"
}

# pgha_init_random: 24 random bytes as 32 characters of URL-safe base64 (no '=', '+' or '/'),
# which every reader of the secrets takes verbatim.
pgha_init_random() {
  head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
  echo
}

# What this run made, for its log: secret names, and nodes given new keys.
PGHA_INIT_MADE_SECRETS=()
PGHA_INIT_MADE_KEYS=()
PGHA_INIT_MADE_TLS=()

# pgha_init_secrets: each missing secret made; existing ones kept (a running cluster keeps its
# passwords).
pgha_init_secrets() {
  local dir=$PGHA_INIT_DIR/secrets name
  pgha_init_dir "$dir"
  for name in ${PGHA_INIT_SECRETS//,/ }; do
    if [[ -L "$dir/$name" ]]; then
      pgha_die init "$(pgha_init_rel "$dir/$name"): expected the secret's file, found a link; move it away"
    elif [[ -e "$dir/$name" ]]; then
      pgha_init_check_kept "$dir/$name"
      [[ -s "$dir/$name" ]] || pgha_die init "$(pgha_init_rel "$dir/$name"): expected a secret, the file is empty; remove it to have one made"
      continue
    fi
    pgha_init_write "$dir/$name" 0600 pgha_init_random
    PGHA_INIT_MADE_SECRETS+=("$name")
  done
}

# pgha_init_keypair HOST PATH COMMENT: an ed25519 key pair at PATH and PATH.pub. A kept private
# key must be one ssh-keygen reads; PATH.pub is written again from it when missing or when it
# does not hold that key (an empty one left by an interrupted run). Made in this run's work
# directory, then placed; HOST is noted as given a new key.
pgha_init_keypair() {
  local host=$1 path=$2 comment=$3 work=$PGHA_INIT_WORK/key
  rm -f "$work" "$work.pub"
  if [[ -e "$path" || -L "$path" ]]; then
    [[ ! -L "$path" ]] || pgha_die init "$(pgha_init_rel "$path"): expected a private key, found a link; move it away"
    pgha_init_check_kept "$path"
    pgha_init_read "$path" >"$work"
    ssh-keygen -y -f "$work" >"$work.pub" 2>/dev/null ||
      pgha_die init "$(pgha_init_rel "$path"): expected a private key ssh-keygen can read; remove it and $(basename "$path").pub to have a new pair made"
    if [[ "$(pgha_init_key_of "$path.pub" 2>/dev/null || true)" != "$(pgha_init_key_of "$work.pub")" ]]; then
      echo "$(pgha_init_key_of "$work.pub") $comment" >"$work.pub"
      pgha_init_place "$work.pub" "$path.pub" 0644
    fi
    rm -f "$work" "$work.pub"
    return 0
  fi
  [[ " ${PGHA_INIT_MADE_KEYS[*]} " == *" $host "* ]] || PGHA_INIT_MADE_KEYS+=("$host")
  ssh-keygen -q -t ed25519 -N '' -C "$comment" -f "$work"
  pgha_init_place "$work.pub" "$path.pub" 0644
  pgha_init_place "$work" "$path" 0600
}

# pgha_init_key_of FILE: the key type and key of public key FILE (its comment left out), read
# as the owner; fails unless it is an ed25519 key.
pgha_init_key_of() {
  local type key _ line
  line=$(if [[ "$1" == "$PGHA_INIT_WORK"/* ]]; then cat -- "$1"; else pgha_init_read "$1"; fi)
  read -r type key _ <<<"$line"
  [[ "$type" == ssh-ed25519 && "$key" =~ ^[A-Za-z0-9+/]{60,}=*$ ]] || return 1
  printf '%s %s' "$type" "$key"
}

# pgha_init_pub HOST FILE: the key type and key of HOST's FILE.pub; the run stops when it holds
# none (pgha_init_keypair has just written every one).
pgha_init_pub() {
  local file=$PGHA_INIT_DIR/ssh/$1/$2.pub key
  key=$(pgha_init_key_of "$file") || pgha_die init "$(pgha_init_rel "$file"): expected an ed25519 public key"
  printf '%s' "$key"
}

# pgha_init_authorized_keys HOST: the keys that may log in on HOST, one per caller that
# PGHA_SSH_ACCESS names, each restricted, accepted only from the cluster network and forced
# through ssh-command with its caller's kind.
pgha_init_authorized_keys() {
  local entry host caller kind key
  for entry in $PGHA_SSH_ACCESS; do
    IFS=: read -r host caller kind <<<"$entry"
    [[ "$host" == "$1" ]] || continue
    key=$(pgha_init_pub "$caller" id_ed25519)
    printf 'restrict,from="%s",command="%s %s" %s postgres@%s\n' "$PGHA_CLUSTER_SUBNET" "$PGHA_SSH_COMMAND" "$kind" "$key" "$caller"
  done
}

# pgha_init_known_hosts: every node's host key, pinned as [node]:PGHA_SSH_PORT.
pgha_init_known_hosts() {
  local host key
  for host in $(pgha_init_hosts); do
    key=$(pgha_init_pub "$host" ssh_host_ed25519_key)
    printf '[%s]:%s %s\n' "$host" "$PGHA_SSH_PORT" "$key"
  done
}

# pgha_init_ssh: keys made where missing, then authorized_keys and known_hosts of every node
# rewritten from them (a node added later is learned by all).
pgha_init_ssh() {
  local host dir
  pgha_init_dir "$PGHA_INIT_DIR/ssh"
  for host in $(pgha_init_hosts); do
    dir=$PGHA_INIT_DIR/ssh/$host
    pgha_init_dir "$dir"
    pgha_init_keypair "$host" "$dir/ssh_host_ed25519_key" "pgha host key of $host"
    pgha_init_keypair "$host" "$dir/id_ed25519" "postgres@$host"
  done
  for host in $(pgha_init_hosts); do
    dir=$PGHA_INIT_DIR/ssh/$host
    pgha_init_write "$dir/authorized_keys" 0600 pgha_init_authorized_keys "$host"
    pgha_init_write "$dir/known_hosts" 0600 pgha_init_known_hosts
  done
}

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

# pgha_init_metrics: metrics/ holds copies of the pgpool password and, with TLS, of the CA
# certificate, rewritten every run (a changed password or a new CA reaches the services at
# their next start). The metrics services mount this directory instead of secrets/ and tls/,
# so they hold no other secret and no private key.
pgha_init_metrics() {
  local dir=$PGHA_INIT_DIR/metrics
  pgha_init_dir "$dir"
  pgha_init_write "$dir/pgpool_password" 0600 pgha_init_read "$PGHA_INIT_DIR/secrets/pgpool_password"
  if [[ "$PGHA_INIT_TLS" == on ]]; then
    pgha_init_write "$dir/ca.crt" 0600 cat "$PGHA_INIT_WORK/ca.crt"
  fi
}

pgha_init_main() {
  pgha_init_check_config
  pgha_report_problems pgha-init
  umask 077
  PGHA_INIT_WORK=$(mktemp -d)
  trap 'rm -rf "$PGHA_INIT_WORK"' EXIT
  pgha_init_secrets
  pgha_init_ssh
  [[ "$PGHA_INIT_TLS" != on ]] || pgha_init_tls
  [[ "$PGHA_INIT_METRICS" != on ]] || pgha_init_metrics
  if ((${#PGHA_INIT_MADE_SECRETS[@]})); then
    pgha_log init "secrets made in secrets/: $(IFS=,; echo "${PGHA_INIT_MADE_SECRETS[*]}") (kept for later runs; never in an image)"
  fi
  if ((${#PGHA_INIT_MADE_KEYS[@]})); then
    pgha_log init "SSH host and client keys made in ssh/ for $(IFS=,; echo "${PGHA_INIT_MADE_KEYS[*]}"); host keys pinned in known_hosts"
  fi
  local made
  for made in "${PGHA_INIT_MADE_TLS[@]}"; do
    pgha_log init "TLS: $made made (ca/, tls/)"
  done
  pgha_log init "deploy directory ready: secrets and SSH material of $(pgha_init_hosts | paste -sd, -) (owner $(pgha_init_owner))"
}

if ! _pgha_init_is_sourced; then
  pgha_init_main "$@"
fi
