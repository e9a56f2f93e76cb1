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
# could already write. The SSH and TLS material are made by init-ssh.sh and init-tls.sh, beside
# the library. Sourceable: bats tests the functions.
set -euo pipefail
# A failure inside $(...) ends the script too, as everywhere else.
shopt -s inherit_errexit
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"
# shellcheck source=init-ssh.sh
. "$PGHA_LIB_HOME/init-ssh.sh"
# shellcheck source=init-tls.sh
. "$PGHA_LIB_HOME/init-tls.sh"

# pgha_init_hosts: every node of the cluster, postgres nodes first, one a line.
pgha_init_hosts() {
  local h
  for h in ${PGHA_POSTGRES_PEERS//,/ } ${PGHA_PGPOOL_PEERS//,/ }; do printf '%s\n' "$h"; done
}

# pgha_init_check_config: collects every problem of the environment (pgha_problem); the caller
# reports them (pgha_report_problems: one line each, then exit 2).
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
  local path=$1 mode=$2 out
  shift 2
  out=$(mktemp "$PGHA_INIT_WORK/out.XXXXXX")
  pgha_run_errexit "$@" >"$out"
  ((PGHA_RUN_STATUS == 0)) || pgha_die init "$(pgha_init_rel "$path"): not written: making it failed (status $PGHA_RUN_STATUS)"
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

if ! pgha_is_sourced; then
  pgha_init_main "$@"
fi
