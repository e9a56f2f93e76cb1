#!/usr/bin/env bash
# source: shell/postgres/entrypoint.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# Entry point of a postgres node. As root: checks the configuration (every problem at once)
# and lays out the run directory and the SSH material. Then, as postgres (this same file run
# again with `init`): pass files, the decision whether this node may start on its own data,
# and the first initialisation as primary or standby. Last, as root again, supervisor (sshd +
# postgres). Sourceable: the functions can be reused and tested without running main.
set -euo pipefail
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"
# shellcheck source=pgha-node.sh
. "$PGHA_NODE_CMD"

_pgha_postgres_is_sourced() {
  [[ "${#FUNCNAME[@]}" -ge 2 && "${FUNCNAME[0]}" == _pgha_postgres_is_sourced && "${FUNCNAME[1]}" == source ]]
}

# pgha_postgres_check_config: every problem of the environment, one line each, then exit 2.
pgha_postgres_check_config() {
  pgha_check_secret POSTGRES_PASSWORD required 'a password'
  pgha_check_secret PGPOOL_PASSWORD optional 'a password'
  pgha_check_secret PCP_PASSWORD optional 'a password'
  if [[ -n "$PGHA_DELEGATE_IP" ]]; then
    [[ "$PGHA_NODE_ID" =~ ^[0-9]+$ ]] || pgha_problem PGHA_NODE_ID "expected this node's backend id (0, 1, ...) when PGHA_DELEGATE_IP is set, got '$PGHA_NODE_ID'"
    pgha_check_ipv4 PGHA_DELEGATE_IP "$PGHA_DELEGATE_IP"
  fi
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
  pgha_check_port PGPORT "$PGPORT"
  pgha_check_count PGHA_WATCH_INTERVAL_SECONDS "$PGHA_WATCH_INTERVAL_SECONDS"
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

# pgha_postgres_write_server_config: the settings pgha owns, included from postgresql.conf.
pgha_postgres_write_server_config() {
  local sync_names="''"
  [[ "$PGHA_SYNCHRONOUS" == on ]] && sync_names="'ANY 1 (*)'"
  # Replaced, not written through: whatever stands at the path (a link) is removed first.
  rm -f "$PGDATA/pgha.conf"
  cat >"$PGDATA/pgha.conf" <<CONF
# Written by the pgha entrypoint at every start; edit the container's environment instead.
listen_addresses = '*'
port = $PGPORT
max_connections = $PGHA_MAX_CONNECTIONS
password_encryption = 'scram-sha-256'
wal_level = replica
wal_log_hints = on
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '256MB'
# A standby away for a while keeps its slot (it comes back and streams); the WAL kept for it
# is bounded, past that the slot is lost and the standby is rebuilt.
max_slot_wal_keep_size = '2GB'
hot_standby = on
synchronous_standby_names = $sync_names
CONF
  if pgha_tls_on; then
    {
      echo "ssl = on"
      echo "ssl_cert_file = '$PGHA_TLS_DIR/server.crt'"
      echo "ssl_key_file = '$PGHA_TLS_DIR/server.key'"
      [[ ! -e "$PGHA_TLS_DIR/ca.crt" ]] || echo "ssl_ca_file = '$PGHA_TLS_DIR/ca.crt'"
    } >>"$PGDATA/pgha.conf"
  fi
  grep -qxF "include_if_exists = 'pgha.conf'" "$PGDATA/postgresql.conf" ||
    echo "include_if_exists = 'pgha.conf'" >>"$PGDATA/postgresql.conf"
}

# pgha_postgres_write_hba: pg_hba.conf, and pg_ident.conf's map that lets the postgres account
# log in on the socket as POSTGRES_USER too (init scripts run `psql -U "$POSTGRES_USER"`, as the
# official image's documentation shows).
pgha_postgres_write_hba() {
  rm -f "$PGDATA/pg_hba.conf" "$PGDATA/pg_ident.conf"
  cat >"$PGDATA/pg_hba.conf" <<HBA
# Written by the pgha entrypoint. Local socket: peer (map pgha: pg_ident.conf); network:
# scram-sha-256 only; replication from the cluster network only.
local   all          all                   peer map=pgha
local   replication  all                   peer
host    all          all        0.0.0.0/0  scram-sha-256
host    replication  $PGHA_REPLICATION_USER       $PGHA_CLUSTER_SUBNET  scram-sha-256
HBA
  cat >"$PGDATA/pg_ident.conf" <<IDENT
# Written by the pgha entrypoint: the postgres account may be role postgres or POSTGRES_USER.
pgha  postgres  postgres
pgha  postgres  $POSTGRES_USER
IDENT
}

# pgha_postgres_install_recovery_scripts: pgpool_recovery runs these from the primary's data directory.
pgha_postgres_install_recovery_scripts() {
  install -m 0755 "$PGHA_RECOVERY_DIR/recovery_1st_stage" "$PGDATA/recovery_1st_stage"
  install -m 0755 "$PGHA_RECOVERY_DIR/pgpool_remote_start" "$PGDATA/pgpool_remote_start"
}

pgha_postgres_create_roles() {
  local pgpool_pw repl_pw su_pw
  pgpool_pw=$(pgha_read_secret PGPOOL_PASSWORD || true)
  repl_pw=$(pgha_read_secret REPLICATION_PASSWORD || true)
  su_pw=$(pgha_read_secret POSTGRES_PASSWORD)
  # Passwords travel in the environment of psql, never on a command line.
  PGHA_PGPOOL_PW=$pgpool_pw PGHA_REPL_PW=$repl_pw PGHA_SU_PW=$su_pw psql -X -v ON_ERROR_STOP=1 -q -d postgres \
    -v pgpool_user="$PGHA_PGPOOL_USER" -v repl_user="$PGHA_REPLICATION_USER" \
    -v su="$POSTGRES_USER" -v own_su="$PGHA_SUPERUSER" <<'SQL'
\getenv pgpool_pw PGHA_PGPOOL_PW
\getenv repl_pw PGHA_REPL_PW
\getenv su_pw PGHA_SU_PW
SELECT :'pgpool_pw' <> '' AS have_pgpool, :'repl_pw' <> '' AS have_repl, :'su' <> :'own_su' AS other_su \gset
-- POSTGRES_USER: the superuser clients log in as, when it is not pgha's own.
\if :other_su
CREATE ROLE :"su" LOGIN SUPERUSER PASSWORD :'su_pw';
\endif
\if :have_pgpool
CREATE ROLE :"pgpool_user" LOGIN PASSWORD :'pgpool_pw';
GRANT pg_monitor TO :"pgpool_user";
\endif
\if :have_repl
CREATE ROLE :"repl_user" LOGIN REPLICATION PASSWORD :'repl_pw';
-- pg_rewind needs to read the source's files; these grants let repl serve it without superuser.
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO :"repl_user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO :"repl_user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO :"repl_user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO :"repl_user";
-- A just-promoted source must checkpoint before pg_rewind reads its timeline (pg_control).
GRANT pg_checkpoint TO :"repl_user";
\endif
CREATE EXTENSION IF NOT EXISTS pgpool_recovery;
SQL
  [[ -n "$pgpool_pw" ]] || pgha_log init "no PGPOOL_PASSWORD: role $PGHA_PGPOOL_USER not created (pgpool health checks need it)"
  [[ -n "$repl_pw" ]] || pgha_log init "no REPLICATION_PASSWORD: role $PGHA_REPLICATION_USER not created (standbys need it)"
}

# pgha_postgres_run_init_scripts: POSTGRES_DB, then every file of PGHA_INITDB_DIR in name
# order, as the official image does: *.sh executed when executable, else sourced; *.sql and
# *.sql.gz run by psql into POSTGRES_DB, stopping at the first error; anything else skipped
# with a line. Runs on the temporary server of the first initialisation only.
pgha_postgres_run_init_scripts() {
  local f
  if [[ "$POSTGRES_DB" != postgres ]]; then
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -v db="$POSTGRES_DB" -v su="$POSTGRES_USER" <<<'CREATE DATABASE :"db" OWNER :"su"' >/dev/null
    pgha_log init "database $POSTGRES_DB created, owned by $POSTGRES_USER"
  fi
  # As the official image: scripts run as POSTGRES_USER in POSTGRES_DB, and a *.sh script's
  # psql connects there by default.
  export PGUSER=$POSTGRES_USER PGDATABASE=$POSTGRES_DB
  [[ -d "$PGHA_INITDB_DIR" ]] || return 0
  for f in "$PGHA_INITDB_DIR"/*; do
    [[ -e "$f" ]] || continue
    case "$f" in
      *.sh)
        pgha_log init "running $f"
        if [[ -x "$f" ]]; then
          "$f"
        else
          # shellcheck source=/dev/null
          . "$f"
        fi
        ;;
      *.sql)
        pgha_log init "running $f"
        psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" >/dev/null
        ;;
      *.sql.gz)
        pgha_log init "running $f"
        gunzip -c "$f" | psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" >/dev/null
        ;;
      *) pgha_log init "ignoring $f (not .sh, .sql or .sql.gz)" ;;
    esac
  done
}

pgha_postgres_init_primary() {
  local pwfile=$PGHA_PRIVATE_DIR/initdb-pw extra=() status
  pgha_log init "initialising a new primary in $PGDATA"
  read -r -a extra <<<"$POSTGRES_INITDB_ARGS"
  touch "$PGHA_INIT_MARKER"
  (umask 077 && pgha_read_secret POSTGRES_PASSWORD >"$pwfile")
  if ! initdb -D "$PGDATA" --username=postgres --pwfile="$pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 "${extra[@]}" >"$PGHA_PRIVATE_DIR/initdb.log" 2>&1; then
    rm -f "$pwfile"
    cat "$PGHA_PRIVATE_DIR/initdb.log" >&2
    pgha_postgres_discard_init "initdb failed (POSTGRES_INITDB_ARGS='$POSTGRES_INITDB_ARGS')"
  fi
  rm -f "$pwfile" "$PGHA_PRIVATE_DIR/initdb.log"
  # Run as a command of its own with errexit on inside: a subshell tested by `if` or `||`
  # would run with errexit off, and a failing init script followed by a passing one would
  # count as success.
  set +e
  (
    set -e
    pgha_postgres_populate_primary
  )
  status=$?
  set -e
  if ((status != 0)); then
    pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    pgha_postgres_discard_init "the first initialisation failed (status $status; see above)"
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo MASTER >"$PGHA_ROLE_FILE"
  rm -f "$PGHA_INIT_MARKER"
  pgha_log init "primary initialised; .node_role=MASTER"
}

# pgha_postgres_populate_primary: after initdb, on a temporary server that listens on the
# socket only: pgha's settings and roles, then POSTGRES_DB and the init scripts. Any failure
# ends it; the caller discards the half-made cluster.
pgha_postgres_populate_primary() {
  pgha_postgres_write_server_config
  pgha_postgres_write_hba
  # No standby exists yet: with synchronous replication configured the role creation would wait forever.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c synchronous_standby_names=''" -w start >/dev/null
  pgha_postgres_create_roles
  pgha_postgres_run_init_scripts
}

# pgha_postgres_discard_init WHY: a first initialisation failed: nothing of it stays, so the
# next start initialises again from the start instead of running a half-made cluster.
pgha_postgres_discard_init() {
  find "$PGDATA" -mindepth 1 -delete
  rm -f "$PGHA_INIT_MARKER"
  pgha_die init "$1; the data directory was emptied again, fix the cause and start the container again"
}

# pgha_postgres_discard_unfinished_init: a first initialisation that was cut off (the container
# killed or stopped during initdb, the init scripts or the first clone) left its marker; what
# it made is not a cluster to start, so the directory is emptied and initialised again.
pgha_postgres_discard_unfinished_init() {
  [[ -e "$PGHA_INIT_MARKER" ]] || return 0
  pgha_log init "$PGHA_INIT_MARKER: the first initialisation of $PGDATA did not finish; emptying it to initialise again"
  [[ ! -d "$PGDATA" ]] || find "$PGDATA" -mindepth 1 -delete
  rm -f "$PGHA_INIT_MARKER" "$PGHA_ROLE_FILE"
}

pgha_postgres_init_standby() {
  pgha_log init "initialising a standby of $PGHA_PRIMARY_HOST:$PGHA_PRIMARY_PORT in $PGDATA"
  touch "$PGHA_INIT_MARKER"
  pgha_node_clone "$PGHA_PRIMARY_HOST" "$PGHA_PRIMARY_PORT"
  pgha_postgres_write_server_config
  pgha_postgres_write_hba
  rm -f "$PGHA_INIT_MARKER"
  pgha_log init "standby initialised; .node_role=BACKUP"
}

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
  elif [[ "$PGHA_ROLE" == standby ]]; then
    pgha_postgres_init_standby
  else
    pgha_postgres_init_primary
  fi
  if [[ -s "$PGDATA/PG_VERSION" ]]; then pgha_postgres_install_recovery_scripts; fi
  pgha_postgres_rejoin_if_held
}

# pgha_postgres_rejoin_if_held: a hold from before this start (failover.sh's breadcrumb on an
# old primary that was down, or a rebuild cut short by a restart) is kept, and the node asks to
# be rebuilt from whichever node is primary: nothing else would release it once the cluster
# runs again. Without a watchdog (no delegate IP to ask) the hold waits for a person.
pgha_postgres_rejoin_if_held() {
  [[ -e "$PGHA_HOLD_MARKER" ]] || return 0
  if [[ -e "$PGHA_REJOIN_REQUEST" ]]; then
    return 0
  elif [[ -n "$PGHA_DELEGATE_IP" && -n "$PGHA_NODE_ID" ]]; then
    touch "$PGHA_REJOIN_REQUEST"
    echo BACKUP >"$PGHA_ROLE_FILE"
    pgha_log start "$PGHA_HOLD_MARKER was left from before this start: postgres stays down; pgha-node rejoin asks pgpool to rebuild node $PGHA_NODE_ID from the primary"
  else
    pgha_log start "$PGHA_HOLD_MARKER present: postgres stays down until it is removed"
  fi
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

if ! _pgha_postgres_is_sourced; then
  _pgha_postgres_main "$@"
fi
