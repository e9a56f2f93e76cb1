#!/usr/bin/env bash
# source: shell/postgres/entrypoint.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# Entry point of a postgres node. As root: checks the configuration (every problem at once)
# and lays out the run directory and the SSH material. Then, as postgres (this same file run
# again with `init`): pass files, the decision whether this node may start on its own data,
# and the first initialisation as primary or standby (postgres-setup.sh, beside the library).
# Last, as root again, supervisor (sshd + postgres). Sourceable: the functions can be reused
# and tested without running main.
set -euo pipefail
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"
# shellcheck source=pgha-node.sh
. "$PGHA_NODE_CMD"
# shellcheck source=postgres-setup.sh
. "$PGHA_LIB_HOME/postgres-setup.sh"

# pgha_postgres_check_config: every problem of the environment, one line each, then exit 2.
pgha_postgres_check_config() {
  pgha_check_secret POSTGRES_PASSWORD required 'a password'
  pgha_check_secret PGPOOL_PASSWORD optional 'a password'
  pgha_check_secret PCP_PASSWORD optional 'a password'
  if pgha_node_has_pgpool; then
    [[ "$PGHA_NODE_ID" =~ ^[0-9]+$ ]] || pgha_problem PGHA_NODE_ID "expected this node's backend id (0, 1, ...) when PGHA_DELEGATE_IP or PGHA_PGPOOL_PEERS is set, got '$PGHA_NODE_ID'"
  fi
  [[ -z "$PGHA_DELEGATE_IP" ]] || pgha_check_ipv4 PGHA_DELEGATE_IP "$PGHA_DELEGATE_IP"
  case "$PGHA_ROLE" in
    primary) pgha_check_secret REPLICATION_PASSWORD optional 'a password' ;;
    standby)
      pgha_check_secret REPLICATION_PASSWORD required 'a password'
      [[ -n "$PGHA_PRIMARY_HOST" ]] || pgha_problem PGHA_PRIMARY_HOST "expected the primary's host name when PGHA_ROLE=standby"
      ;;
    *) pgha_problem PGHA_ROLE "expected primary or standby, got '$PGHA_ROLE'" ;;
  esac
  pgha_check_port PGHA_PRIMARY_PORT "$PGHA_PRIMARY_PORT"
  local peer
  for peer in ${PGHA_POSTGRES_PEERS//,/ }; do
    pgha_is_host "$peer" || pgha_problem PGHA_POSTGRES_PEERS "expected host names separated by commas, got '$peer'"
  done
  for peer in ${PGHA_PGPOOL_PEERS//,/ }; do
    pgha_is_host "$peer" || pgha_problem PGHA_PGPOOL_PEERS "expected host names separated by commas, got '$peer'"
  done
  pgha_check_count PGHA_PCP_PEER_SECONDS "$PGHA_PCP_PEER_SECONDS"
  pgha_check_count PGHA_LEASE_LOG_SECONDS "$PGHA_LEASE_LOG_SECONDS"
  pgha_check_port PGPORT "$PGPORT"
  pgha_check_count PGHA_WATCH_INTERVAL_SECONDS "$PGHA_WATCH_INTERVAL_SECONDS"
  pgha_check_seconds_or_off PGHA_ISOLATION_FENCE_SECONDS "$PGHA_ISOLATION_FENCE_SECONDS" 'the isolation guard and the lease'
  pgha_check_seconds_or_off PGHA_THAW_CHECK_SECONDS "$PGHA_THAW_CHECK_SECONDS" 'the thaw guard'
  pgha_check_count PGHA_THAW_ASK_SECONDS "$PGHA_THAW_ASK_SECONDS"
  pgha_check_count PGHA_REPLICATION_TIMEOUT_SECONDS "$PGHA_REPLICATION_TIMEOUT_SECONDS"
  pgha_check_count PGHA_DISK_RESERVE_MB "$PGHA_DISK_RESERVE_MB"
  pgha_check_count PGHA_DISK_TICKS "$PGHA_DISK_TICKS"
  pgha_check_count PGHA_MAX_CONNECTIONS "$PGHA_MAX_CONNECTIONS"
  [[ "$PGHA_CLUSTER_SUBNET" == samenet ]] || pgha_is_ipv4_cidr "$PGHA_CLUSTER_SUBNET" ||
    pgha_problem PGHA_CLUSTER_SUBNET "expected the cluster network as a CIDR (or samenet), got '$PGHA_CLUSTER_SUBNET'"
  case "$PGHA_SYNCHRONOUS" in
    on | off) ;;
    *) pgha_problem PGHA_SYNCHRONOUS "expected on or off, got '$PGHA_SYNCHRONOUS'" ;;
  esac
  case "$PGHA_DURABILITY" in
    available) ;;
    strict) [[ "$PGHA_SYNCHRONOUS" != off ]] || pgha_problem PGHA_DURABILITY "expected available with PGHA_SYNCHRONOUS=off (strict needs synchronous replication), got strict" ;;
    *) pgha_problem PGHA_DURABILITY "expected available or strict, got '$PGHA_DURABILITY'" ;;
  esac
  pgha_check_superuser
  pgha_check_tls
  # A database name as initdb and CREATE DATABASE take it; quoted as an identifier later.
  if [[ ! "$POSTGRES_DB" =~ ^[^[:cntrl:]]{1,63}$ ]]; then
    pgha_problem POSTGRES_DB "expected a database name of 1 to 63 characters without control characters, got '$POSTGRES_DB'"
  elif [[ "$POSTGRES_DB" == template0 || "$POSTGRES_DB" == template1 ]]; then
    pgha_problem POSTGRES_DB "expected a database of your own, got '$POSTGRES_DB', which every cluster has"
  fi
  local arg args
  read -r -a args <<<"$POSTGRES_INITDB_ARGS"
  for arg in "${args[@]}"; do
    case "$arg" in
      -D | --pgdata* | -U | --username* | --pwfile* | -W | --pwprompt | -A | --auth* | -U?* | -D?* | -A?*)
        pgha_problem POSTGRES_INITDB_ARGS "expected initdb options other than the data directory, the superuser and authentication (set by the image), got '$arg'"
        ;;
    esac
  done
  pgha_report_problems pgha-postgres
}

