#!/usr/bin/env bash
# generated from templates/postgres/entrypoint.sh.hbs by pgha (npm run generate); do not edit
# Entry point of the postgres node: checks the configuration (all problems at once),
# lays out SSH material and secrets under /run, initialises the node as primary or
# standby on first start, then runs supervisor (sshd + postgres).
set -euo pipefail
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

readonly HOME_DIR=/var/lib/postgresql
readonly ROLE_FILE=$HOME_DIR/.node_role
readonly HOLD_MARKER=$HOME_DIR/.do_not_start
readonly RUN_DIR=/run/pgha
readonly REJOIN_REQUEST=$RUN_DIR/rejoin-requested
readonly SSH_SRC=${PGHA_SSH_DIR:-/etc/pgha/ssh}
readonly DEFAULT_PGPORT=5432
readonly PGPORT=${PGPORT:-$DEFAULT_PGPORT}
export PGDATA=${PGDATA:-$HOME_DIR/data}

problems=()
problem() { problems+=("$1: $2"); }

# check_secret NAME REQUIRED: the secret must come from $NAME or a readable, non-empty ${NAME}_FILE.
check_secret() {
  local name=$1 required=$2 file_var="${1}_FILE"
  if [[ -n "${!file_var:-}" ]]; then
    if [[ ! -r "${!file_var}" ]]; then
      problem "$file_var" "expected a readable file, got ${!file_var}"
    elif [[ ! -s "${!file_var}" ]]; then
      problem "$file_var" "expected a non-empty file, ${!file_var} is empty"
    fi
  elif [[ -z "${!name:-}" && "$required" == yes ]]; then
    problem "$name" "expected a password in $name or a file path in $file_var"
  fi
}

