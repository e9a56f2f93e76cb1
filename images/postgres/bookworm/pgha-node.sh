#!/usr/bin/env bash
# generated from templates/postgres/pgha-node.sh.hbs by pgha (npm run generate); do not edit
# Node-side operations, run as postgres on a postgres node, locally or over SSH from
# pgpool's failover scripts and the recovery functions. One place knows how to promote,
# follow, rebuild and hold this node.
#   pgha-node ping
#   pgha-node promote
#   pgha-node set-role MASTER|BACKUP
#   pgha-node ensure-slot SLOT         (on a primary)
#   pgha-node drop-slot SLOT           (on a primary)
#   pgha-node follow HOST PORT         (become a standby of HOST: pg_rewind, else pg_basebackup)
#   pgha-node rebuild HOST PORT        (wipe and clone HOST with pg_basebackup; stays held)
#   pgha-node hold | release           (create / remove .do_not_start)
#   pgha-node rejoin                   (ask pgpool to rebuild this node, when the entrypoint held it)
#   pgha-node sync-suspend | sync-restore (on a primary left without standbys / when one is back)
set -euo pipefail
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

readonly HOME_DIR=/var/lib/postgresql
readonly ROLE_FILE=$HOME_DIR/.node_role
readonly HOLD_MARKER=$HOME_DIR/.do_not_start
readonly PASSFILE=/run/pgha/private/pgpass
PGDATA=${PGDATA:-$HOME_DIR/data}
# sshd sessions do not inherit the image's ENV, so the server binaries are put on PATH here.
PATH=/usr/lib/postgresql/15/bin:$PATH

is_running() { pg_ctl -D "$PGDATA" status >/dev/null 2>&1; }

set_role() {
  case "$1" in
    MASTER | BACKUP) echo "$1" >"$ROLE_FILE" ;;
    *) die set-role "expected MASTER or BACKUP, got '$1'" ;;
  esac
  log set-role ".node_role=$1"
}

hold() {
  touch "$HOLD_MARKER"
  log hold "created $HOLD_MARKER"
}

release() {
  rm -f "$HOLD_MARKER"
  log release "removed $HOLD_MARKER; supervisor starts postgres"
}

stop_postgres() {
  if is_running; then
    log stop "stopping postgres (fast)"
    pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null || die stop "postgres did not stop within 60 s"
  fi
}

psql_local() { psql -X -q -v ON_ERROR_STOP=1 -d postgres -At "$@"; }

promote() {
  [[ -e "$PGDATA/standby.signal" ]] || log promote "no standby.signal: already a primary"
  if [[ -e "$PGDATA/standby.signal" ]]; then
    log promote "promoting"
    pg_ctl -D "$PGDATA" -w -t 60 promote >/dev/null || die promote "pg_ctl promote failed; see this node's postgres log"
  fi
  set_role MASTER
  sync_suspend
}

# A promoted node has no standby yet: with synchronous replication every commit would wait
# for one forever. Commits are asynchronous until a standby is attached again (sync-restore).
sync_suspend() {
  local names
  names=$(psql_local -c 'SHOW synchronous_standby_names')
  [[ -n "$names" ]] || return 0
  psql_local -c "ALTER SYSTEM SET synchronous_standby_names = ''" -c 'SELECT pg_reload_conf()' >/dev/null
  log sync-suspend "synchronous replication ($names) suspended until a standby is attached again"
}

sync_restore() {
  if grep -q '^synchronous_standby_names' "$PGDATA/postgresql.auto.conf" 2>/dev/null; then
    psql_local -c 'ALTER SYSTEM RESET synchronous_standby_names' -c 'SELECT pg_reload_conf()' >/dev/null
    log sync-restore "synchronous_standby_names back to the configured '$(psql_local -c 'SHOW synchronous_standby_names')'"
  fi
}