# pgha_postgres_prepare_dirs: the run directories (root) and the home directory (postgres).
pgha_postgres_prepare_dirs() {
  local peer
  install -d -m 0755 -o postgres -g postgres "$PGHA_HOME"
  install -d -m 0755 -o root -g root "$PGHA_RUN_DIR"
  # The cluster's postgres nodes, for ssh-command: a node copies only from one of them.
  rm -f "$PGHA_PEERS_FILE"
  for peer in ${PGHA_POSTGRES_PEERS//,/ }; do echo "$peer"; done | (umask 022 && cat >"$PGHA_PEERS_FILE")
  # pgha-node runs over SSH too (promote, standby-lost), where the container's environment is not.
  rm -f "$PGHA_DURABILITY_FILE"
  (umask 022 && echo "$PGHA_DURABILITY" >"$PGHA_DURABILITY_FILE")
  # The postgres account owns this one: made anew at every start, nothing it left is trusted.
  pgha_fresh_dir "$PGHA_PRIVATE_DIR" 0700 postgres
  pgha_install_tls postgres
}

# pgha_postgres_prepare_ssh: sshd's host key and authorized_keys, and the client key and
# known_hosts the recovery scripts use. Without mounted material sshd still runs, with a
# throw-away host key that peers cannot pin and nobody allowed in.
pgha_postgres_prepare_ssh() {
  pgha_install_ssh_material postgres
  ((PGHA_SSH_MATERIAL_MISSING)) || return 0
  if [[ ! -r "$PGHA_SSH_DIR/ssh_host_ed25519_key" ]]; then
    pgha_log ssh "WARNING: no host key in $PGHA_SSH_DIR; generating a throw-away one (peers cannot pin it)"
    rm -f "$PGHA_SSH_HOST_KEY"
    ssh-keygen -q -t ed25519 -N '' -f "$PGHA_SSH_HOST_KEY"
  fi
  if [[ ! -r "$PGHA_SSH_DIR/authorized_keys" ]]; then
    pgha_log ssh "WARNING: no $PGHA_SSH_DIR/authorized_keys: nobody can log in over SSH, so recovery and failover cannot reach this node"
    install -m 0644 -o root -g root /dev/null "$PGHA_AUTHORIZED_KEYS"
  fi
}

# --- As postgres.

# pgha_postgres_init: everything done as postgres before supervisor starts.
pgha_postgres_init() {
  # Replication password for pg_basebackup, pg_rewind and primary_conninfo, kept out of the
  # volume; PCP password for pcp_recovery_node when this node asks to be rebuilt.
  pgha_write_passfile "$PGHA_PGPASS_FILE" "*:*:*:$PGHA_REPLICATION_USER" REPLICATION_PASSWORD
  pgha_write_passfile "$PGHA_PCPPASS_FILE" "*:*:$PGHA_PCP_USER" PCP_PASSWORD
  ln -sfn "$PGHA_PGPASS_FILE" "$PGHA_HOME/.pgpass"
  rm -f "$PGHA_REJOIN_REQUEST"
  # A container killed and started again leaves postmaster.pid and the socket's lock file
  # behind; their PID may belong to another process of the new container (PIDs are small and
  # reused here), and postgres would refuse to start. Nothing runs postgres yet.
  rm -f "$PGDATA/postmaster.pid" "$PGHA_POSTGRES_SOCKET_DIR"/.s.PGSQL.*.lock
  pgha_postgres_discard_unfinished_init
  if [[ "$(pgha_node_decide_start)" == rejoin ]]; then
    pgha_node_hold_for_rejoin
  elif [[ -s "$PGDATA/PG_VERSION" ]]; then
    pgha_log start "existing database cluster in $PGDATA; role $(cat "$PGHA_ROLE_FILE" 2>/dev/null || echo unknown)"
    pgha_postgres_write_server_config
  else
    pgha_postgres_init_empty
  fi
  if [[ -s "$PGDATA/PG_VERSION" ]]; then pgha_postgres_install_recovery_scripts; fi
  pgha_postgres_rejoin_if_held
}

# pgha_postgres_init_empty: an empty data directory and no primary known. A standby clones the
# primary; the first primary initialises one, unless another node of the cluster answers: then
# the cluster was initialised before (this volume was lost or replaced) and a new database would
# take its place, so the node is held and rebuilt from whichever node becomes primary.
pgha_postgres_init_empty() {
  local peer='' verdict
  verdict=$(pgha_decide_empty_volume "$PGHA_ROLE" '?')
  if [[ "$verdict" == "need peer" ]]; then
    peer=$(pgha_node_running_peer)
    verdict=$(pgha_decide_empty_volume "$PGHA_ROLE" "$peer")
  fi
  case "$verdict" in
    clone) pgha_postgres_init_standby ;;
    initdb) pgha_postgres_init_primary ;;
    hold\ *)
      pgha_log init "$PGDATA is empty, but ${verdict#hold } answers with this cluster's data: not initialising a new database over it; held to be rebuilt from the primary"
      pgha_node_hold_for_rejoin
      ;;
  esac
}