check_config() {
  local role=${PGHA_ROLE:-primary}
  check_secret POSTGRES_PASSWORD yes
  check_secret PGPOOL_PASSWORD no
  check_secret PCP_PASSWORD no
  if [[ -n "${PGHA_DELEGATE_IP:-}" ]]; then
    [[ "${PGHA_NODE_ID:-}" =~ ^[0-9]+$ ]] || problem PGHA_NODE_ID "expected this node's backend id (0, 1, ...) when PGHA_DELEGATE_IP is set, got '${PGHA_NODE_ID:-}'"
    [[ "$PGHA_DELEGATE_IP" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || problem PGHA_DELEGATE_IP "expected an IPv4 address, got '$PGHA_DELEGATE_IP'"
  fi
  case "$role" in
    primary) check_secret REPLICATION_PASSWORD no ;;
    standby)
      check_secret REPLICATION_PASSWORD yes
      [[ -n "${PGHA_PRIMARY_HOST:-}" ]] || problem PGHA_PRIMARY_HOST "expected the primary's host name when PGHA_ROLE=standby"
      ;;
    *) problem PGHA_ROLE "expected primary or standby, got '$role'" ;;
  esac
  [[ "${PGHA_PRIMARY_PORT:-5432}" =~ ^[0-9]+$ ]] || problem PGHA_PRIMARY_PORT "expected a port number, got '${PGHA_PRIMARY_PORT}'"
  [[ "$PGPORT" =~ ^[0-9]+$ ]] || problem PGPORT "expected a port number, got '$PGPORT'"
  case "${PGHA_SYNCHRONOUS:-off}" in
    on | off) ;;
    *) problem PGHA_SYNCHRONOUS "expected on or off, got '${PGHA_SYNCHRONOUS}'" ;;
  esac
  if ((${#problems[@]})); then
    local p
    for p in "${problems[@]}"; do printf 'pgha-postgres: configuration error: %s\n' "$p" >&2; done
    exit 2
  fi
}

as_postgres() { runuser -u postgres -- "$@"; }

prepare_run_dir() {
  install -d -m 0755 -o root -g root "$RUN_DIR" "$RUN_DIR/ssh"
  install -d -m 0700 -o postgres -g postgres "$RUN_DIR/private"
  # Replication password for pg_basebackup, pg_rewind and primary_conninfo, kept out of the volume.
  : >"$RUN_DIR/private/pgpass"
  if repl_pw=$(read_secret REPLICATION_PASSWORD); then
    printf '*:*:*:repl:%s\n' "${repl_pw//:/\\:}" >"$RUN_DIR/private/pgpass"
  fi
  chown postgres:postgres "$RUN_DIR/private/pgpass"
  chmod 0600 "$RUN_DIR/private/pgpass"
  ln -sfn "$RUN_DIR/private/pgpass" "$HOME_DIR/.pgpass"
  # PCP password for pcp_recovery_node when this node asks to be rebuilt (pgha-node rejoin).
  : >"$RUN_DIR/private/pcppass"
  if pcp_pw=$(read_secret PCP_PASSWORD); then
    printf '*:*:pgpool:%s\n' "${pcp_pw//:/\\:}" >"$RUN_DIR/private/pcppass"
  fi
  chown postgres:postgres "$RUN_DIR/private/pcppass"
  chmod 0600 "$RUN_DIR/private/pcppass"
  rm -f "$REJOIN_REQUEST"
}

prepare_ssh() {
  local dst=$RUN_DIR/ssh
  if [[ -r "$SSH_SRC/ssh_host_ed25519_key" ]]; then
    install -m 0600 -o root -g root "$SSH_SRC/ssh_host_ed25519_key" "$dst/ssh_host_ed25519_key"
  else
    log ssh "WARNING: no host key in $SSH_SRC; generating a throw-away one (peers cannot pin it)"
    rm -f "$dst/ssh_host_ed25519_key"
    ssh-keygen -q -t ed25519 -N '' -f "$dst/ssh_host_ed25519_key"
  fi
  if [[ -r "$SSH_SRC/authorized_keys" ]]; then
    install -m 0600 -o postgres -g postgres "$SSH_SRC/authorized_keys" "$dst/authorized_keys"
  else
    log ssh "WARNING: no $SSH_SRC/authorized_keys: nobody can log in over SSH, so recovery and failover cannot reach this node"
    install -m 0600 -o postgres -g postgres /dev/null "$dst/authorized_keys"
  fi
  local f
  for f in id_ed25519 known_hosts; do
    if [[ -r "$SSH_SRC/$f" ]]; then
      install -m 0600 -o postgres -g postgres "$SSH_SRC/$f" "$RUN_DIR/private/$f"
    fi
  done
}

write_server_config() {
  local sync_names="''"
  [[ "${PGHA_SYNCHRONOUS:-off}" == on ]] && sync_names="'ANY 1 (*)'"
  cat >"$PGDATA/pgha.conf" <<CONF
# Written by the pgha entrypoint at every start; edit the container's environment instead.
listen_addresses = '*'
port = $PGPORT
password_encryption = 'scram-sha-256'
wal_level = replica
wal_log_hints = on
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '256MB'
hot_standby = on
synchronous_standby_names = $sync_names
CONF
  grep -qxF "include_if_exists = 'pgha.conf'" "$PGDATA/postgresql.conf" ||
    echo "include_if_exists = 'pgha.conf'" >>"$PGDATA/postgresql.conf"
  chown postgres:postgres "$PGDATA/pgha.conf"
}

write_hba() {
  cat >"$PGDATA/pg_hba.conf" <<'HBA'
# Written by the pgha entrypoint. Local socket: peer; network: scram-sha-256 only.
local   all          all                   peer
local   replication  all                   peer
host    all          all        0.0.0.0/0  scram-sha-256
host    replication  repl       0.0.0.0/0  scram-sha-256
HBA
  chown postgres:postgres "$PGDATA/pg_hba.conf"
}

install_recovery_scripts() {
  # pgpool_recovery runs these from the primary's data directory.
  install -m 0755 -o postgres -g postgres /usr/local/lib/pgha/recovery/recovery_1st_stage "$PGDATA/recovery_1st_stage"
  install -m 0755 -o postgres -g postgres /usr/local/lib/pgha/recovery/pgpool_remote_start "$PGDATA/pgpool_remote_start"
}

init_primary() {
  log init "initialising a new primary in $PGDATA"
  local pwfile=$RUN_DIR/private/initdb-pw
  read_secret POSTGRES_PASSWORD >"$pwfile"
  chown postgres:postgres "$pwfile"
  as_postgres initdb -D "$PGDATA" --username=postgres --pwfile="$pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  write_server_config
  write_hba
  # No standby exists yet: with synchronous replication configured the role creation would wait forever.
  as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c synchronous_standby_names=''" -w start >/dev/null
  create_roles
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo MASTER >"$ROLE_FILE"
  log init "primary initialised; .node_role=MASTER"
}

create_roles() {
  local pgpool_pw repl_pw
  pgpool_pw=$(read_secret PGPOOL_PASSWORD || true)
  repl_pw=$(read_secret REPLICATION_PASSWORD || true)
  # Passwords travel in the environment of psql, never on a command line.
  PGHA_PGPOOL_PW=$pgpool_pw PGHA_REPL_PW=$repl_pw as_postgres psql -v ON_ERROR_STOP=1 -q -d postgres <<'SQL'
\getenv pgpool_pw PGHA_PGPOOL_PW
\getenv repl_pw PGHA_REPL_PW
SELECT :'pgpool_pw' <> '' AS have_pgpool, :'repl_pw' <> '' AS have_repl \gset
\if :have_pgpool
CREATE ROLE pgpool LOGIN PASSWORD :'pgpool_pw';
GRANT pg_monitor TO pgpool;
\endif
\if :have_repl
CREATE ROLE repl LOGIN REPLICATION PASSWORD :'repl_pw';
-- pg_rewind needs to read the source's files; these grants let repl serve it without superuser.
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO repl;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO repl;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO repl;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO repl;
\endif
CREATE EXTENSION IF NOT EXISTS pgpool_recovery;
SQL
  [[ -n "$pgpool_pw" ]] || log init "no PGPOOL_PASSWORD: role pgpool not created (pgpool health checks need it)"
  [[ -n "$repl_pw" ]] || log init "no REPLICATION_PASSWORD: role repl not created (standbys need it)"
}

wait_for_primary() {
  local host=$1 port=$2 tries=${PGHA_PRIMARY_WAIT_SECONDS:-120}
  log init "waiting for the primary at $host:$port"
  until pg_isready -q -h "$host" -p "$port"; do
    tries=$((tries - 1))
    ((tries > 0)) || die init "primary $host:$port did not answer; check that it is up and reachable"
    sleep 1
  done
}

init_standby() {
  local host=$PGHA_PRIMARY_HOST port=${PGHA_PRIMARY_PORT:-5432} slot
  slot=$(slot_name "$PGHA_NODE")
  wait_for_primary "$host" "$port"
  log init "cloning the primary $host:$port into $PGDATA (slot $slot)"
  install -d -m 0700 -o postgres -g postgres "$PGDATA"
  if ! as_postgres pg_basebackup -h "$host" -p "$port" -U repl -w -D "$PGDATA" -X stream -c fast -R -C -S "$slot" 2>"$RUN_DIR/basebackup.err"; then
    if grep -q 'already exists' "$RUN_DIR/basebackup.err"; then
      log init "slot $slot already exists on the primary; reusing it"
      rm -rf "${PGDATA:?}"/*
      as_postgres pg_basebackup -h "$host" -p "$port" -U repl -w -D "$PGDATA" -X stream -c fast -R -S "$slot" ||
        die init "pg_basebackup from $host:$port failed; check the repl role and REPLICATION_PASSWORD"
    else
      cat "$RUN_DIR/basebackup.err" >&2
      die init "pg_basebackup from $host:$port failed; check the repl role and REPLICATION_PASSWORD"
    fi
  fi
  cat >>"$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$host port=$port user=repl application_name=$PGHA_NODE passfile=$RUN_DIR/private/pgpass'
primary_slot_name = '$slot'
CONF
  write_server_config
  write_hba
  echo BACKUP >"$ROLE_FILE"
  log init "standby initialised; .node_role=BACKUP"
}

# pool_nodes: "id|host|status|role" of every backend, as pgpool behind the delegate IP sees them.
pool_nodes() {
  local pw
  pw=$(read_secret PGPOOL_PASSWORD) || return 1
  PGPASSWORD=$pw PGCONNECT_TIMEOUT=3 psql -X -h "$PGHA_DELEGATE_IP" -p "${PGHA_PGPOOL_PORT:-9999}" -U pgpool -d postgres \
    -At -F'|' -c 'SHOW pool_nodes' 2>/dev/null | awk -F'|' '{ print $1 "|" $2 "|" $4 "|" $7 }'
}

# pgpool_psql HOST SQL: one value, asked of postgres on HOST directly, as the pgpool role.
pgpool_psql() {
  local pw
  pw=$(read_secret PGPOOL_PASSWORD) || return 1
  PGPASSWORD=$pw PGCONNECT_TIMEOUT=3 psql -X -h "$1" -p "$PGPORT" -U pgpool -d postgres -At -c "$2" 2>/dev/null
}

# running_primary_peer: the first other postgres node that answers as a primary, if any.
running_primary_peer() {
  local peer
  for peer in ${PGHA_POSTGRES_PEERS//,/ }; do
    [[ "$peer" == "$PGHA_NODE" ]] && continue
    if [[ "$(pgpool_psql "$peer" 'SELECT pg_is_in_recovery()')" == f ]]; then
      echo "$peer"
      return
    fi
  done
}

# slot_on HOST: this node's replication slot exists on HOST (asked directly, as pgpool).
slot_on() {
  local pw
  pw=$(read_secret PGPOOL_PASSWORD) || return 1
  # psql expands :'slot' only in input it reads, not in -c.
  [[ "$(PGPASSWORD=$pw PGCONNECT_TIMEOUT=3 psql -X -h "$1" -p "$PGPORT" -U pgpool -d postgres -At \
    -v slot="$(slot_name "$PGHA_NODE")" <<<"SELECT count(*) FROM pg_replication_slots WHERE slot_name = :'slot'" 2>/dev/null)" == 1 ]]
}

# The host this data directory streams from, or nothing when it is not a standby.
recorded_upstream() {
  [[ -e "$PGDATA/standby.signal" ]] || return 0
  sed -n "s/^primary_conninfo = '.*host=\([^ ']*\).*/\1/p" "$PGDATA/postgresql.auto.conf" | tail -n 1
}

# decide_start: before starting, a node that may have been away asks pgpool who the primary
# is. If another node is the healthy primary and this one is not already its standby (an old
# primary, a wiped volume, a standby of a dead primary), it must not start on its own data:
# it is marked BACKUP, held behind .do_not_start, and asks to be rebuilt with
# pcp_recovery_node (pgha-node rejoin, run by supervisor once sshd is up).
# Prints "start" or "rejoin"; "start" also when pgpool does not answer (first start of a cluster).
decide_start() {
  local waited=0 wait_max=${PGHA_PRIMARY_WAIT_SECONDS:-60} nodes primary upstream
  [[ -n "${PGHA_DELEGATE_IP:-}" ]] || { echo start; return; }
  while :; do
    if ! nodes=$(pool_nodes) || [[ -z "$nodes" ]]; then
      # pgpool may be down, starting, or busy with a failover. Whether another node already
      # runs as primary decides: then this node must not start (or initialise) on its own.
      primary=$(running_primary_peer)
      if [[ -z "$primary" ]]; then
        log rejoin-check "pgpool does not answer at $PGHA_DELEGATE_IP:${PGHA_PGPOOL_PORT:-9999} and no other node (${PGHA_POSTGRES_PEERS:-none}) runs as primary; going by the data on disk"
        echo start
        return
      fi
      log rejoin-check "pgpool does not answer at $PGHA_DELEGATE_IP:${PGHA_PGPOOL_PORT:-9999}, but $primary runs as primary"
      break
    fi
    primary=$(awk -F'|' '$3 == "up" && $4 == "primary" { print $2; exit }' <<<"$nodes")
    [[ -n "$primary" ]] && break
    if ((waited >= wait_max)); then
      log rejoin-check "pgpool knows no healthy primary after ${wait_max} s; starting with the role on disk"
      echo start
      return
    fi
    log rejoin-check "pgpool knows no healthy primary yet; waiting (${waited}/${wait_max} s)"
    sleep 2
    waited=$((waited + 2))
  done
  if [[ "$primary" == "$PGHA_NODE" ]]; then
    log rejoin-check "pgpool sees this node as the primary; starting"
    echo start
    return
  fi
  upstream=$(recorded_upstream)
  if [[ -s "$PGDATA/PG_VERSION" && "$upstream" == "$primary" ]]; then
    # failover.sh drops a failed standby's slot; without it this standby cannot stream
    # (and the WAL it needs may be gone), so it is rebuilt instead.
    if slot_on "$primary"; then
      log rejoin-check "this node is a standby of the primary $primary and its slot is there; starting"
      echo start
      return
    fi
    log rejoin-check "this node is a standby of $primary but its replication slot $(slot_name "$PGHA_NODE") is gone there"
  fi
  local what="empty"
  if [[ -s "$PGDATA/PG_VERSION" && -n "$upstream" ]]; then
    what="a standby of $upstream"
  elif [[ -s "$PGDATA/PG_VERSION" ]]; then
    what="a former primary's"
  fi
  log rejoin-check "the primary is $primary and this node's data directory is $what; it must be rebuilt"
  echo rejoin
}

hold_for_rejoin() {
  touch "$HOLD_MARKER"
  echo BACKUP >"$ROLE_FILE"
  chown postgres:postgres "$HOLD_MARKER" "$ROLE_FILE"
  touch "$REJOIN_REQUEST"
  log rejoin "held behind $HOLD_MARKER, .node_role=BACKUP; pgha-node rejoin asks pgpool for pcp_recovery_node of node $PGHA_NODE_ID"
}

main() {
  check_config
  PGHA_NODE=${PGHA_NODE:-$(hostname)}
  export PGHA_NODE
  install -d -m 0755 -o postgres -g postgres "$HOME_DIR"
  prepare_run_dir
  prepare_ssh
  # A container killed and started again leaves postmaster.pid behind; its PID may belong to
  # another process in the new container and stop postgres. Nothing runs postgres yet.
  rm -f "$PGDATA/postmaster.pid"
  if [[ "$(decide_start)" == rejoin ]]; then
    hold_for_rejoin
  elif [[ -s "$PGDATA/PG_VERSION" ]]; then
    log start "existing database cluster in $PGDATA; role $(cat "$ROLE_FILE" 2>/dev/null || echo unknown)"
    write_server_config
  elif [[ "${PGHA_ROLE:-primary}" == standby ]]; then
    init_standby
  else
    init_primary
  fi
  if [[ -s "$PGDATA/PG_VERSION" ]]; then install_recovery_scripts; fi
  chown postgres:postgres "$ROLE_FILE"
  [[ -e "$HOLD_MARKER" ]] && log start "$HOLD_MARKER present: postgres stays down until it is removed"
  log start "starting supervisor (sshd on 2222, postgres on $PGPORT)"
  exec /usr/bin/supervisord -c /etc/supervisor/supervisord.conf
}

main "$@"
