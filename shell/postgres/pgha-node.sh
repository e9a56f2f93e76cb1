#!/usr/bin/env bash
# source: shell/postgres/pgha-node.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# Node-side operations of a postgres node, run as postgres: locally, by the entrypoint (which
# sources this file and calls the functions), and over SSH from pgpool's failover scripts and
# the recovery functions. The one place that knows how to clone, configure a standby, hold,
# promote, rewind and rebuild this node, and whether it may start on its own data.
#   pgha-node ping
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
#                                       supervisor runs it)
#   pgha-node sync-suspend | sync-restore (on a primary left without standbys / when one is back)
#   pgha-node standby-lost HOST        (on the primary: sync-suspend if HOST was the last streaming standby)
#   pgha-node health                   (the image's HEALTHCHECK)
#   pgha-node disk                     (free space of the data volume: free_mb used_pct reserve_mb state)
set -euo pipefail
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

# sshd sessions do not inherit the image's ENV, so the server binaries are put on PATH here.
PATH=$PGHA_POSTGRES_BIN:$PATH
export PCPPASSFILE=$PGHA_PCPPASS_FILE

_pgha_node_is_sourced() {
  # True when this file is sourced rather than run (the entrypoint and the bats tests source it).
  [[ "${#FUNCNAME[@]}" -ge 2 && "${FUNCNAME[0]}" == _pgha_node_is_sourced && "${FUNCNAME[1]}" == source ]]
}

pgha_node_is_running() { pg_ctl -D "$PGDATA" status >/dev/null 2>&1; }

# pgha_node_psql ARGS...: psql on this node's own socket, as postgres, one value per line.
pgha_node_psql() { psql -X -q -v ON_ERROR_STOP=1 -d postgres -At "$@"; }

pgha_node_set_role() {
  case "$1" in
    MASTER | BACKUP) echo "$1" >"$PGHA_ROLE_FILE" ;;
    *) pgha_die set-role "expected MASTER or BACKUP, got '$1'" ;;
  esac
  pgha_log set-role ".node_role=$1"
}

pgha_node_hold() {
  touch "$PGHA_HOLD_MARKER"
  pgha_log hold "created $PGHA_HOLD_MARKER"
}

pgha_node_release() {
  rm -f "$PGHA_HOLD_MARKER"
  pgha_log release "removed $PGHA_HOLD_MARKER; supervisor starts postgres"
}

pgha_node_stop_postgres() {
  if pgha_node_is_running; then
    pgha_log stop "stopping postgres (fast)"
    pg_ctl -D "$PGDATA" -m fast -w -t "$PGHA_PG_CTL_TIMEOUT" stop >/dev/null ||
      pgha_die stop "postgres did not stop within $PGHA_PG_CTL_TIMEOUT s"
  fi
}

pgha_node_promote() {
  if [[ -e "$PGDATA/standby.signal" ]]; then
    pgha_log promote "promoting"
    pg_ctl -D "$PGDATA" -w -t "$PGHA_PG_CTL_TIMEOUT" promote >/dev/null ||
      pgha_die promote "pg_ctl promote failed; see this node's postgres log"
  else
    pgha_log promote "no standby.signal: already a primary"
  fi
  pgha_node_set_role MASTER
  pgha_node_sync_suspend
}

# pgha_node_receive_lsn: the WAL position this standby has received (replayed, when it streams
# nothing), for failover.sh to pick the most advanced standby; fails on a primary.
pgha_node_receive_lsn() {
  local lsn
  lsn=$(pgha_node_psql -c 'SELECT CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) END')
  [[ -n "$lsn" ]] || pgha_die receive-lsn "not a standby"
  echo "$lsn"
}

# pgha_node_durability: available or strict, as the container was started (the file the
# entrypoint wrote; an SSH session has only the defaults in its environment).
pgha_node_durability() {
  if [[ -r "$PGHA_DURABILITY_FILE" ]]; then cat "$PGHA_DURABILITY_FILE"; else echo "$PGHA_DURABILITY"; fi
}