# rejoin: the entrypoint found another primary and held this node; ask pgpool (any node,
# through the delegate IP) to rebuild it. pgpool runs recovery_1st_stage on the primary,
# which clones the primary here over SSH, then pgpool_remote_start releases the hold.
rejoin() {
  local request=/run/pgha/rejoin-requested tries=${PGHA_REJOIN_TRIES:-30} n=0
  [[ -e "$request" ]] || exit 0
  local default_pcp_port=9898
  local vip=${PGHA_DELEGATE_IP:?} pcp_port=${PGHA_PCP_PORT:-$default_pcp_port} id=${PGHA_NODE_ID:?}
  # sshd must be listening before the primary connects back to clone this node.
  sleep 2
  while ((n < tries)); do
    n=$((n + 1))
    log rejoin "asking pgpool at $vip:$pcp_port to rebuild node $id (attempt $n/$tries)"
    if pcp_recovery_node -h "$vip" -p "$pcp_port" -U pgpool -w -n "$id" 2>&1 | sed 's/^/  pcp_recovery_node: /' >&2; then
      rm -f "$request"
      log rejoin "node $id rebuilt and attached as a standby"
      return 0
    fi
    log rejoin "WARNING: pcp_recovery_node for node $id failed; check PCP_PASSWORD, pcp_port $pcp_port on $vip and the primary's log (recovery_1st_stage); retrying in 10 s"
    sleep 10
  done
  die rejoin "node $id could not be rebuilt after $tries attempts; postgres stays held. Run pcp_recovery_node -n $id by hand once the cause is fixed"
}

ensure_slot() {
  local slot=$1
  psql_local -v slot="$slot" <<'SQL'
SELECT pg_create_physical_replication_slot(:'slot')
WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');
SQL
  log ensure-slot "replication slot $slot present"
}

drop_slot() {
  local slot=$1
  psql_local -v slot="$slot" <<'SQL'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
WHERE slot_name = :'slot' AND NOT active;
SQL
  log drop-slot "replication slot $slot dropped (if it was there and inactive)"
}

# configure_standby HOST PORT: point this data directory at HOST as a streaming standby.
configure_standby() {
  local host=$1 port=$2 slot
  slot=$(slot_name "$PGHA_NODE")
  touch "$PGDATA/standby.signal"
  cat >>"$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$host port=$port user=repl application_name=$PGHA_NODE passfile=$PASSFILE'
primary_slot_name = '$slot'
CONF
  set_role BACKUP
}

basebackup() {
  local host=$1 port=$2
  log basebackup "cloning $host:$port into $PGDATA"
  rm -rf "${PGDATA:?}"
  pg_basebackup -h "$host" -p "$port" -U repl -w -D "$PGDATA" -X stream -c fast ||
    die basebackup "pg_basebackup from $host:$port failed: check that $host is the primary and accepts repl (REPLICATION_PASSWORD)"
}

follow() {
  local host=$1 port=$2
  hold
  stop_postgres
  log follow "rewinding onto the new primary $host:$port"
  if [[ "${PGHA_FORCE_BASEBACKUP:-}" == 1 ]]; then
    log follow "PGHA_FORCE_BASEBACKUP=1: skipping pg_rewind"
    basebackup "$host" "$port"
  elif ! pg_rewind -D "$PGDATA" --source-server="host=$host port=$port user=repl dbname=postgres passfile=$PASSFILE" 2>&1 |
    sed 's/^/  pg_rewind: /' >&2; then
    log follow "pg_rewind failed; falling back to pg_basebackup"
    basebackup "$host" "$port"
  fi
  configure_standby "$host" "$port"
  release
  log follow "following $host:$port"
}

rebuild() {
  local host=$1 port=$2
  hold
  stop_postgres
  basebackup "$host" "$port"
  configure_standby "$host" "$port"
  log rebuild "rebuilt from $host:$port; held until pgpool_remote_start releases it"
}

main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    ping) echo ok ;;
    promote) promote ;;
    set-role) set_role "${1:?role}" ;;
    ensure-slot) ensure_slot "${1:?slot}" ;;
    drop-slot) drop_slot "${1:?slot}" ;;
    follow) follow "${1:?host}" "${2:?port}" ;;
    rebuild) rebuild "${1:?host}" "${2:?port}" ;;
    hold) hold ;;
    release) release ;;
    rejoin) rejoin ;;
    sync-suspend) sync_suspend ;;
    sync-restore) sync_restore ;;
    *) die usage "unknown command '$cmd' (ping, promote, set-role, ensure-slot, drop-slot, follow, rebuild, hold, release, rejoin, sync-suspend, sync-restore)" ;;
  esac
}

main "$@"
