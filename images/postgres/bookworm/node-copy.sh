#!/usr/bin/env bash
# source: shell/postgres/node-copy.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# pgha-node's copying of another node's data onto this one: a standby's first clone, following
# a new primary and online recovery's rebuild, each by pg_rewind where it can and
# pg_basebackup where it cannot, never over a running primary. Sourced by pgha-node.sh, never
# run.

# pgha_node_stream_tcp: libpq's bounds for the standby's stream, within
# PGHA_REPLICATION_TIMEOUT_SECONDS, for a peer that is cut off (its kernel gone silent): data
# the primary never acknowledges, a link with no answer to keepalives. A frozen primary's kernel
# still acknowledges: wal_receiver_timeout ends that stream. tcp_user_timeout also ends the
# walreceiver's connects to a cut-off primary (a nemesis run: each failed after 10 s, streaming
# again 2 s after the cut healed); connect_timeout bounds the blocking connects of libpq's own
# tools, the walreceiver's connect in 15 does not honour it.
pgha_node_stream_tcp() {
  local t=$PGHA_REPLICATION_TIMEOUT_SECONDS
  echo "connect_timeout=$(((t + 1) / 2)) tcp_user_timeout=$((t * 1000)) keepalives=1 keepalives_idle=$(((t + 1) / 2)) keepalives_interval=$(((t + 4) / 5)) keepalives_count=3"
}

# pgha_node_configure_standby HOST PORT: point this data directory at HOST as a streaming
# standby on this node's replication slot.
pgha_node_configure_standby() {
  local host=$1 port=$2 slot
  slot=$(pgha_slot_name "$PGHA_NODE")
  touch "$PGDATA/standby.signal"
  cat >>"$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$host port=$port user=$PGHA_REPLICATION_USER application_name=$PGHA_NODE passfile=$PGHA_PGPASS_FILE $(pgha_node_stream_tcp)'
primary_slot_name = '$slot'
CONF
  pgha_node_set_role BACKUP
}

# pgha_node_empty_pgdata: an empty data directory, mode 0700. Emptied, not removed: with the
# official base image PGDATA is a volume's mount point, which cannot be removed.
pgha_node_empty_pgdata() {
  if [[ -d "$PGDATA" ]]; then
    find "${PGDATA:?}" -mindepth 1 -delete
    chmod 0700 "$PGDATA"
  else
    install -d -m 0700 "$PGDATA"
  fi
}

# pgha_node_basebackup HOST PORT [SLOT]: replace this data directory with a copy of HOST.
# With SLOT, pg_basebackup also creates that slot on HOST (reusing it when it exists).
pgha_node_basebackup() {
  local host=$1 port=$2 slot=${3:-} err
  local args=(-h "$host" -p "$port" -U "$PGHA_REPLICATION_USER" -w -D "$PGDATA" -X stream -c fast)
  pgha_log basebackup "cloning $host:$port into $PGDATA"
  pgha_node_empty_pgdata
  if [[ -z "$slot" ]]; then
    pg_basebackup "${args[@]}" ||
      pgha_die basebackup "pg_basebackup from $host:$port failed: check that $host is the primary and accepts $PGHA_REPLICATION_USER (REPLICATION_PASSWORD)"
    return 0
  fi
  err=$PGHA_PRIVATE_DIR/basebackup.err
  if pg_basebackup "${args[@]}" -C -S "$slot" 2>"$err"; then
    return 0
  fi
  grep -q 'already exists' "$err" || {
    cat "$err" >&2
    pgha_die basebackup "pg_basebackup from $host:$port failed: check that $host is the primary and accepts $PGHA_REPLICATION_USER (REPLICATION_PASSWORD)"
  }
  pgha_log basebackup "slot $slot already exists on $host; reusing it"
  pgha_node_empty_pgdata
  pg_basebackup "${args[@]}" -S "$slot" ||
    pgha_die basebackup "pg_basebackup from $host:$port failed: check that $host is the primary and accepts $PGHA_REPLICATION_USER (REPLICATION_PASSWORD)"
}