# pgha_postgres_rejoin_if_held: a hold from before this start (failover.sh's breadcrumb on an
# old primary that was down, or a rebuild cut short by a restart) is kept, and the node asks to
# be rebuilt from whichever node is primary: nothing else would release it once the cluster
# runs again. Without pgpool (no delegate IP, no pgpool peers to ask) the hold waits for a person.
pgha_postgres_rejoin_if_held() {
  [[ -e "$PGHA_HOLD_MARKER" ]] || return 0
  if [[ -e "$PGHA_REJOIN_REQUEST" ]]; then
    return 0
  elif pgha_node_has_pgpool && [[ -n "$PGHA_NODE_ID" ]]; then
    touch "$PGHA_REJOIN_REQUEST"
    echo BACKUP >"$PGHA_ROLE_FILE"
    pgha_log start "$PGHA_HOLD_MARKER was left from before this start: postgres stays down; pgha-node rejoin asks pgpool to rebuild node $PGHA_NODE_ID from the primary"
  else
    pgha_log start "$PGHA_HOLD_MARKER present: postgres stays down until it is removed"
  fi
}

# pgha_postgres_take_lease: an exclusive lock on the data volume, held for the container's life:
# the descriptor stays open through the exec into supervisord (which closes it in the programs
# it starts: supervisord holds it, and it ends with the container). A second container on the
# same volume (an orchestrator starting a task's new container before the old one is gone)
# waits here, touching nothing in the volume, says so every PGHA_LEASE_LOG_SECONDS, and ends at
# docker stop. The lock is on the volume's mount point (PGHA_HOME), a directory: no file is
# made that another account could swap for a link.
pgha_postgres_take_lease() {
  local waited=0
  exec {PGHA_LEASE_FD}<"$PGHA_HOME"
  if flock -n "$PGHA_LEASE_FD"; then
    pgha_log lease "took the lease on the data volume $PGHA_HOME"
    return 0
  fi
  pgha_log lease "another container holds the lease on the data volume $PGHA_HOME: waiting for it to end before touching the data"
  # As PID 1 bash gets no default action for TERM: without the trap docker stop would wait
  # for its SIGKILL. flock runs in the foreground, so the trap runs when it returns (at most
  # PGHA_LEASE_LOG_SECONDS later).
  trap 'pgha_log lease "stopped while waiting for the lease"; exit 0' TERM INT
  until flock -w "$PGHA_LEASE_LOG_SECONDS" "$PGHA_LEASE_FD"; do
    waited=$((waited + PGHA_LEASE_LOG_SECONDS))
    pgha_log lease "still waiting for the lease on $PGHA_HOME (${waited} s)"
  done
  trap - TERM INT
  pgha_log lease "took the lease on the data volume $PGHA_HOME after waiting at least ${waited} s"
}