# A promoted node has no standby yet: with synchronous replication every commit would wait
# for one forever. Commits are asynchronous until a standby is attached again (sync-restore),
# unless the cluster's durability is strict: then they wait.
pgha_node_sync_suspend() {
  local names
  names=$(pgha_node_psql -c 'SHOW synchronous_standby_names')
  [[ -n "$names" ]] || return 0
  if [[ "$(pgha_node_durability)" == strict ]]; then
    pgha_log sync-suspend "durability strict: synchronous replication ($names) stays; commits wait until a standby confirms them"
    return 0
  fi
  pgha_node_psql -c "ALTER SYSTEM SET synchronous_standby_names = ''" -c 'SELECT pg_reload_conf()' >/dev/null
  pgha_log sync-suspend "synchronous replication ($names) suspended until a standby is attached again"
}

# pgha_node_standby_lost HOST: pgpool detached the standby HOST (dead, frozen, cut off). With
# synchronous replication and no other standby streaming, every commit would wait until HOST
# is back, for ever if it never is: commits are asynchronous until a standby is attached again
# (failback.sh runs sync-restore). Another streaming standby still confirms commits: nothing
# changes. HOST's own walsender can look "streaming" for wal_sender_timeout after it froze, so
# it is left out by name.
pgha_node_standby_lost() {
  local host=$1 others
  [[ -n "$(pgha_node_psql -c 'SHOW synchronous_standby_names')" ]] || return 0
  others=$(pgha_node_psql -v host="$host" <<'SQL'
SELECT coalesce(string_agg(application_name, ',' ORDER BY application_name), '')
FROM pg_stat_replication WHERE state = 'streaming' AND application_name <> :'host';
SQL
  )
  if [[ -n "$others" ]]; then
    pgha_log standby-lost "$host detached; $others still confirm commits: synchronous replication stays"
  else
    pgha_log standby-lost "$host was the last standby streaming"
    pgha_node_sync_suspend
  fi
}

# pgha_node_data_major_problem: prints why this image cannot run the database cluster in
# $PGDATA (one made by another PostgreSQL major, which postgres would refuse over and over
# under supervisor), or nothing. Reads PG_VERSION only. The entrypoint refuses to start on
# it; the health check names it.
pgha_node_data_major_problem() {
  local found
  # Root reads it at start: never through a link postgres could have planted there.
  [[ -n "${PG_MAJOR:-}" && -s "$PGDATA/PG_VERSION" && ! -L "$PGDATA/PG_VERSION" ]] || return 0
  found=$(head -c 16 "$PGDATA/PG_VERSION" | tr -d '[:space:]')
  [[ "$found" == "$PG_MAJOR" ]] && return 0
  printf '%s\n' "$PGDATA holds a PostgreSQL ${found:-?} database cluster and this image runs PostgreSQL $PG_MAJOR: postgres is not started; upgrade the data directory (pg_upgrade, or dump and restore) or run the image of its major"
}

# pgha_node_health: the image's HEALTHCHECK. Healthy: postgres accepts connections and is a
# primary, or a standby whose WAL receiver streams. Held behind the marker (waiting to be
# rebuilt), starting, or a standby that does not stream is unhealthy; one line says which.
pgha_node_health() {
  local state
  if [[ "$(id -u)" == 0 ]]; then
    exec runuser -u postgres -- "$PGHA_NODE_CMD" health
  fi
  state=$(pgha_node_data_major_problem)
  if [[ -n "$state" ]]; then
    echo "refused: $state"
    return 1
  fi
  if [[ -e "$PGHA_HOLD_MARKER" && -e "$PGHA_DISK_FULL_MARKER" ]]; then
    echo "held: the data volume ran full ($(pgha_node_disk_free_mb) MB free); rejoins once $((2 * PGHA_DISK_RESERVE_MB)) MB are free"
    return 1
  fi
  if [[ -e "$PGHA_HOLD_MARKER" ]]; then
    echo "held: $PGHA_HOLD_MARKER present (postgres down until it is rebuilt or released)"
    return 1
  fi
  if ! state=$(timeout 5 psql -X -q -At -h "$PGHA_POSTGRES_SOCKET_DIR" -d postgres -c "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 'primary' WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 'standby, streaming' ELSE 'standby, not streaming' END" 2>&1); then
    echo "postgres does not answer: ${state##*$'\n'}"
    return 1
  fi
  echo "$state"
  [[ "$state" != *"not streaming" ]]
}