# pgha_node_wait_for HOST PORT: until postgres on HOST answers, at most PGHA_PRIMARY_WAIT_SECONDS.
pgha_node_wait_for() {
  local host=$1 port=$2 waited=0
  pgha_log init "waiting for the primary at $host:$port"
  until pg_isready -q -h "$host" -p "$port" -t 3; do
    ((waited < PGHA_PRIMARY_WAIT_SECONDS)) ||
      pgha_die init "primary $host:$port did not answer within $PGHA_PRIMARY_WAIT_SECONDS s; check that it is up and reachable"
    sleep 1
    waited=$((waited + 1))
  done
}

# pgha_node_clone HOST PORT: first start of a standby: copy HOST on a new slot and follow it.
pgha_node_clone() {
  local host=$1 port=$2
  pgha_node_wait_for "$host" "$port"
  pgha_node_basebackup "$host" "$port" "$(pgha_slot_name "$PGHA_NODE")"
  pgha_node_configure_standby "$host" "$port"
}

# pgha_node_guard_copy HOST PORT: before this node's data is replaced by a copy of HOST: never
# on a running primary (only pgpool's failover and online recovery replace a node, and neither
# targets the primary), and only from a HOST that answers, so a wrong name wipes nothing.
pgha_node_guard_copy() {
  local host=$1 port=$2
  pgha_node_copy_lock
  if [[ "$(pgha_node_local_role)" == primary ]]; then
    pgha_die guard "this node runs as a primary: refusing to replace its data with a copy of $host"
  fi
  pg_isready -q -h "$host" -p "$port" -t "$PGHA_CONNECT_TIMEOUT" ||
    pgha_die guard "$host:$port does not answer: refusing to replace this node's data with a copy of it"
}

# pgha_node_copy_lock: one follow or rebuild at a time on this data directory, held until the
# verb's process ends. follow_primary.sh and a rebuild asked through pgpool are separate steps
# that met once (the follow's pg_ctl stop found the rebuild's single-user postgres); the second
# waits for the first, at most PGHA_PG_CTL_TIMEOUT s.
pgha_node_copy_lock() {
  exec {PGHA_COPY_LOCK_FD}>>"$PGHA_COPY_LOCK" || pgha_die guard "cannot open the copy lock $PGHA_COPY_LOCK"
  if ! flock -n "$PGHA_COPY_LOCK_FD"; then
    pgha_log guard "another follow or rebuild of this node is under way: waiting for it (at most $PGHA_PG_CTL_TIMEOUT s)"
    flock -w "$PGHA_PG_CTL_TIMEOUT" "$PGHA_COPY_LOCK_FD" ||
      pgha_die guard "another follow or rebuild of this node still runs after $PGHA_PG_CTL_TIMEOUT s: refusing to replace its data meanwhile"
  fi
}

# pgha_node_follow HOST PORT: a standby of a former primary becomes a standby of HOST:
# pg_rewind onto it, falling back to a full copy when the rewind fails.
pgha_node_follow() {
  local host=$1 port=$2
  pgha_node_guard_copy "$host" "$port"
  pgha_node_hold
  pgha_node_stop_postgres
  pgha_node_rewind_or_clone follow "$host" "$port"
  pgha_node_configure_standby "$host" "$port"
  pgha_node_release
  # follow_primary.sh attaches this node as soon as this returns; attached before postgres
  # accepts connections, the next health check (1 s) would detach it again for good.
  pgha_wait_pg "$PGHA_POSTGRES_SOCKET_DIR" "$PGPORT" "$PGHA_PG_CTL_TIMEOUT" ||
    pgha_die follow "postgres did not accept connections within $PGHA_PG_CTL_TIMEOUT s after the follow; see this node's log"
  pgha_log follow "following $host:$port"
}

