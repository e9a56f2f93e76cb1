#!/usr/bin/env bash
# source: shell/lib/ssh-command.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# The forced command of every key in authorized_keys: sshd runs this instead of what the client
# asked for, with the request in SSH_ORIGINAL_COMMAND and the caller's kind (postgres or
# pgpool, fixed per key in authorized_keys) as $1. It runs only the few operations that kind
# of node needs from this one, with arguments checked word by word; no shell ever reads the
# request. Anything else is refused, loudly, on the caller's stderr (the calling script logs
# it). A host a node is told to copy from must be one of the cluster's postgres nodes (the
# root-written peer list), and for `rebuild` the very node that asks (online recovery runs on
# the primary, which names itself).
#   ping                          any caller: the connection and the key work
#   pgha-node VERB ARGS...        on a postgres node: from pgpool promote, step-down, set-role,
#                                 ensure-slot, drop-slot, standby-lost, follow, sync-restore,
#                                 receive-lsn;
#                                 from postgres rebuild, release, state
#   vip-down IP                   on a pgpool node, from pgpool (escalation.sh)
set -euo pipefail
PGHA_SCRIPT=ssh-command
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

_pgha_ssh_refuse() {
  pgha_log ssh-command "REFUSED from a $caller key: $(printf '%q' "${SSH_ORIGINAL_COMMAND:-}") ($1)"
  echo "pgha ssh-command: refused: $1" >&2
  exit 1
}

# _pgha_ssh_peer HOST: HOST is one of this cluster's postgres nodes, as root wrote them down.
_pgha_ssh_peer() {
  if [[ ! -f "$PGHA_PEERS_FILE" ]] || ! grep -qxF -- "$1" "$PGHA_PEERS_FILE"; then
    _pgha_ssh_refuse "'$1' is not a postgres node of this cluster ($PGHA_PEERS_FILE)"
  fi
}

# _pgha_ssh_is_caller HOST: HOST is the address this SSH connection comes from.
_pgha_ssh_is_caller() {
  local from=${SSH_CONNECTION%% *} addr
  for addr in $(getent ahostsv4 "$1" | awk '{ print $1 }' | sort -u); do
    [[ "$addr" == "$from" ]] && return 0
  done
  _pgha_ssh_refuse "'$1' is not the node asking ($from)"
}

_pgha_ssh_host() { pgha_is_host "$1" || _pgha_ssh_refuse "not a host name: '$1'"; }
_pgha_ssh_port() { pgha_is_port "$1" || _pgha_ssh_refuse "not a port: '$1'"; }
_pgha_ssh_slot() { [[ "$1" =~ ^[a-z0-9_]{1,63}$ ]] || _pgha_ssh_refuse "not a slot name: '$1'"; }
_pgha_ssh_count() { [[ "$1" -eq "$2" ]] || _pgha_ssh_refuse "expected $2 arguments"; }

caller=${1:-}
case "$caller" in
  postgres | pgpool) ;;
  *) caller=unknown _pgha_ssh_refuse "authorized_keys names no caller kind" ;;
esac
[[ "${SSH_ORIGINAL_COMMAND:-}" != *[[:cntrl:]]* ]] || _pgha_ssh_refuse "control characters in the request"
# Words split on blanks only; globbing off so a '*' stays a '*'.
set -f
read -r -a words <<<"${SSH_ORIGINAL_COMMAND:-}"
set +f
((${#words[@]})) || _pgha_ssh_refuse "no command"

case "${words[0]}" in
  ping)
    _pgha_ssh_count "${#words[@]}" 1
    echo ok
    ;;
  pgha-node)
    [[ -x "$PGHA_NODE_CMD" ]] || _pgha_ssh_refuse "not a postgres node"
    verb=${words[1]:-}
    case "$caller:$verb" in
      pgpool:promote | pgpool:step-down | pgpool:sync-restore | pgpool:receive-lsn | postgres:release | postgres:state)
        _pgha_ssh_count "${#words[@]}" 2
        ;;
      pgpool:set-role)
        _pgha_ssh_count "${#words[@]}" 3
        [[ "${words[2]}" == MASTER || "${words[2]}" == BACKUP ]] || _pgha_ssh_refuse "not a role: '${words[2]}'"
        ;;
      pgpool:ensure-slot | pgpool:drop-slot)
        _pgha_ssh_count "${#words[@]}" 3
        _pgha_ssh_slot "${words[2]}"
        ;;
      pgpool:standby-lost)
        _pgha_ssh_count "${#words[@]}" 3
        _pgha_ssh_host "${words[2]}"
        _pgha_ssh_peer "${words[2]}"
        ;;
      pgpool:follow | postgres:rebuild)
        _pgha_ssh_count "${#words[@]}" 4
        _pgha_ssh_host "${words[2]}"
        _pgha_ssh_port "${words[3]}"
        _pgha_ssh_peer "${words[2]}"
        [[ "$verb" == follow ]] || _pgha_ssh_is_caller "${words[2]}"
        ;;
      *) _pgha_ssh_refuse "a $caller node may not run pgha-node '$verb' here" ;;
    esac
    exec "$PGHA_NODE_CMD" "${words[@]:1}"
    ;;
  vip-down)
    [[ "$caller" == pgpool && -x "$PGHA_LIB_DIR/vip.sh" ]] || _pgha_ssh_refuse "vip-down is for pgpool nodes, from pgpool nodes"
    _pgha_ssh_count "${#words[@]}" 2
    pgha_is_ipv4 "${words[1]}" || _pgha_ssh_refuse "not an IPv4 address: '${words[1]}'"
    exec "$PGHA_LIB_DIR/vip.sh" down "${words[1]}"
    ;;
  *) _pgha_ssh_refuse "unknown command '${words[0]}'" ;;
esac