pgha_node_sync_restore() {
  if grep -q '^synchronous_standby_names' "$PGDATA/postgresql.auto.conf" 2>/dev/null; then
    pgha_node_psql -c 'ALTER SYSTEM RESET synchronous_standby_names' -c 'SELECT pg_reload_conf()' >/dev/null
    pgha_log sync-restore "synchronous_standby_names back to the configured '$(pgha_node_psql -c 'SHOW synchronous_standby_names')'"
  fi
}

pgha_node_ensure_slot() {
  local slot=$1
  pgha_node_psql -v slot="$slot" <<'SQL'
SELECT pg_create_physical_replication_slot(:'slot')
WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');
SQL
  pgha_log ensure-slot "replication slot $slot present"
}

pgha_node_drop_slot() {
  local slot=$1
  pgha_node_psql -v slot="$slot" <<'SQL'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
WHERE slot_name = :'slot' AND NOT active;
SQL
  pgha_log drop-slot "replication slot $slot dropped (if it was there and inactive)"
}

# pgha_node_configure_standby HOST PORT: point this data directory at HOST as a streaming
# standby on this node's replication slot.
pgha_node_configure_standby() {
  local host=$1 port=$2 slot
  slot=$(pgha_slot_name "$PGHA_NODE")
  touch "$PGDATA/standby.signal"
  cat >>"$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$host port=$port user=$PGHA_REPLICATION_USER application_name=$PGHA_NODE passfile=$PGHA_PGPASS_FILE'
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
  if pgha_node_is_running && [[ "$(pgha_node_psql -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" == f ]]; then
    pgha_die guard "this node runs as a primary: refusing to replace its data with a copy of $host"
  fi
  pg_isready -q -h "$host" -p "$port" -t "$PGHA_CONNECT_TIMEOUT" ||
    pgha_die guard "$host:$port does not answer: refusing to replace this node's data with a copy of it"
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

# pgha_node_rewind_or_clone ACTION HOST PORT: makes this (stopped) node's data directory a
# copy of HOST's. pg_rewind copies only what diverged since the timelines forked (wal_log_hints
# is on), so its cost grows with the divergence, not the database; a clone with
# pg_basebackup is the fallback (an empty or foreign directory, WAL gone on the source).
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

# --- Whether a node that may have been away may start on its own data.

# pgha_node_pool_nodes: "id|host|status|role" of every backend, as pgpool behind the
# delegate IP sees them; fails when pgpool does not answer. Asked over pcp, which answers
# while pgpool fails over and while no backend is up (SHOW pool_nodes needs a backend
# session, so it is refused exactly when the answer matters), and bounded in total.
pgha_node_pool_nodes() {
  local out
  out=$(timeout "$PGHA_REMOTE_STEP_SECONDS" pcp_node_info -h "$PGHA_DELEGATE_IP" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w 2>/dev/null) || return 1
  # One line per backend, in id order: hostname port status weight status_name backend_status role ...
  # "waiting" is a backend that is up but that no pgpool child has connected to since its last
  # status change (a pgpool that just became leader reports its primary so): it is up. Read as
  # anything else, an old primary returning right after a leader change started as a second
  # primary, and its fence loop never saw pgpool's primary.
  awk '{ status = $5 == "waiting" ? "up" : $5; print NR - 1 "|" $1 "|" status "|" $7 }' <<<"$out"
}

# _pgha_node_ask HOST: psql to postgres on HOST directly, as the pgpool role; SQL on stdin.
_pgha_node_ask() {
  local pw
  pw=$(pgha_read_secret PGPOOL_PASSWORD) || return 1
  # Bounded in total: a frozen peer completes the TCP handshake and then never answers.
  PGPASSWORD=$pw PGCONNECT_TIMEOUT=$PGHA_CONNECT_TIMEOUT timeout "$PGHA_REMOTE_STEP_SECONDS" \
    psql -X -h "$1" -p "$PGPORT" -U "$PGHA_PGPOOL_USER" -d postgres -At "${@:2}" 2>/dev/null
}

# pgha_node_running_primary_peer: the first other postgres node that answers as a primary, if any.
pgha_node_running_primary_peer() {
  local peer
  for peer in ${PGHA_POSTGRES_PEERS//,/ }; do
    [[ "$peer" == "$PGHA_NODE" ]] && continue
    if [[ "$(_pgha_node_ask "$peer" <<<'SELECT pg_is_in_recovery()')" == f ]]; then
      echo "$peer"
      return 0
    fi
  done
}

# pgha_node_slot_on HOST: this node's replication slot exists on HOST and still holds its WAL.
pgha_node_slot_on() {
  # psql expands :'slot' only in input it reads, not in -c.
  [[ "$(_pgha_node_ask "$1" -v slot="$(pgha_slot_name "$PGHA_NODE")" \
    <<<"SELECT count(*) FROM pg_replication_slots WHERE slot_name = :'slot' AND wal_status IS DISTINCT FROM 'lost'")" == 1 ]]
}

# pgha_node_recorded_upstream: the host this data directory streams from, or nothing when it
# is not a standby.
pgha_node_recorded_upstream() {
  [[ -e "$PGDATA/standby.signal" ]] || return 0
  sed -n "s/^primary_conninfo = '.*host=\([^ ']*\).*/\1/p" "$PGDATA/postgresql.auto.conf" | tail -n 1
}

# pgha_node_decide_start: before starting, a node that may have been away asks pgpool (through
# the delegate IP) who the primary is; when pgpool is silent (down, starting, or busy with a
# failover), whether another node already runs as primary. If another node is the healthy
# primary and this one is not its standby with a slot there (an old primary, a wiped volume,
# a standby of a dead primary or one whose slot was dropped), it must not start on its own
# data. Prints "start" or "rejoin"; "start" also when nobody knows of a primary (the first
# start of a cluster). Its inputs are the functions above and PGDATA, so a test can stub them.
pgha_node_decide_start() {
  local waited=0 nodes primary upstream what
  [[ -n "$PGHA_DELEGATE_IP" ]] || {
    echo start
    return 0
  }
  while :; do
    if ! nodes=$(pgha_node_pool_nodes) || [[ -z "$nodes" ]]; then
      primary=$(pgha_node_running_primary_peer)
      if [[ -z "$primary" ]]; then
        pgha_log rejoin-check "pgpool does not answer at $PGHA_DELEGATE_IP:$PGHA_PGPOOL_PORT and no other node (${PGHA_POSTGRES_PEERS:-none}) runs as primary; going by the data on disk"
        echo start
        return 0
      fi
      pgha_log rejoin-check "pgpool does not answer at $PGHA_DELEGATE_IP:$PGHA_PGPOOL_PORT, but $primary runs as primary"
      break
    fi
    primary=$(awk -F'|' '$3 == "up" && $4 == "primary" { print $2; exit }' <<<"$nodes")
    [[ -n "$primary" ]] && break
    # No other backend up: the whole cluster is starting (or every node died), and no
    # failover can be under way without a live standby to promote.
    if ! awk -F'|' -v me="$PGHA_NODE" '$3 == "up" && $2 != me { found = 1 } END { exit !found }' <<<"$nodes"; then
      pgha_log rejoin-check "pgpool sees no other backend up (the cluster is starting, or every node was down); going by the data on disk"
      echo start
      return 0
    fi
    if ((waited >= PGHA_PRIMARY_WAIT_SECONDS)); then
      pgha_log rejoin-check "pgpool knows no healthy primary after $PGHA_PRIMARY_WAIT_SECONDS s; starting with the role on disk"
      echo start
      return 0
    fi
    pgha_log rejoin-check "pgpool knows no healthy primary yet while another backend is up (a failover may be under way); waiting ($waited/$PGHA_PRIMARY_WAIT_SECONDS s)"
    sleep 2
    waited=$((waited + 2))
  done
  if [[ "$primary" == "$PGHA_NODE" ]]; then
    pgha_log rejoin-check "pgpool sees this node as the primary; starting"
    echo start
    return 0
  fi
  upstream=$(pgha_node_recorded_upstream)
  if [[ -s "$PGDATA/PG_VERSION" && "$upstream" == "$primary" ]]; then
    # failover.sh drops a failed standby's slot; without it this standby cannot stream
    # (and the WAL it needs may be gone), so it is rebuilt instead.
    if pgha_node_slot_on "$primary"; then
      pgha_log rejoin-check "this node is a standby of the primary $primary and its slot is there; starting"
      echo start
      return 0
    fi
    pgha_log rejoin-check "this node is a standby of $primary but its replication slot $(pgha_slot_name "$PGHA_NODE") is gone there"
  fi
  what="empty"
  if [[ -s "$PGDATA/PG_VERSION" && -n "$upstream" ]]; then
    what="a standby of $upstream"
  elif [[ -s "$PGDATA/PG_VERSION" ]]; then
    what="a former primary's"
  fi
  pgha_log rejoin-check "the primary is $primary and this node's data directory is $what; it must be rebuilt"
  echo rejoin
}

# pgha_node_hold_for_rejoin: keep postgres down and ask (through pgha-node rejoin, which
# supervisor runs once sshd is up) to be rebuilt from the primary.
pgha_node_hold_for_rejoin() {
  touch "$PGHA_HOLD_MARKER" "$PGHA_REJOIN_REQUEST"
  echo BACKUP >"$PGHA_ROLE_FILE"
  pgha_log rejoin "held behind $PGHA_HOLD_MARKER, .node_role=BACKUP; pgha-node rejoin asks pgpool for pcp_recovery_node of node $PGHA_NODE_ID"
}

# pgha_node_rejoin: the entrypoint found another primary and held this node; ask pgpool (any
# node, through the delegate IP) to rebuild it. pgpool runs recovery_1st_stage on the primary,
# which clones the primary here over SSH, then pgpool_remote_start releases the hold.
pgha_node_rejoin() {
  local n=0
  [[ -e "$PGHA_REJOIN_REQUEST" ]] || return 0
  : "${PGHA_DELEGATE_IP:?}" "${PGHA_NODE_ID:?}"
  # sshd must be listening before the primary connects back to clone this node.
  pgha_wait_port 127.0.0.1 "$PGHA_SSH_PORT" 10 || pgha_log rejoin "WARNING: sshd is not listening on $PGHA_SSH_PORT after 10 s; asking all the same"
  while ((n < PGHA_REJOIN_TRIES)); do
    n=$((n + 1))
    pgha_log rejoin "asking pgpool at $PGHA_DELEGATE_IP:$PGHA_PCP_PORT to rebuild node $PGHA_NODE_ID (attempt $n/$PGHA_REJOIN_TRIES)"
    if timeout "$PGHA_RECOVERY_WAIT_SECONDS" pcp_recovery_node -h "$PGHA_DELEGATE_IP" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w -n "$PGHA_NODE_ID" 2>&1 |
      sed 's/^/  pcp_recovery_node: /' >&2; then
      rm -f "$PGHA_REJOIN_REQUEST"
      pgha_log rejoin "node $PGHA_NODE_ID rebuilt and attached as a standby"
      return 0
    fi
    pgha_log rejoin "WARNING: pcp_recovery_node for node $PGHA_NODE_ID failed; check PCP_PASSWORD, pcp_port $PGHA_PCP_PORT on $PGHA_DELEGATE_IP and the primary's log (recovery_1st_stage); retrying in $PGHA_REJOIN_RETRY_SECONDS s"
    sleep "$PGHA_REJOIN_RETRY_SECONDS"
  done
  pgha_die rejoin "node $PGHA_NODE_ID could not be rebuilt after $PGHA_REJOIN_TRIES attempts; postgres stays held. Run pcp_recovery_node -n $PGHA_NODE_ID by hand once the cause is fixed"
}

# --- Fencing: a primary that pgpool no longer routes to stops itself.

# pgha_node_fence_verdict: "fence HOST" when this node runs as a primary while pgpool, asked
# through the delegate IP, routes to HOST as its up primary; "ok" otherwise, including when
# pgpool does not answer (no evidence, no action: a whole-cluster start looks the same).
pgha_node_fence_verdict() {
  local nodes primary
  if ! pgha_node_is_running || [[ "$(pgha_node_psql -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" != f ]]; then
    echo ok
    return 0
  fi
  if ! nodes=$(pgha_node_pool_nodes) || [[ -z "$nodes" ]]; then
    echo ok
    return 0
  fi
  primary=$(awk -F'|' '$3 == "up" && $4 == "primary" { print $2; exit }' <<<"$nodes")
  # pgpool's view can lag (a pgpool still starting, before it has found the roles): the other
  # node must also say itself that it is a primary before this one steps down.
  if [[ -n "$primary" && "$primary" != "$PGHA_NODE" ]] && pgha_node_peer_is_primary "$primary"; then
    echo "fence $primary"
  else
    echo ok
  fi
}

# pgha_node_peer_is_primary HOST: HOST answers, as the replication role (whose pass file
# every process of the node can read; the pgpool role's secret stays with the entrypoint),
# that it is not in recovery. Bounded in total.
pgha_node_peer_is_primary() {
  [[ "$(timeout "$PGHA_REMOTE_STEP_SECONDS" psql -X -At -d "host=$1 port=$PGPORT user=$PGHA_REPLICATION_USER dbname=postgres passfile=$PGHA_PGPASS_FILE connect_timeout=$PGHA_CONNECT_TIMEOUT" \
    -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" == f ]]
}

# pgha_node_fence PRIMARY: stops postgres at once (immediate: not one more commit on a second
# primary), holds it behind the marker and asks pgpool to rebuild it as PRIMARY's standby.
pgha_node_fence() {
  local primary=$1
  pgha_log fence "this node runs as a primary but pgpool routes writes to $primary: stopping postgres now and rejoining as a standby"
  touch "$PGHA_HOLD_MARKER" "$PGHA_REJOIN_REQUEST"
  echo BACKUP >"$PGHA_ROLE_FILE"
  pg_ctl -D "$PGDATA" -m immediate -w -t "$PGHA_PG_CTL_TIMEOUT" stop >/dev/null ||
    pgha_log fence "WARNING: pg_ctl stop did not confirm within $PGHA_PG_CTL_TIMEOUT s"
  pgha_node_rejoin
}

# --- A full data volume: a primary hands over while a standby has all its WAL.

# pgha_node_disk_free_mb: MB the postgres account can still write on the data volume.
pgha_node_disk_free_mb() {
  df -P -m "$PGDATA" 2>/dev/null | awk 'NR == 2 { print $4 }'
}

# pgha_node_disk: one line for status and doctor: free MB, used %, the reserve, and the state:
# ok, low (below the reserve) or held (stopped because the volume ran full).
pgha_node_disk() {
  local state=ok free
  free=$(pgha_node_disk_free_mb)
  [[ -n "$free" ]] || pgha_die disk "df cannot read the file system of $PGDATA"
  ((free >= PGHA_DISK_RESERVE_MB)) || state=low
  [[ -e "$PGHA_DISK_FULL_MARKER" && -e "$PGHA_HOLD_MARKER" ]] && state=held
  df -P -m "$PGDATA" | awk -v reserve="$PGHA_DISK_RESERVE_MB" -v state="$state" 'NR == 2 { sub(/%/, "", $5); print "free_mb=" $4, "used_pct=" $5, "reserve_mb=" reserve, "state=" state }'
}

# pgha_node_disk_verdict: on a running primary whose volume has less than the reserve free:
# "handover" when a standby streams and has flushed all the WAL this primary flushed (with
# synchronous replication every acknowledged commit is there; asynchronous, the few
# milliseconds to the stop are the usual asynchronous risk), "full" when none does (the
# primary keeps running: reads work, writes that need space fail); "ok" otherwise.
pgha_node_disk_verdict() {
  local free caught_up
  free=$(pgha_node_disk_free_mb)
  if [[ -z "$free" ]] || ((free >= PGHA_DISK_RESERVE_MB)) || ! pgha_node_is_running ||
    [[ "$(pgha_node_psql -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" != f ]]; then
    echo ok
    return 0
  fi
  caught_up=$(pgha_node_psql -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND flush_lsn >= pg_current_wal_flush_lsn()" 2>/dev/null)
  if [[ "${caught_up:-0}" -gt 0 ]]; then echo handover; else echo full; fi
}

# pgha_node_disk_hand_over: stop the primary at once (a shutdown checkpoint needs room the
# volume no longer has) and hold it; pgpool's health check then fails it over to the standby
# that has its WAL. The node asks to be rebuilt once the volume has room again.
pgha_node_disk_hand_over() {
  pgha_log disk "the data volume has $(pgha_node_disk_free_mb) MB free (reserve $PGHA_DISK_RESERVE_MB MB) and a standby has all the WAL: stopping postgres so pgpool promotes it; this node rejoins as a standby once $((2 * PGHA_DISK_RESERVE_MB)) MB are free"
  touch "$PGHA_DISK_FULL_MARKER"
  touch "$PGHA_HOLD_MARKER" || pgha_log disk "WARNING: cannot create $PGHA_HOLD_MARKER on the full volume"
  echo BACKUP >"$PGHA_ROLE_FILE" || true
  pg_ctl -D "$PGDATA" -m immediate -w -t "$PGHA_PG_CTL_TIMEOUT" stop >/dev/null ||
    pgha_log disk "WARNING: pg_ctl stop did not confirm within $PGHA_PG_CTL_TIMEOUT s"
}

# pgha_node_disk_rejoin_if_room: a node held because its volume ran full asks to be rebuilt
# once twice the reserve is free (an operator removed what filled it, or grew the volume).
pgha_node_disk_rejoin_if_room() {
  local free
  [[ -e "$PGHA_DISK_FULL_MARKER" && -e "$PGHA_HOLD_MARKER" ]] || return 0
  free=$(pgha_node_disk_free_mb)
  [[ -n "$free" ]] && ((free >= 2 * PGHA_DISK_RESERVE_MB)) || return 0
  pgha_log disk "the data volume has $free MB free again: asking to be rebuilt as a standby"
  rm -f "$PGHA_DISK_FULL_MARKER"
  touch "$PGHA_REJOIN_REQUEST"
  pgha_node_rejoin
}

# --- Attaching: a standby that streams from pgpool's primary while pgpool has it down.

# pgha_node_wal_sender: the host this standby streams from right now (its walreceiver is
# streaming), or nothing.
pgha_node_wal_sender() {
  pgha_node_psql -c "SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null || true
}

# pgha_node_attach_verdict: "attach" when this node is a standby, not held, streaming from the
# node pgpool (through the delegate IP) routes writes to, while pgpool has this node down;
# "ok" otherwise. This replaces pgpool's auto_failback, which decides on the primary's
# pg_stat_replication as last seen by a pgpool node's check worker: right after a failover that
# is stale, and the other pgpool nodes attached a standby the leader had just marked down to
# re-point it (pgpool's follow degeneration), so follow_primary never ran for it and it kept
# streaming from nowhere. Asked on the node itself, "streaming from the new primary" is true
# only once it has followed it.
pgha_node_attach_verdict() {
  local nodes sender primary
  if [[ -e "$PGHA_HOLD_MARKER" ]] || ! pgha_node_is_running || [[ "$(pgha_node_psql -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" != t ]]; then
    echo ok
    return 0
  fi
  sender=$(pgha_node_wal_sender)
  if [[ -z "$sender" ]] || ! nodes=$(pgha_node_pool_nodes) || [[ -z "$nodes" ]]; then
    echo ok
    return 0
  fi
  primary=$(awk -F'|' '$3 == "up" && $4 == "primary" { print $2; exit }' <<<"$nodes")
  if [[ "$primary" == "$sender" ]] && awk -F'|' -v me="$PGHA_NODE" '$2 == me && $3 == "down" { found = 1 } END { exit !found }' <<<"$nodes"; then
    echo attach
  else
    echo ok
  fi
}

# pgha_node_attach: pcp_attach_node for this node through the delegate IP (bounded); pgpool
# runs failback.sh, which restores synchronous replication if the primary had suspended it.
pgha_node_attach() {
  pgha_log attach "streaming from the primary $(pgha_node_wal_sender) while pgpool has node $PGHA_NODE_ID down: attaching it (pcp_attach_node)"
  if timeout "$PGHA_REMOTE_STEP_SECONDS" pcp_attach_node -h "$PGHA_DELEGATE_IP" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w -n "$PGHA_NODE_ID" >/dev/null 2>&1; then
    pgha_log attach "node $PGHA_NODE_ID attached"
  else
    pgha_log attach "WARNING: pcp_attach_node -n $PGHA_NODE_ID failed or took over $PGHA_REMOTE_STEP_SECONDS s; trying again at the next check"
  fi
}

# pgha_node_disk_watch: counts the watch checks in a row that find the primary's volume below
# the reserve (PGHA_DISK_LOW_TICKS, kept by the loop); at PGHA_DISK_TICKS it hands over, or,
# with no standby to take over, says so once a minute.
PGHA_DISK_LOW_TICKS=0
pgha_node_disk_watch() {
  local verdict
  verdict=$(pgha_node_disk_verdict)
  if [[ "$verdict" == ok ]]; then
    PGHA_DISK_LOW_TICKS=0
    return 0
  fi
  PGHA_DISK_LOW_TICKS=$((PGHA_DISK_LOW_TICKS + 1))
  ((PGHA_DISK_LOW_TICKS >= PGHA_DISK_TICKS)) || return 0
  if [[ "$verdict" == handover ]]; then
    PGHA_DISK_LOW_TICKS=0
    pgha_node_disk_hand_over
  elif (((PGHA_DISK_LOW_TICKS - PGHA_DISK_TICKS) % (60 / PGHA_WATCH_INTERVAL_SECONDS + 1) == 0)); then
    pgha_log disk "WARNING: the data volume has $(pgha_node_disk_free_mb) MB free (reserve $PGHA_DISK_RESERVE_MB MB) and no standby has all the WAL to take over: this primary keeps running; writes that need space fail until space is freed"
  fi
}

# pgha_node_check_superuser_role: POSTGRES_USER is made only at the first initialisation (as
# the official image does); a cluster started later with another POSTGRES_USER has no such role
# and its clients cannot log in. Says so once postgres answers; fails while it does not.
pgha_node_check_superuser_role() {
  local found
  found=$(pgha_node_psql -v u="$POSTGRES_USER" <<<"SELECT count(*) FROM pg_roles WHERE rolname = :'u'" 2>/dev/null) || return 1
  [[ "$found" == 0 ]] || return 0
  pgha_log start "WARNING: POSTGRES_USER=$POSTGRES_USER has no role in this database cluster: POSTGRES_USER is used only at the first initialisation; create the role (CREATE ROLE \"$POSTGRES_USER\" LOGIN SUPERUSER PASSWORD ...) or set POSTGRES_USER back"
}

# pgha_node_watch_loop: both checks above every PGHA_WATCH_INTERVAL_SECONDS, for as long as the
# node runs (supervisor keeps it running). A node without a delegate IP has no pgpool to ask.
pgha_node_watch_loop() {
  local verdict role_checked=0
  if [[ -z "$PGHA_DELEGATE_IP" ]]; then
    pgha_log watch "no delegate IP (a standalone node): nothing to fence against or attach to"
    exec sleep infinity
  fi
  : "${PGHA_NODE_ID:?}"
  while :; do
    sleep "$PGHA_WATCH_INTERVAL_SECONDS"
    if ((!role_checked)) && pgha_node_check_superuser_role; then role_checked=1; fi
    verdict=$(pgha_node_fence_verdict)
    if [[ "$verdict" == fence\ * ]]; then
      pgha_node_fence "${verdict#fence }"
      continue
    fi
    if [[ "$(pgha_node_attach_verdict)" == attach ]]; then pgha_node_attach; fi
    pgha_node_disk_watch
    pgha_node_disk_rejoin_if_room
  done
}

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
    receive-lsn) pgha_node_receive_lsn ;;
    sync-suspend) pgha_node_sync_suspend ;;
    sync-restore) pgha_node_sync_restore ;;
    standby-lost) pgha_node_standby_lost "${1:?host}" ;;
    health) pgha_node_health ;;
    disk) pgha_node_disk ;;
    *) pgha_die usage "unknown command '$cmd' (ping, promote, set-role, ensure-slot, drop-slot, follow, rebuild, hold, release, rejoin, watch-loop, receive-lsn, sync-suspend, sync-restore, standby-lost, health, disk)" ;;
  esac
}

if ! _pgha_node_is_sourced; then
  _pgha_node_main "$@"
fi
