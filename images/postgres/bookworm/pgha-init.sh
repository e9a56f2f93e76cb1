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
# Everything belongs to the owner of the deploy directory, mode 0600 (0700 directories), so the
# user who ran `docker compose up` reads the passwords; the nodes read them as root.
# Runs as root in a container whose only mount is the deploy directory: a link planted there
# can only point into this container, and every file is put in place by rename, which
# replaces a link rather than following it. Sourceable: bats tests the functions.
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

# pgha_init_owner: the owner of the deploy directory as UID:GID, who gets everything made here.
pgha_init_owner() { stat -c '%u:%g' "$PGHA_INIT_DIR"; }

# pgha_init_dir PATH: PATH as a directory of the owner, mode 0700, made if missing. A link or a
# file in its place is refused: nothing is written through it.
pgha_init_dir() {
  local path=$1
  if [[ -L "$path" || (-e "$path" && ! -d "$path") ]]; then
    pgha_die init "${path#"$PGHA_INIT_DIR"/}: expected a directory in the deploy directory, found a link or a file; move it away"
  fi
  if [[ ! -d "$path" ]]; then
    mkdir -m 0700 "$path"
    chown -h "$(pgha_init_owner)" "$path"
  fi
}

# pgha_init_place FROM TO MODE: FROM (a file this run made) becomes TO, owned by the owner. The
# rename replaces whatever TO is, a link included, without following it.
pgha_init_place() {
  chmod "$3" "$1"
  chown -h "$(pgha_init_owner)" "$1"
  mv -fT -- "$1" "$2"
}

# pgha_init_write PATH MODE: standard input becomes PATH (a temporary file beside it, then a rename).
pgha_init_write() {
  local tmp
  tmp=$(mktemp "$(dirname "$1")/.pgha-init.XXXXXX")
  cat >"$tmp"
  pgha_init_place "$tmp" "$1" "$2"
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
    [[ -e "$dir/$name" || -L "$dir/$name" ]] && continue
    pgha_init_random | pgha_init_write "$dir/$name" 0600
    PGHA_INIT_MADE_SECRETS+=("$name")
  done
}

# pgha_init_keypair HOST PATH COMMENT: an ed25519 key pair at PATH and PATH.pub unless PATH
# exists (a missing PATH.pub is derived from it). Made in a private directory of this
# container, then placed; HOST is noted as given a new key.
pgha_init_keypair() {
  local host=$1 path=$2 comment=$3 work
  if [[ -e "$path" || -L "$path" ]]; then
    if [[ ! -e "$path.pub" ]]; then
      ssh-keygen -y -f "$path" | pgha_init_write "$path.pub" 0644
    fi
    return 0
  fi
  [[ " ${PGHA_INIT_MADE_KEYS[*]} " == *" $host "* ]] || PGHA_INIT_MADE_KEYS+=("$host")
  work=$(mktemp -d)
  ssh-keygen -q -t ed25519 -N '' -C "$comment" -f "$work/key"
  pgha_init_place "$work/key.pub" "$path.pub" 0644
  pgha_init_place "$work/key" "$path" 0600
  rmdir "$work"
}

# pgha_init_pub HOST FILE: the key type and key of HOST's FILE.pub (its comment left out).
pgha_init_pub() {
  local type key _
  read -r type key _ <"$PGHA_INIT_DIR/ssh/$1/$2.pub"
  printf '%s %s' "$type" "$key"
}

# pgha_init_authorized_keys HOST: the keys that may log in on HOST, one per caller that
# PGHA_SSH_ACCESS names, each restricted, accepted only from the cluster network and forced
# through ssh-command with its caller's kind.
pgha_init_authorized_keys() {
  local entry host caller kind
  for entry in $PGHA_SSH_ACCESS; do
    IFS=: read -r host caller kind <<<"$entry"
    [[ "$host" == "$1" ]] || continue
    printf 'restrict,from="%s",command="%s %s" %s postgres@%s\n' "$PGHA_CLUSTER_SUBNET" "$PGHA_SSH_COMMAND" "$kind" "$(pgha_init_pub "$caller" id_ed25519)" "$caller"
  done
}

# pgha_init_known_hosts: every node's host key, pinned as [node]:PGHA_SSH_PORT.
pgha_init_known_hosts() {
  local host
  for host in $(pgha_init_hosts); do
    printf '[%s]:%s %s\n' "$host" "$PGHA_SSH_PORT" "$(pgha_init_pub "$host" ssh_host_ed25519_key)"
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
  local known
  known=$(pgha_init_known_hosts)
  for host in $(pgha_init_hosts); do
    dir=$PGHA_INIT_DIR/ssh/$host
    pgha_init_authorized_keys "$host" | pgha_init_write "$dir/authorized_keys" 0600
    printf '%s\n' "$known" | pgha_init_write "$dir/known_hosts" 0600
  done
}

# pgha_init_tls: the dev CA (made once), and the server certificate every node serves, issued
# by it for PGHA_TLS_SAN: made when missing or when the names changed (a node added), else kept.
pgha_init_tls() {
  local ca=$PGHA_INIT_DIR/ca tls=$PGHA_INIT_DIR/tls work
  pgha_init_dir "$ca"
  pgha_init_dir "$tls"
  work=$(mktemp -d)
  if [[ ! -e "$ca/ca.key" && ! -L "$ca/ca.key" ]]; then
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 3650 \
      -subj "/CN=pgha dev CA $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$work/ca.key" -out "$work/ca.crt" 2>"$work/log" || { cat "$work/log" >&2; pgha_die tls "openssl could not make the dev CA"; }
    pgha_init_place "$work/ca.crt" "$ca/ca.crt" 0600
    pgha_init_place "$work/ca.key" "$ca/ca.key" 0600
    rm -f "$tls/server.san"
    PGHA_INIT_MADE_TLS+=("dev CA")
  fi
  if [[ ! -e "$tls/server.crt" || "$(cat "$tls/server.san" 2>/dev/null)" != "$PGHA_TLS_SAN" ]]; then
    printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$PGHA_TLS_SAN" >"$work/ext"
    { openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=pgha \
      -keyout "$work/server.key" -out "$work/server.csr" &&
      openssl x509 -req -sha256 -days 825 -set_serial "0x$(openssl rand -hex 16)" -in "$work/server.csr" \
        -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -extfile "$work/ext" -out "$work/server.crt"; } 2>"$work/log" ||
      { cat "$work/log" >&2; pgha_die tls "openssl could not issue the server certificate for $PGHA_TLS_SAN"; }
    printf '%s\n' "$PGHA_TLS_SAN" | pgha_init_write "$tls/server.san" 0600
    pgha_init_place "$work/server.key" "$tls/server.key" 0600
    pgha_init_place "$work/server.crt" "$tls/server.crt" 0600
    PGHA_INIT_MADE_TLS+=("server certificate for $PGHA_TLS_SAN")
  fi
  pgha_init_write "$tls/ca.crt" 0600 <"$ca/ca.crt"
  rm -rf "$work"
}

pgha_init_main() {
  pgha_init_check_config
  pgha_report_problems pgha-init
  umask 077
  pgha_init_secrets
  pgha_init_ssh
  [[ "$PGHA_INIT_TLS" != on ]] || pgha_init_tls
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