# pgha_postgres_idle: keeps the container up without postgres, so a refusal is one line in
# the log instead of a restart loop (the health check reports it unhealthy); ends on TERM/INT.
pgha_postgres_idle() {
  local sleeper=''
  # The sleep goes with it: left behind, it would hold the container's (or a test's) output open.
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM INT
  while :; do
    sleep 3600 &
    sleeper=$!
    wait "$sleeper" || true
  done
}

_pgha_postgres_main() {
  local refusal
  if [[ "${1:-}" == init && "$(id -u)" != 0 ]]; then
    pgha_postgres_init
    return 0
  fi
  pgha_postgres_check_config
  pgha_postgres_take_lease
  refusal=$(pgha_node_data_major_problem)
  if [[ -n "$refusal" ]]; then
    pgha_log refuse "$refusal"
    pgha_postgres_idle
  fi
  pgha_postgres_prepare_dirs
  pgha_postgres_prepare_ssh
  # The rest runs as postgres, as docker-library's entrypoint does: root never writes into
  # the data volume or the postgres-owned run directory. The secret files may be readable by
  # root only, so their values go to that one process (and not to supervisor's children).
  (
    pgha_export_secrets POSTGRES_PASSWORD PGPOOL_PASSWORD REPLICATION_PASSWORD PCP_PASSWORD
    runuser -u postgres -- "${BASH_SOURCE[0]}" init
  )
  pgha_log start "starting supervisor (sshd on $PGHA_SSH_PORT, postgres on $PGPORT)"
  exec /usr/bin/supervisord -c "$PGHA_SUPERVISOR_CONF"
}

if ! pgha_is_sourced; then
  _pgha_postgres_main "$@"
fi
