#!/usr/bin/env bash
# source: shell/lib/pgha-ssh.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# SSH between nodes, as postgres, with the mounted key and pinned host keys. Sourced by
# pgha-lib.sh, never on its own.

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
