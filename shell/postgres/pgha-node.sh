#!/usr/bin/env bash
# source: shell/postgres/pgha-node.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# Node-side operations of a postgres node, run as postgres: locally, by the entrypoint (which
# sources this file and calls the functions), and over SSH from pgpool's failover scripts and
# the recovery functions. The one place that knows how to clone, configure a standby, hold,
# promote, rewind and rebuild this node, and whether it may start on its own data. This file
# is the command and its verbs; the functions live beside the library, one file per concern:
# node-ops.sh (this node itself), node-copy.sh (clone, rewind, rebuild), node-rejoin.sh (another
# primary: start or rejoin, fencing) and node-watch.sh (the watch loop); the verdicts are
# pgha-decide.sh's.
#   pgha-node ping                     (answers ok: SSH and the forced command work)
#   pgha-node promote
#   pgha-node set-role MASTER|BACKUP
#   pgha-node ensure-slot SLOT         (on a primary)
#   pgha-node drop-slot SLOT           (on a primary)
#   pgha-node follow HOST PORT         (become a standby of HOST: pg_rewind, else pg_basebackup)
#   pgha-node rebuild HOST PORT        (rewind onto HOST, else clone it with pg_basebackup; stays held)
#   pgha-node hold | release           (create / remove .do_not_start)
#   pgha-node rejoin                   (ask pgpool to rebuild this node, when the entrypoint held it)
#   pgha-node receive-lsn              (a standby's received WAL position)
#   pgha-node watch-loop               (stop a primary that pgpool no longer routes to; attach a standby
#                                       that streams from pgpool's primary while pgpool has it down;
#                                       hand a primary whose volume runs full over; supervisor runs it)
#   pgha-node thaw-guard               (hold a primary that stood still, frozen, until pgpool says it
#                                       is still the primary; fence it if not; supervisor runs it)
#   pgha-node isolation-guard          (stop a primary cut off from the pgpool nodes' side and from the
#                                       other postgres nodes; supervisor runs it)
#   pgha-node step-down                (from failover.sh: stop this node if it runs as a primary, held)
#   pgha-node sync-suspend | sync-restore (on a primary left without standbys / when one is back)
#   pgha-node standby-lost HOST        (on the primary: sync-suspend if HOST was the last streaming standby)
#   pgha-node health                   (the image's HEALTHCHECK)
#   pgha-node alive                    (the health check under an orchestrator: processes run)
#   pgha-node disk                     (free space of the data volume: free_mb used_pct reserve_mb state)
#   pgha-node state                    (KIND TIMELINE LSN of this node's data, for convergence)
set -euo pipefail
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"
# The parts sit beside the library: in the image's lib directory, in a build context for bats.
# shellcheck source=node-ops.sh
. "$PGHA_LIB_HOME/node-ops.sh"
# shellcheck source=node-copy.sh
. "$PGHA_LIB_HOME/node-copy.sh"
# shellcheck source=node-rejoin.sh
. "$PGHA_LIB_HOME/node-rejoin.sh"
# shellcheck source=node-watch.sh
. "$PGHA_LIB_HOME/node-watch.sh"

# sshd sessions do not inherit the image's ENV, so the server binaries are put on PATH here.
PATH=$PGHA_POSTGRES_BIN:$PATH
export PCPPASSFILE=$PGHA_PCPPASS_FILE

_pgha_node_main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    ping) echo ok ;;
    promote) pgha_node_promote ;;
    set-role) pgha_node_set_role "${1:?role}" ;;
    ensure-slot) pgha_node_ensure_slot "${1:?slot}" ;;
    drop-slot) pgha_node_drop_slot "${1:?slot}" ;;
    follow) pgha_node_follow "${1:?host}" "${2:?port}" ;;
    rebuild) pgha_node_rebuild "${1:?host}" "${2:?port}" ;;
    hold) pgha_node_hold ;;
    release) pgha_node_release ;;
    rejoin) pgha_node_rejoin ;;
    watch-loop) pgha_node_watch_loop ;;
    thaw-guard) pgha_node_thaw_guard ;;
    isolation-guard) pgha_node_isolation_guard ;;
    step-down) pgha_node_step_down ;;
    receive-lsn) pgha_node_receive_lsn ;;
    sync-suspend) pgha_node_sync_suspend ;;
    sync-restore) pgha_node_sync_restore ;;
    standby-lost) pgha_node_standby_lost "${1:?host}" ;;
    health) pgha_node_health ;;
    alive) pgha_node_alive "$(cat /proc/1/comm 2>/dev/null || true)" ;;
    disk) pgha_node_disk ;;
    state) pgha_node_state ;;
    *) pgha_die usage "unknown command '$cmd' (ping, promote, set-role, ensure-slot, drop-slot, follow, rebuild, hold, release, rejoin, watch-loop, thaw-guard, isolation-guard, step-down, receive-lsn, sync-suspend, sync-restore, standby-lost, health, alive, disk, state)" ;;
  esac
}

if ! pgha_is_sourced; then
  _pgha_node_main "$@"
fi
