#!/usr/bin/env bash
# source: shell/pgpool/entrypoint.sh of pgha, copied verbatim into every pgpool image's build
# context by `npm run generate`; edit the source, not the copy.
#
# Entry point of a pgpool node: checks the configuration (every problem at once), builds the
# run-time configuration under the run directory (image defaults + the cluster's file +
# secrets), writes pool_passwd and .pgpoolkey together with pg_enc, starts sshd when keys
# are mounted, and runs pgpool as postgres under its own small supervisor (stays PID 1: docker
# stop becomes a fast shutdown; pgpool started again after it exits). Sourceable.
set -euo pipefail
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

export PGPOOLKEYFILE=$PGHA_PGPOOLKEY_FILE
export PCPPASSFILE=$PGHA_PCPPASS_FILE

_pgha_pgpool_is_sourced() {
  [[ "${#FUNCNAME[@]}" -ge 2 && "${FUNCNAME[0]}" == _pgha_pgpool_is_sourced && "${FUNCNAME[1]}" == source ]]
}

# pgha_pgpool_backends_from_env: PGHA_BACKENDS="host[:port],..." as backend settings, for a
# single pgpool without a cluster file.
pgha_pgpool_backends_from_env() {
  local i=0 entry host port entries
  [[ -n "$PGHA_BACKENDS" ]] || return 0
  IFS=, read -ra entries <<<"$PGHA_BACKENDS"
  for entry in "${entries[@]}"; do
    host=${entry%%:*}
    port=$PGHA_BACKEND_PORT
    [[ "$entry" == *:* ]] && port=${entry#*:}
    printf "backend_hostname%d = '%s'\nbackend_port%d = %s\nbackend_weight%d = 1\nbackend_data_directory%d = '%s'\nbackend_flag%d = 'ALLOW_TO_FAILOVER'\nbackend_application_name%d = '%s'\n" \
      "$i" "$host" "$i" "$port" "$i" "$i" "$PGHA_BACKEND_PGDATA" "$i" "$i" "$host"
    i=$((i + 1))
  done
}

# pgha_pgpool_merged_conf: image defaults, then the cluster's file, then PGHA_BACKENDS; a
# later key replaces an earlier one.
pgha_pgpool_merged_conf() {
  local files=("$PGHA_IMAGE_CONF")
  [[ -r "$PGHA_CLUSTER_CONF" ]] && files+=("$PGHA_CLUSTER_CONF")
  awk '
    /^[[:space:]]*(#|$)/ { next }
    {
      line = $0
      key = line; sub(/[[:space:]]*=.*/, "", key); sub(/^[[:space:]]+/, "", key)
      if (!(key in seen)) order[++n] = key
      seen[key] = line
    }
    END { for (i = 1; i <= n; i++) print seen[order[i]] }
  ' "${files[@]}" <(pgha_pgpool_backends_from_env)
}

# pgha_pgpool_conf_value KEY: the value of KEY in the merged configuration, unquoted.
pgha_pgpool_conf_value() {
  local v
  v=$(printf '%s\n' "$PGHA_MERGED_CONF" | awk -v k="$1" -F= '{ key = $1; gsub(/[[:space:]]/, "", key) } key == k { sub(/^[^=]*=[[:space:]]*/, ""); v = $0 } END { print v }')
  v=${v#\'}
  printf '%s' "${v%\'}"
}

# pgha_pgpool_check_keys: pgpool ignores a key it does not know with an INFO line; here it is
# a configuration error.
pgha_pgpool_check_keys() {
  local key base
  while read -r key; do
    grep -qxF "plain $key" "$PGHA_PGPOOL_PARAMS" && continue
    base=${key%%[0-9]*}
    [[ "$base" != "$key" && "${key#"$base"}" =~ ^[0-9]+$ ]] && grep -qxF "indexed $base" "$PGHA_PGPOOL_PARAMS" && continue
    pgha_problem "$PGHA_CLUSTER_CONF" "pgpool $PGHA_PGPOOL_VERSION has no parameter '$key'"
  done < <(printf '%s\n' "$PGHA_MERGED_CONF" | sed -E 's/^[[:space:]]*([A-Za-z0-9_]+)[[:space:]]*=.*/\1/')
}

# pgha_pgpool_check_config: every problem of the environment and the files, then exit 2.
pgha_pgpool_check_config() {
  [[ -r "$PGHA_IMAGE_CONF" ]] || pgha_problem "$PGHA_IMAGE_CONF" "missing from the image"
  pgha_check_superuser
  pgha_check_tls
  if [[ "$PGHA_CLUSTER_CONF" != "$PGHA_DEFAULT_CLUSTER_CONF" && ! -r "$PGHA_CLUSTER_CONF" ]]; then
    pgha_problem PGHA_CLUSTER_CONF "expected a readable file, got $PGHA_CLUSTER_CONF"
  fi
  PGHA_MERGED_CONF=$(pgha_pgpool_merged_conf)
  pgha_pgpool_check_keys
  pgha_check_secret POSTGRES_PASSWORD required
  pgha_check_secret PGPOOL_PASSWORD required
  pgha_check_secret PCP_PASSWORD required
  pgha_check_secret PGPOOL_KEY optional
  [[ "$PGHA_DURABILITY" =~ ^(available|strict)$ ]] || pgha_problem PGHA_DURABILITY "expected available or strict, got '$PGHA_DURABILITY'"
  if [[ "$(pgha_pgpool_conf_value use_watchdog)" == on ]]; then
    pgha_check_secret WD_AUTHKEY required
    # It is written into pgpool.conf as a quoted string, which has no way to hold a quote or a
    # backslash as itself (pgpool's lexer keeps the escape character): refused, not mangled.
    if [[ "$(pgha_read_secret WD_AUTHKEY 2>/dev/null || true)" == *[\\\']* ]]; then
      pgha_problem WD_AUTHKEY "expected a key without ' or \\ (pgpool.conf cannot hold them as themselves)"
    fi
    [[ "$PGPOOL_NODE_ID" =~ ^[0-9]+$ ]] || pgha_problem PGPOOL_NODE_ID "expected this node's watchdog id (0, 1, ...) when use_watchdog = on, got '$PGPOOL_NODE_ID'"
    [[ -z "$PGHA_WD_PRIORITY" ]] || pgha_check_count PGHA_WD_PRIORITY "$PGHA_WD_PRIORITY"
    local vip
    vip=$(pgha_pgpool_conf_value delegate_ip)
    pgha_is_ipv4 "$vip" || pgha_problem delegate_ip "expected the delegate IP (IPv4) in $PGHA_CLUSTER_CONF when use_watchdog = on, got '$vip'"
    [[ -z "$PGHA_DELEGATE_IP" || "$PGHA_DELEGATE_IP" == "$vip" ]] || pgha_problem PGHA_DELEGATE_IP "expected the delegate_ip of $PGHA_CLUSTER_CONF ($vip), got '$PGHA_DELEGATE_IP'"
    [[ "$PGHA_VIP_PREFIX" =~ ^([0-9]|[12][0-9]|3[0-2])$ ]] || pgha_problem PGHA_VIP_PREFIX "expected a prefix length 0-32, got '$PGHA_VIP_PREFIX'"
    [[ "$PGHA_VIP_DEVICE" =~ ^[A-Za-z0-9_.-]{1,13}$ ]] || pgha_problem PGHA_VIP_DEVICE "expected an interface name, got '$PGHA_VIP_DEVICE'"
  fi
  local entry entries
  IFS=, read -ra entries <<<"$PGHA_BACKENDS"
  for entry in "${entries[@]}"; do
    if ! pgha_is_host "${entry%:*}" || [[ "$entry" == *:* && ! "${entry##*:}" =~ ^[0-9]{1,5}$ ]]; then
      pgha_problem PGHA_BACKENDS "expected host[:port],... got '$entry'"
    fi
  done
  [[ -n "$(pgha_pgpool_conf_value backend_hostname0)" ]] || pgha_problem backend_hostname0 "expected at least one backend in $PGHA_CLUSTER_CONF or PGHA_BACKENDS"
  pgha_report_problems pgha-pgpool
}

# pgha_pgpool_write_runtime_conf: pgpool.conf, pool_hba.conf and the node id under the run directory.
pgha_pgpool_write_runtime_conf() {
  local dir=$PGHA_PGPOOL_CONF_DIR
  # A restarted container keeps /run: the old pid file and sockets would stop pgpool
  # ("pid file found"). Nothing else runs yet, so they are stale.
  # The postgres account owns these: made anew, so nothing it left there (a symlink planted
  # at a path root writes below) survives into this start.
  install -d -m 0755 -o root -g root "$PGHA_RUN_DIR"
  pgha_fresh_dir "$PGHA_PGPOOL_SOCKET_DIR" 0755 postgres
  pgha_fresh_dir "$dir" 0700 postgres
  pgha_fresh_dir "$PGHA_PRIVATE_DIR" 0700 postgres
  install -d -m 0755 -o postgres -g postgres "$PGHA_PGPOOL_WORK_DIR"
  pgha_install_tls postgres
  {
    echo "# Built by the pgha entrypoint from $PGHA_IMAGE_CONF and $PGHA_CLUSTER_CONF; do not edit."
    printf '%s\n' "$PGHA_MERGED_CONF"
    # TLS for clients and to the backends (verified against the CA when one is given).
    if pgha_tls_on; then
      printf "ssl = on\nssl_cert = '%s'\nssl_key = '%s'\n" "$PGHA_TLS_DIR/server.crt" "$PGHA_TLS_DIR/server.key"
      [[ ! -e "$PGHA_TLS_DIR/ca.crt" ]] || printf "ssl_ca_cert = '%s'\n" "$PGHA_TLS_DIR/ca.crt"
    fi
    if [[ "$(pgha_pgpool_conf_value use_watchdog)" == on ]]; then
      printf "wd_authkey = '%s'\n" "$(pgha_read_secret WD_AUTHKEY)"
      [[ -z "$PGHA_WD_PRIORITY" ]] || printf 'wd_priority = %s\n' "$PGHA_WD_PRIORITY"
    fi
  } >"$dir/pgpool.conf"
  cp "$PGHA_IMAGE_POOL_HBA" "$dir/pool_hba.conf"
  [[ -n "$PGPOOL_NODE_ID" ]] && echo "$PGPOOL_NODE_ID" >"$dir/pgpool_node_id"
  chown -R postgres:postgres "$dir"
  chmod 0600 "$dir/pgpool.conf"
}

# pgha_pgpool_write_credentials: pool_passwd and .pgpoolkey are made together, from this
# start's secrets: a key from PGPOOL_KEY, or a fresh random one, and every password encrypted
# with it by pg_enc. Passwords reach pg_enc through a 0600 file that is removed at once, never
# through argv. pcp.conf holds user:md5(password); the pcp pass file lets the scripts
# authenticate without a prompt.
pgha_pgpool_write_credentials() {
  local dir=$PGHA_PGPOOL_CONF_DIR key input=$PGHA_PRIVATE_DIR/pg_enc-input pw
  key=$(pgha_read_secret PGPOOL_KEY || openssl rand -base64 32)
  (umask 077 && printf '%s\n' "$key" >"$PGHA_PGPOOLKEY_FILE")
  : >"$dir/pool_passwd"
  (umask 077 && {
    printf '%s:%s\n' "$PGHA_SUPERUSER" "$(pgha_read_secret POSTGRES_PASSWORD)"
    [[ "$POSTGRES_USER" == "$PGHA_SUPERUSER" ]] || printf '%s:%s\n' "$POSTGRES_USER" "$(pgha_read_secret POSTGRES_PASSWORD)"
    printf '%s:%s\n' "$PGHA_PGPOOL_USER" "$(pgha_read_secret PGPOOL_PASSWORD)"
  } >"$input")
  chown postgres:postgres "$PGHA_PGPOOLKEY_FILE" "$dir/pool_passwd" "$input"
  chmod 0600 "$PGHA_PGPOOLKEY_FILE" "$dir/pool_passwd"
  if ! pgha_pgpool_as_postgres pg_enc -m -k "$PGHA_PGPOOLKEY_FILE" -f "$dir/pgpool.conf" -i "$input" >"$PGHA_PRIVATE_DIR/pg_enc.log" 2>&1; then
    rm -f "$input"
    cat "$PGHA_PRIVATE_DIR/pg_enc.log" >&2
    pgha_die credentials "pg_enc could not write pool_passwd"
  fi
  rm -f "$input" "$PGHA_PRIVATE_DIR/pg_enc.log"
  pw=$(pgha_read_secret PCP_PASSWORD)
  printf '%s:%s\n' "$PGHA_PCP_USER" "$(printf '%s' "$pw" | md5sum | cut -d' ' -f1)" >"$dir/pcp.conf"
  pgha_write_passfile "$PGHA_PCPPASS_FILE" "*:*:$PGHA_PCP_USER" PCP_PASSWORD
  chown postgres:postgres "$dir/pcp.conf" "$PGHA_PCPPASS_FILE"
  chmod 0600 "$dir/pcp.conf"
  local users=$PGHA_SUPERUSER
  [[ "$POSTGRES_USER" == "$PGHA_SUPERUSER" ]] || users+=", $POSTGRES_USER"
  pgha_log credentials "pool_passwd ($users, $PGHA_PGPOOL_USER) and .pgpoolkey written together; pcp.conf written"
}

# pgha_pgpool_write_vip_conf: the delegate IP, its prefix and device, for the root-owned
# pgha-vip that sudo lets pgpool's scripts run; root-owned, in the root-owned run directory.
pgha_pgpool_write_vip_conf() {
  rm -f "$PGHA_VIP_CONF"
  [[ "$(pgha_pgpool_conf_value use_watchdog)" == on ]] || return 0
  (umask 022 && printf 'delegate_ip=%s\nprefix=%s\ndevice=%s\n' \
    "$(pgha_pgpool_conf_value delegate_ip)" "$PGHA_VIP_PREFIX" "$PGHA_VIP_DEVICE" >"$PGHA_VIP_CONF")
}

pgha_pgpool_as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

# pgha_pgpool_start_sshd: sshd for escalation.sh on the other pgpool nodes, when keys are mounted.
pgha_pgpool_start_sshd() {
  install -d -m 0755 /run/sshd
  pgha_install_ssh_material postgres
  if ((PGHA_SSH_MATERIAL_MISSING)); then
    pgha_log ssh "no SSH material in $PGHA_SSH_DIR: sshd not started (escalation cannot clear the VIP from this node)"
    return 0
  fi
  # In the foreground, backgrounded: its log goes to the container's stderr. (-E /proc/1/fd/2
  # breaks when PID 1 runs as another user: sshd's per-connection re-exec can no longer open it.)
  /usr/sbin/sshd -D -e -f "$PGHA_SSHD_CONFIG" &
  pgha_log ssh "sshd listening on $PGHA_SSH_PORT"
}

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

# pgha_pgpool_health: the image's HEALTHCHECK (`entrypoint.sh health`). Healthy: pgpool answers
# on its port and, with the watchdog on, this node is its leader or a joined standby; a node
# cut off (LOST), still joining, or restarting is not. One line on stdout says which.
pgha_pgpool_health() {
  local state
  # bash's /dev/tcp: no client package needed (the Alpine image has no psql).
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  if ! timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$PGHA_PGPOOL_PORT" 2>/dev/null; then
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

# pgha_pgpool_backend_view: "host status" per backend as this node's pcp (or HOST's) reports
# it; "waiting" (up, not yet connected to) counts as up. Bounded.
pgha_pgpool_backend_view() {
  PCPPASSFILE=$PGHA_PCPPASS_FILE timeout 5 pcp_node_info -h "${1:-localhost}" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w 2>/dev/null |
    awk '{ print $1, ($5 == "waiting" ? "up" : $5) }'
}

# pgha_pgpool_stale_backends LOCAL LEADER: the backends LOCAL has down while LEADER (both
# pgha_pgpool_backend_view outputs) has them up, space-separated.
pgha_pgpool_stale_backends() {
  awk 'NR == FNR { leader[$1] = $2; next } $2 == "down" && leader[$1] == "up" { printf "%s%s", sep, $1; sep = " " }' <(printf '%s\n' "$2") <(printf '%s\n' "$1")
}

# pgha_pgpool_reconcile_loop: a pgpool standby can keep a backend "down" that the leader has
# up (seen after the leader was restarted during a failover, when pgpool's auto_failback was
# still on: a standby node's failback request reaches the leader, which has the backend up
# already and so syncs nothing). With that view it refuses to fail
# over to a healthy standby once it leads. Every PGHA_RECONCILE_INTERVAL_SECONDS this compares
# the two views; after PGHA_RECONCILE_TICKS checks in a row that disagree, pgpool is stopped
# (fast) and the supervisor starts it again: a starting pgpool takes the leader's states.
# pgha_pgpool_others_joined INFO: every other watchdog node in INFO (pcp_watchdog_info -v) is
# LEADER or STANDBY. A reconcile restart waits for that: two stale standbys restarting together
# would leave the leader without quorum, and it would give up the delegate IP.
pgha_pgpool_others_joined() {
  awk -v me="$PGHA_NODE" -F' *: *' '
    /^Host Name/ { host = $2 }
    /^Status Name/ && host != me && host != "" { seen = 1; if ($2 != "LEADER" && $2 != "STANDBY") bad = 1 }
    END { exit !(seen && !bad) }' <<<"$1"
}

pgha_pgpool_reconcile_loop() {
  local ticks=0 info me leader stale pid
  while sleep "$PGHA_RECONCILE_INTERVAL_SECONDS"; do
    info=$(pgha_watchdog_info 5)
    me=$(pgha_watchdog_status "$info" "$PGHA_NODE")
    leader=$(awk -F' *: *' '/^Leader Host Name/ { print $2; exit }' <<<"$info")
    stale=''
    if [[ "$me" == STANDBY && -n "$leader" && "$leader" != "$PGHA_NODE" ]]; then
      stale=$(pgha_pgpool_stale_backends "$(pgha_pgpool_backend_view)" "$(pgha_pgpool_backend_view "$leader")")
    fi
    if [[ -z "$stale" ]]; then
      ticks=0
      continue
    fi
    ticks=$((ticks + 1))
    ((ticks >= PGHA_RECONCILE_TICKS)) || continue
    # Staggered by node id, so two stale standbys see each other leave before they restart.
    sleep "$((${PGPOOL_NODE_ID:-0} * 3))"
    if ! pgha_pgpool_others_joined "$(pgha_watchdog_info 5)"; then
      pgha_log reconcile "this node has $stale down, the leader $leader has it up; another watchdog node is not joined (restarting?): restarting later, to keep the quorum"
      continue
    fi
    ticks=0
    pgha_log reconcile "this node has $stale down, the leader $leader has it up ($PGHA_RECONCILE_TICKS checks in a row): restarting pgpool to take the leader's states"
    pid=$(cat "$PGHA_PGPOOL_SOCKET_DIR/pgpool.pid" 2>/dev/null || true)
    if pgha_pgpool_is_pgpool "$pid"; then
      kill -INT "$pid" 2>/dev/null
    else
      pgha_log reconcile "WARNING: $PGHA_PGPOOL_SOCKET_DIR/pgpool.pid names '${pid:0:20}', not a pgpool of postgres: nothing signalled"
    fi
  done
}

# pgha_pgpool_is_pgpool PID: PID is a running pgpool of the postgres account. The pid file is
# postgres's to write; root signals only what it really names.
pgha_pgpool_is_pgpool() {
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == pgpool && "$(stat -c %U "/proc/$1" 2>/dev/null)" == postgres ]]
}

_pgha_pgpool_main() {
  # A docker stop before pgpool runs: PID 1 ignores signals it has no trap for, and the engine
  # would SIGKILL it after the grace period. Replaced by the supervisor's trap below.
  trap 'pgha_log stop "stopped while starting, before pgpool ran"; exit 0' TERM INT
  pgha_pgpool_check_config
  pgha_pgpool_write_runtime_conf
  pgha_pgpool_write_vip_conf
  pgha_pgpool_write_credentials
  pgha_pgpool_start_sshd
  pgha_log start "starting pgpool $PGHA_PGPOOL_VERSION (node ${PGPOOL_NODE_ID:-standalone})"
  if [[ "$(pgha_pgpool_conf_value use_watchdog)" == on ]]; then
    pgha_pgpool_reconcile_loop &
  fi
  pgha_pgpool_supervise pgha_pgpool_run "$@"
}

if ! _pgha_pgpool_is_sourced; then
  if [[ "${1:-}" == health ]]; then
    pgha_pgpool_health
  else
    _pgha_pgpool_main "$@"
  fi
fi
