#!/usr/bin/env bash
# source: shell/postgres/postgres-setup.sh of pgha, copied verbatim into the postgres image's
# build context by `npm run generate`; edit the source, not the copy.
#
# The entrypoint's work on the data directory, as postgres: the settings, pg_hba.conf and
# recovery scripts pgha writes at every start, and the first initialisation (initdb, the roles
# and the init scripts of a new primary, or a standby's first clone), with nothing left of one
# that failed or was cut off. Sourced by entrypoint.sh, never run.

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
# A stream a cut stalled is dropped by the standby within this and made again (TCP's own
# retransmission back-off kept one stalled for over a minute, and a standby promoted then
# lacked it all); its TCP is bounded too (primary_conninfo, node-copy.sh). The primary's side
# waits three times as long: a standby slowed by its disk on a loaded host is not dropped.
wal_receiver_timeout = '${PGHA_REPLICATION_TIMEOUT_SECONDS}s'
wal_sender_timeout = '$((3 * PGHA_REPLICATION_TIMEOUT_SECONDS))s'
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
  pgha_run_errexit pgha_postgres_populate_primary
  status=$PGHA_RUN_STATUS
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
