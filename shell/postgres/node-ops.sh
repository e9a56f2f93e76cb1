#!/usr/bin/env bash
# source: shell/postgres/node-ops.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# pgha-node's operations on this node itself: its role (.node_role, and the one query that
# asks postgres whether it is in recovery), the hold marker, stop and promote, synchronous
# replication, replication slots, the received WAL position, the health check and the data
# volume's free space. Sourced by pgha-node.sh, never run.

pgha_node_is_running() { pg_ctl -D "$PGDATA" status >/dev/null 2>&1; }

# pgha_node_psql ARGS...: psql on this node's own socket, as postgres, one value per line.
pgha_node_psql() { psql -X -q -v ON_ERROR_STOP=1 -d postgres -At "$@"; }

# pgha_node_local_role: primary, standby, stopped, or unknown (running but not answering):
# this node's postgres, asked on its socket whether it is in recovery. Every check of the
# local role goes through here (pgha_decide_local_role reads the answer).
pgha_node_local_role() {
  local running=no answer=''
  if pgha_node_is_running; then
    running=yes
    answer=$(pgha_node_psql -c 'SELECT pg_is_in_recovery()' 2>/dev/null) || answer=''
  fi
  pgha_decide_local_role "$running" "$answer"
}

# pgha_node_state: "KIND TIMELINE LSN" of this node's data, for convergence (pgha_decide_converge
# reads it; peers ask it over SSH, which also proves the node is not frozen). Running: primary
# or standby, the timeline it writes or receives and its flushed or received position.
# Stopped: held (behind the hold marker) or stopped, the newest timeline its pg_wal has a file
# or history of (a promotion killed before its first checkpoint still shows), and its last
# checkpoint. Fails when postgres runs but does not answer.
pgha_node_state() {
  local role kind tl lsn
  role=$(pgha_node_local_role)
  case "$role" in
    primary | standby)
      read -r tl lsn < <(pgha_node_psql -F ' ' -c "SELECT CASE WHEN pg_is_in_recovery() THEN greatest(coalesce((SELECT received_tli FROM pg_stat_wal_receiver), 0), (SELECT timeline_id FROM pg_control_checkpoint())) ELSE ('x' || substr(pg_walfile_name(pg_current_wal_flush_lsn()), 1, 8))::bit(32)::int END, CASE WHEN pg_is_in_recovery() THEN greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) ELSE pg_current_wal_flush_lsn() END") || return 1
      kind=$role
      ;;
    stopped)
      kind=stopped
      [[ -e "$PGHA_HOLD_MARKER" ]] && kind=held
      tl=$(pgha_node_wal_timeline)
      lsn=$(LC_ALL=C pg_controldata -D "$PGDATA" 2>/dev/null | sed -n 's/^Latest checkpoint location: *//p')
      ;;
    *) return 1 ;;
  esac
  echo "$kind ${tl:-0} ${lsn:-0/0}"
}

# pgha_node_wal_timeline: the newest timeline of a stopped data directory: its control file's,
# or a newer one that a WAL segment or history file in pg_wal names; 0 without data.
pgha_node_wal_timeline() {
  local tl name hex
  tl=$(LC_ALL=C pg_controldata -D "$PGDATA" 2>/dev/null | sed -n "s/^Latest checkpoint's TimeLineID: *//p")
  tl=${tl:-0}
  for name in "$PGDATA"/pg_wal/*; do
    name=${name##*/}
    [[ "$name" =~ ^([0-9A-F]{8})([0-9A-F]{16}(\.partial)?|\.history)$ ]] || continue
    hex=$((16#${BASH_REMATCH[1]}))
    ((hex > tl)) && tl=$hex
  done
  echo "$tl"
}

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
  if [[ -e "$PGHA_HOLD_MARKER" && -s "$PGHA_HELD_WHY_FILE" && ! -L "$PGHA_HELD_WHY_FILE" ]]; then
    echo "held: $(head -c 400 "$PGHA_HELD_WHY_FILE")"
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

# pgha_node_alive [PID1_COMM]: the health check under an orchestrator (Swarm replaces a task
# whose check fails). Alive: sshd answers, the way in for every repair; postgres may be down on
# purpose (held for a rebuild, starting, copying), which `health` reports and this does not
# count. Before supervisord (and so sshd) runs, the entrypoint is PID 1, waiting for the lease or
# a primary, or making the first copy, which may take long: alive too. PID1_COMM: PID 1's command
# name (default: read from /proc).
pgha_node_alive() {
  local pid1=${1:-$(cat /proc/1/comm 2>/dev/null || true)}
  if ! pgha_port_open 127.0.0.1 "$PGHA_SSH_PORT" 3; then
    if [[ -n "$pid1" && "$pid1" != supervisord ]]; then
      echo "alive (starting: the entrypoint runs as PID 1; sshd starts with supervisord)"
      return 0
    fi
    echo "not alive: sshd does not answer on port $PGHA_SSH_PORT"
    return 1
  fi
  if [[ -e "$PGHA_HOLD_MARKER" ]]; then
    echo "alive (held: postgres stays down until this node is rebuilt or released)"
  else
    echo alive
  fi
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

# --- The data volume's free space (the watch loop acts on it: node-watch.sh).

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
