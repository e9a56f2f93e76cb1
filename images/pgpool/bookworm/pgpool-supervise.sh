#!/usr/bin/env bash
# source: shell/pgpool/pgpool-supervise.sh of pgha, copied verbatim into every pgpool image's build
# context by `npm run generate`; edit the source, not the copy.
#
# pgpool run under the entrypoint's own small supervisor, which stays PID 1: docker stop becomes
# a fast shutdown, and pgpool is started again after it exits; and the image's health check.
# Sourced by entrypoint.sh (after pgha-lib.sh), never on its own.

# pgha_pgpool_run ARGS...: pgpool in the foreground as postgres. It replaces the shell it runs
# in (the supervisor's background subshell), so that child's pid is pgpool's main process and
# the supervisor's signals reach pgpool itself.
pgha_pgpool_run() {
  exec setpriv --reuid=postgres --regid=postgres --init-groups \
    env HOME="$PGHA_PGPOOL_WORK_DIR" PGPOOLKEYFILE="$PGHA_PGPOOLKEY_FILE" PCPPASSFILE="$PGHA_PCPPASS_FILE" \
    pgpool -n -f "$PGHA_PGPOOL_CONF_DIR/pgpool.conf" -F "$PGHA_PGPOOL_CONF_DIR/pcp.conf" -a "$PGHA_PGPOOL_CONF_DIR/pool_hba.conf" "$@"
}

# pgha_pgpool_restart_delay N: seconds before the Nth restart in a row: 1, 2, 4, ... at most
# PGHA_PGPOOL_RESTART_MAX_DELAY, so a node whose network is back rejoins within that bound.
pgha_pgpool_restart_delay() {
  local n=$1 delay=1
  while ((n > 1 && delay < PGHA_PGPOOL_RESTART_MAX_DELAY)); do
    delay=$((delay * 2))
    n=$((n - 1))
  done
  echo $((delay < PGHA_PGPOOL_RESTART_MAX_DELAY ? delay : PGHA_PGPOOL_RESTART_MAX_DELAY))
}

# pgha_pgpool_after_exit RUN SECONDS STOPPING: what to do once pgpool's run number RUN ended
# after SECONDS: "stop" (docker stop asked for it), "fail" (the first run ended within
# PGHA_PGPOOL_SETTLE_SECONDS: it could not start, so the container exits with its status),
# or "restart".
pgha_pgpool_after_exit() {
  if (($3)); then
    echo stop
  elif (($1 == 1 && $2 < PGHA_PGPOOL_SETTLE_SECONDS)); then
    echo fail
  else
    echo restart
  fi
}

# pgha_pgpool_request_stop: the TERM/INT trap. pgpool takes SIGTERM as a smart shutdown that
# waits for every client to leave, which the engine cuts short with SIGKILL after its grace
# period; SIGINT is its fast shutdown (clients disconnected, the delegate IP released).
pgha_pgpool_request_stop() {
  PGHA_PGPOOL_STOPPING=1
  [[ -n "${PGHA_PGPOOL_PID:-}" ]] && kill -INT "$PGHA_PGPOOL_PID" 2>/dev/null
  return 0
}

# pgha_pgpool_wait_child PID: waits until PID has exited, through any trapped signal, and
# sets PGHA_PGPOOL_EXIT to its status.
pgha_pgpool_wait_child() {
  local rc again
  while :; do
    if wait "$1"; then rc=0; else rc=$?; fi
    # A trapped signal interrupts the wait (128+n) while the child runs on: wait again.
    kill -0 "$1" 2>/dev/null || break
  done
  # The child is gone, but rc can still be an interruption's 128+n when the signal came as it
  # ended (docker stop: 143 logged for a clean shutdown). bash keeps the child's own status
  # for a second wait; where it does not (127), rc stands.
  if wait "$1" 2>/dev/null; then again=0; else again=$?; fi
  ((again == 127)) || rc=$again
  PGHA_PGPOOL_EXIT=$rc
}