# pgha_node_rewind_start_segment: the WAL segment a rewound node replays from (pg_rewind's
# backup_label: the redo point of the last common checkpoint); empty without one.
pgha_node_rewind_start_segment() {
  sed -n 's/^START WAL LOCATION: .*(file \([0-9A-F]\{24\}\))$/\1/p' "$PGDATA/backup_label" 2>/dev/null | head -n 1
}

# pgha_node_rewind_wal_present SOURCE: that segment is in this node's pg_wal or still in the
# source's (conninfo SOURCE, as repl: pg_ls_dir is granted to it). Under heavy writes a spread
# checkpoint's redo point lies far back, the crash recovery pg_rewind runs recycles this node's
# copy, and the source may have removed its own: the rewound node would wait for it forever.
pgha_node_rewind_wal_present() {
  local file found
  file=$(pgha_node_rewind_start_segment)
  [[ -n "$file" && ! -e "$PGDATA/pg_wal/$file" ]] || return 0
  found=$(timeout "$PGHA_REMOTE_STEP_SECONDS" psql -X -At -d "$1" -v f="$file" <<<"SELECT count(*) FROM pg_catalog.pg_ls_dir('pg_wal', true, false) AS w WHERE w = :'f'" 2>/dev/null) || return 1
  [[ "$found" == 1 ]]
}

# pgha_node_rewind_or_clone ACTION HOST PORT: makes this (stopped) node's data directory a
# copy of HOST's. pg_rewind copies only what diverged since the timelines forked (wal_log_hints
# is on), so its cost grows with the divergence, not the database; a clone with
# pg_basebackup is the fallback (an empty or foreign directory, WAL gone on the source).
pgha_node_rewind_or_clone() {
  local action=$1 host=$2 port=$3
  if [[ "$PGHA_FORCE_BASEBACKUP" == 1 ]]; then
    pgha_log "$action" "PGHA_FORCE_BASEBACKUP=1: skipping pg_rewind"
  elif [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    pgha_log "$action" "no data directory to rewind; cloning"
  else
    local source="host=$host port=$port user=$PGHA_REPLICATION_USER dbname=postgres passfile=$PGHA_PGPASS_FILE connect_timeout=$PGHA_CONNECT_TIMEOUT"
    # pg_rewind reads the source's timeline from its last checkpoint: right after a
    # promotion that is still the old timeline, and pg_rewind would find "no rewind
    # required" and leave this node on a forked history. Checkpoint the source first.
    if ! timeout "$PGHA_PG_CTL_TIMEOUT" psql -X -q -d "$source" -c CHECKPOINT 2>&1 | sed 's/^/  checkpoint: /' >&2; then
      pgha_log "$action" "could not checkpoint $host:$port before pg_rewind (repl needs pg_checkpoint); cloning instead"
    else
      pgha_log "$action" "rewinding onto $host:$port"
      if ! pg_rewind -D "$PGDATA" --source-server="$source" 2>&1 | sed 's/^/  pg_rewind: /' >&2; then
        pgha_log "$action" "pg_rewind failed; falling back to pg_basebackup"
      elif pgha_node_rewind_wal_present "$source"; then
        pgha_log "$action" "rewound onto $host:$port"
        return 0
      else
        pgha_log "$action" "rewound, but the WAL it must replay from ($(pgha_node_rewind_start_segment)) is neither here nor on $host any more (a long checkpoint under heavy writes): it could never stream; cloning instead"
      fi
    fi
  fi
  pgha_node_basebackup "$host" "$port"
}

# pgha_node_rebuild HOST PORT: online recovery's copy (recovery_1st_stage); the node stays held
# until pgpool_remote_start releases it.
pgha_node_rebuild() {
  local host=$1 port=$2
  pgha_node_guard_copy "$host" "$port"
  pgha_node_hold
  pgha_node_stop_postgres
  pgha_node_rewind_or_clone rebuild "$host" "$port"
  pgha_node_configure_standby "$host" "$port"
  pgha_log rebuild "rebuilt from $host:$port; held until pgpool_remote_start releases it"
}
