#!/usr/bin/env bash
# generated from templates/shared/pgha-lib.sh.hbs by pgha (npm run generate); do not edit
# Shared by every pgha script: logging that names the node and the action, loud failures.
# Sourced, never run.

PGHA_NODE="${PGHA_NODE:-$(hostname)}"
PGHA_SCRIPT="${PGHA_SCRIPT:-$(basename "$0")}"

# log ACTION MESSAGE...: one line on stderr, which supervisor and docker keep.
log() {
  local action=$1
  shift
  printf '%s pgha[%s] node=%s action=%s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PGHA_SCRIPT" "$PGHA_NODE" "$action" "$*" >&2
}

# die ACTION MESSAGE...: log as an error and exit non-zero.
die() {
  local action=$1
  shift
  log "$action" "ERROR: $*"
  exit 1
}

# read_secret NAME: the value of $NAME, or the contents of the file named by ${NAME}_FILE.
read_secret() {
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

# SSH to a postgres or pgpool node as postgres, with the mounted key and pinned host keys.
PGHA_DEFAULT_SSH_PORT=2222
readonly PGHA_SSH_PORT=${PGHA_SSH_PORT:-$PGHA_DEFAULT_SSH_PORT}
readonly PGHA_SSH_KEY=${PGHA_SSH_KEY:-/run/pgha/private/id_ed25519}
readonly PGHA_KNOWN_HOSTS=${PGHA_KNOWN_HOSTS:-/run/pgha/private/known_hosts}

pgha_ssh() {
  local host=$1
  shift
  ssh -T -p "$PGHA_SSH_PORT" -i "$PGHA_SSH_KEY" \
    -o UserKnownHostsFile="$PGHA_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes -o ConnectTimeout=5 "postgres@$host" "$@"
}

# require_ssh HOST ACTION: fail loudly, naming what to check, when HOST can't be reached.
require_ssh() {
  local host=$1 action=$2
  pgha_ssh "$host" true ||
    die "$action" "SSH to postgres@$host port $PGHA_SSH_PORT failed: check sshd on $host, the mounted key $PGHA_SSH_KEY, its entry in authorized_keys and $host's host key in $PGHA_KNOWN_HOSTS"
}

# Replication slot names allow lowercase letters, digits and underscores only.
slot_name() {
  local s=${1,,}
  printf '%s' "${s//[^a-z0-9_]/_}"
}