# pgha_pgpool_clean_after_exit: what a dead pgpool leaves behind and a new one must not find:
# children that outlived it (they hold the ports), its pid file and sockets, and the delegate
# IP, which no pgpool serves until the watchdog elects a leader again.
pgha_pgpool_clean_after_exit() {
  pkill -KILL -u postgres -x pgpool 2>/dev/null || true
  pgha_fresh_dir "$PGHA_PGPOOL_SOCKET_DIR" 0755 postgres
  if [[ -r "$PGHA_VIP_CONF" ]] && [[ "$("$PGHA_VIP_BIN" down 2>/dev/null || true)" == removed* ]]; then
    pgha_log vip-down "delegate IP released: its pgpool is gone"
  fi
  return 0
}

# pgha_pgpool_supervise COMMAND...: runs COMMAND (pgpool) as a child and stays PID 1 around it.
# pgpool's watchdog makes pgpool exit when it finds this node cut off from the network
# ("system has lost the network") and relies on a service manager to start it again; in a
# container this is that manager, so a node rejoins once its network is back whatever the
# engine's restart policy does (Docker gives up restarting a container whose network was
# disconnected). docker stop becomes pgpool's fast shutdown and exit 0.
pgha_pgpool_supervise() {
  local run=0 in_a_row=0 started ran delay
  PGHA_PGPOOL_STOPPING=0
  trap pgha_pgpool_request_stop TERM INT
  while :; do
    run=$((run + 1))
    started=$SECONDS
    "$@" &
    PGHA_PGPOOL_PID=$!
    pgha_pgpool_wait_child "$PGHA_PGPOOL_PID"
    PGHA_PGPOOL_PID=
    ran=$((SECONDS - started))
    case "$(pgha_pgpool_after_exit "$run" "$ran" "$PGHA_PGPOOL_STOPPING")" in
      stop)
        pgha_log stop "pgpool shut down (status $PGHA_PGPOOL_EXIT)"
        return 0
        ;;
      fail)
        pgha_log start "ERROR: pgpool exited with status $PGHA_PGPOOL_EXIT ${ran} s after it started; not restarted"
        return "$PGHA_PGPOOL_EXIT"
        ;;
    esac
    # A run that lasted a while starts the backoff over.
    ((ran >= 60)) && in_a_row=0
    in_a_row=$((in_a_row + 1))
    delay=$(pgha_pgpool_restart_delay "$in_a_row")
    pgha_log restart "pgpool exited with status $PGHA_PGPOOL_EXIT after ${ran} s; starting it again in ${delay} s (restart $((run)))"
    pgha_pgpool_clean_after_exit
    sleep "$delay" &
    wait $! || true
    if ((PGHA_PGPOOL_STOPPING)); then
      pgha_log stop "stopped while pgpool was down"
      return 0
    fi
  done
}

# pgha_pgpool_alive: the health check under an orchestrator (`entrypoint.sh alive`). Alive:
# a pgpool process runs, joined to the watchdog or not; between two runs the entrypoint's
# supervisor waits at most PGHA_PGPOOL_RESTART_MAX_DELAY, shorter than the checks' retries.
pgha_pgpool_alive() {
  if pgha_process_running pgpool; then
    echo "alive: pgpool runs"
  else
    echo "not alive: no pgpool process"
    return 1
  fi
}

# pgha_pgpool_health: the image's HEALTHCHECK (`entrypoint.sh health`). Healthy: pgpool answers
# on its port and, with the watchdog on, this node is its leader or a joined standby; a node
# cut off (LOST), still joining, or restarting is not. One line on stdout says which.
pgha_pgpool_health() {
  local state
  if ! pgha_port_open 127.0.0.1 "$PGHA_PGPOOL_PORT" 3; then
    echo "pgpool does not accept connections on port $PGHA_PGPOOL_PORT"
    return 1
  fi
  if [[ ! -r "$PGHA_VIP_CONF" ]]; then
    echo "pgpool answers on $PGHA_PGPOOL_PORT (no watchdog)"
    return 0
  fi
  state=$(pgha_watchdog_status "$(pgha_watchdog_info 5)" "$PGHA_NODE")
  case "$state" in
    LEADER | STANDBY)
      echo "pgpool answers on $PGHA_PGPOOL_PORT; watchdog $state"
      ;;
    *)
      echo "pgpool answers, but its watchdog is ${state:-not answering} (not a joined member)"
      return 1
      ;;
  esac
}
