#!/usr/bin/env bash
# source: shell/postgres/node-watch.sh of pgha, copied verbatim into the postgres image's build
# context by `npm run generate`; edit the source, not the copy.
#
# pgha-node's watch loop (supervisor runs `pgha-node watch-loop`): every few seconds it checks
# this node against pgpool's view and its own data volume, fences a primary pgpool no longer
# routes to (node-rejoin.sh), attaches a standby that streams from pgpool's primary while pgpool
# has it down, and hands a primary whose volume runs full over to a standby. The verdicts are
# pgha-decide.sh's; this file gathers their inputs and acts. Sourced by pgha-node.sh, never run.

# --- A full data volume: a primary hands over while a standby has all its WAL.

# pgha_node_disk_verdict: ok, handover or full (pgha_decide_disk) for this node's data volume;
# the local role and the standbys' WAL are asked only on a volume below the reserve.
pgha_node_disk_verdict() {
  local free role='?' caught_up='?' verdict
  free=$(pgha_node_disk_free_mb) || free=''
  while verdict=$(pgha_decide_disk "$free" "$PGHA_DISK_RESERVE_MB" "$role" "$caught_up") && [[ "$verdict" == need\ * ]]; do
    case "$verdict" in
      "need role") role=$(pgha_node_local_role) ;;
      "need caught-up")
        caught_up=$(pgha_node_psql -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND flush_lsn >= pg_current_wal_flush_lsn()" 2>/dev/null) || caught_up=''
        ;;
    esac
  done
  echo "$verdict"
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

# --- Isolation: a primary cut off from the side that can fail it over fences itself before
# that side promotes another node (failover.sh waits for it: pgha_decide_step_down). Its own
# process, the isolation guard, so no remote step of the watch loop delays it: a nemesis run saw
# a cut-off primary take commits beside the promoted one while a watch round ran to its bound.

# pgha_node_reaches_peer: true when this node reaches the side of the cluster that can fail it
# over: the delegate IP's pcp port (only a leader with a quorum holds it); else (an election
# under way, or no delegate IP) most of the pgpool nodes' pcp ports, or another postgres node's
# port, all asked at once. A majority of the pgpool nodes is the quorum's side; a pgpool node on
# this node's own host, which answers through any cut, is not one. A refused connection is no
# answer: a firewall's REJECT refuses too. The delegate IP's look is bounded by half a second
# (a live one answers in milliseconds), the others by a second: a round takes at most 1.5 s.
pgha_node_reaches_peer() {
  local peer pid pgpools=0 answered=0
  local -a pgpool_looks=() postgres_looks=()
  if [[ -n "$PGHA_DELEGATE_IP" ]] && pgha_port_open "$PGHA_DELEGATE_IP" "$PGHA_PCP_PORT" 0.5; then return 0; fi
  for peer in ${PGHA_PGPOOL_PEERS//,/ }; do
    pgpools=$((pgpools + 1))
    pgha_port_open "$peer" "$PGHA_PCP_PORT" 1 &
    pgpool_looks+=("$!")
  done
  for peer in ${PGHA_POSTGRES_PEERS//,/ }; do
    [[ "$peer" == "$PGHA_NODE" ]] && continue
    pgha_port_open "$peer" "$PGPORT" 1 &
    postgres_looks+=("$!")
  done
  for pid in "${pgpool_looks[@]}"; do
    if wait "$pid"; then answered=$((answered + 1)); fi
  done
  local reached=1
  ((pgpools && answered > pgpools / 2)) && reached=0
  for pid in "${postgres_looks[@]}"; do
    if wait "$pid"; then reached=0; fi
  done
  return "$reached"
}

# pgha_node_isolation_round: one look of the isolation guard (pgha_decide_isolation), keeping
# the start of the last round that reached a peer in PGHA_LAST_PEER_MS (0 when none has since
# the start or the last fence); time as a standby counts as not alone. Succeeds when it fenced
# this node (stopped and held: the watch loop asks for the rebuild, pgha_node_rejoin_if_asked,
# so the guard goes on guarding).
PGHA_LAST_PEER_MS=0
pgha_node_isolation_round() {
  local role='?' reached='?' armed=no began verdict
  pgha_read_uptime
  began=$PGHA_UPTIME_MS
  ((PGHA_LAST_PEER_MS)) && armed=yes
  while verdict=$(pgha_decide_isolation "$role" "$reached" "$armed" "$((PGHA_UPTIME_MS - PGHA_LAST_PEER_MS))" "$PGHA_ISOLATION_FENCE_SECONDS") && [[ "$verdict" == need\ * ]]; do
    case "$verdict" in
      "need role") role=$(pgha_node_data_role) ;;
      "need peers") if pgha_node_reaches_peer; then reached=yes; else reached=no; fi ;;
    esac
    pgha_read_uptime
  done
  if [[ "$verdict" == fence ]]; then
    pgha_log isolate "this primary has reached neither the pgpool nodes' side ($(pgha_node_pgpool_where), most of $PGHA_PGPOOL_PEERS) nor another postgres node for $(((PGHA_UPTIME_MS - PGHA_LAST_PEER_MS) / 1000)) s (PGHA_ISOLATION_FENCE_SECONDS=$PGHA_ISOLATION_FENCE_SECONDS): stopping postgres now, before that side promotes another node, and rejoining through pgpool once it answers"
    PGHA_LAST_PEER_MS=0
    pgha_node_stop_and_hold isolate || true
    return 0
  fi
  # A standby's time counts as not alone (a promotion starts its lease afresh); a stopped node's
  # does not: postgres started again during a cut must not renew it.
  if [[ "$reached" == yes || ("$role" == standby && "$armed" == yes) ]]; then PGHA_LAST_PEER_MS=$began; fi
  return 1
}

# pgha_node_isolation_guard: the isolation guard (supervisor runs `pgha-node isolation-guard`):
# a round (pgha_node_isolation_round), a quarter-second pause, again; a standby's round reads
# its data directory only.
pgha_node_isolation_guard() {
  if ((PGHA_ISOLATION_FENCE_SECONDS == 0)) || ! pgha_node_has_pgpool; then
    pgha_log isolate "isolation guard off (PGHA_ISOLATION_FENCE_SECONDS=0, or no pgpool)"
    exec sleep infinity
  fi
  while :; do
    pgha_node_isolation_round || true
    sleep 0.25
  done
}

# pgha_node_step_down: failover.sh (over SSH) fails this node over and is about to promote
# another. Data that is still a primary's is held for a rebuild before anything else (a postgres
# that crashed would otherwise start again as a primary: supervisor restarts it), and a running
# postgres stops at once; the watch loop then asks pgpool (pgha_node_rejoin_if_asked). A node
# already held (a full volume, a fence) stays as it is. Prints what runs here now; fails while a
# primary still runs (the stop did not finish within its bound).
pgha_node_step_down() {
  local role i
  role=$(pgha_node_data_role)
  if [[ -e "$PGHA_HOLD_MARKER" && "$role" != primary ]]; then
    echo held
    return 0
  fi
  if [[ "$role" == primary ]] || { [[ "$role" == stopped ]] && pgha_node_data_is_primary; }; then
    pgha_log step-down "pgpool fails this node over and promotes another: held, postgres stopped now ($role); it rejoins as a standby"
    pgha_node_stop_and_hold step-down || true
    # Another process of the node may be stopping it already (the stop is locked): wait for it.
    for ((i = 0; i < PGHA_PG_CTL_TIMEOUT * 10; i++)); do
      role=$(pgha_node_data_role)
      [[ "$role" == primary ]] || break
      sleep 0.1
    done
  fi
  echo "$role"
  [[ "$role" != primary ]]
}

# --- Attaching: a standby that streams from pgpool's primary while pgpool has it down.

# pgha_node_wal_sender: the host this standby streams from right now (its walreceiver is
# streaming), or nothing.
pgha_node_wal_sender() {
  pgha_node_psql -c "SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null || true
}

# pgha_node_attach_verdict: "attach" when this node is a standby, not held, streaming from the
# node pgpool (through the delegate IP) routes writes to, while pgpool has this node down;
# "ok" otherwise (pgha_decide_attach). This replaces pgpool's auto_failback, which decides on
# the primary's pg_stat_replication as last seen by a pgpool node's check worker: right after a
# failover that is stale, and the other pgpool nodes attached a standby the leader had just
# marked down to re-point it (pgpool's follow degeneration), so follow_primary never ran for it
# and it kept streaming from nowhere.
pgha_node_attach_verdict() { pgha_node_standby_verdict pgha_decide_attach; }

# pgha_node_standby_verdict DECIDE [ARG...]: DECIDE's verdict for this node (pgha_decide_attach
# or pgha_decide_repoint: ME HELD ROLE SENDER NODES, then ARGs), its inputs gathered as it asks.
pgha_node_standby_verdict() {
  local decide=$1 held=no role='?' sender='?' nodes='?' verdict
  shift
  if [[ -e "$PGHA_HOLD_MARKER" ]]; then held=yes; fi
  while verdict=$("$decide" "$PGHA_NODE" "$held" "$role" "$sender" "$nodes" "$@") && [[ "$verdict" == need\ * ]]; do
    case "$verdict" in
      "need role") role=$(pgha_node_local_role) ;;
      "need sender") sender=$(pgha_node_wal_sender) ;;
      "need pool") nodes=$(pgha_node_pool_nodes) || nodes='' ;;
    esac
  done
  echo "$verdict"
}

# pgha_node_attach: pcp_attach_node for this node at pgpool (pgpool_host, bounded); pgpool
# runs failback.sh, which restores synchronous replication if the primary had suspended it.
pgha_node_attach() {
  pgha_log attach "streaming from the primary $(pgha_node_wal_sender) while pgpool has node $PGHA_NODE_ID down: attaching it (pcp_attach_node)"
  if pgha_node_pcp "$PGHA_REMOTE_STEP_SECONDS" pcp_attach_node -n "$PGHA_NODE_ID" >/dev/null; then
    pgha_log attach "node $PGHA_NODE_ID attached"
  else
    pgha_log attach "WARNING: pcp_attach_node -n $PGHA_NODE_ID failed or took over $PGHA_REMOTE_STEP_SECONDS s; trying again at the next check"
  fi
}

# pgha_node_repoint_verdict STUCK: "rebuild HOST", "stuck" or "ok" (pgha_decide_repoint) for
# this node, which has been stuck for STUCK seconds; inputs gathered as the decision asks.
pgha_node_repoint_verdict() { pgha_node_standby_verdict pgha_decide_repoint "$1" "$PGHA_REPOINT_GRACE_SECONDS"; }

# pgha_node_repoint PRIMARY STUCK: a standby a failover passed by asks to be rebuilt from
# PRIMARY (nothing else would: follow_primary.sh skipped it, and its start decision runs only
# at a start).
pgha_node_repoint() {
  pgha_log repoint "pgpool has node $PGHA_NODE_ID down and routes writes to $1, which this standby has not streamed from for $2 s (a failover passed it by while it was frozen or cut off): stopping postgres and asking to be rebuilt from it"
  pgha_node_stop_for_rebuild repoint
}

# pgha_node_repoint_check NOW: one look (at NOW, epoch seconds) for a standby a failover left
# behind, keeping since when it has been stuck (PGHA_STUCK_SINCE, 0 when it is not); succeeds
# when it rebuilt this node.
PGHA_STUCK_SINCE=0
pgha_node_repoint_check() {
  local now=$1 verdict
  verdict=$(pgha_node_repoint_verdict $((PGHA_STUCK_SINCE ? now - PGHA_STUCK_SINCE : 0)))
  case "$verdict" in
    stuck) ((PGHA_STUCK_SINCE)) || PGHA_STUCK_SINCE=$now ;;
    rebuild\ *)
      pgha_node_repoint "${verdict#rebuild }" $((now - PGHA_STUCK_SINCE))
      PGHA_STUCK_SINCE=0
      return 0
      ;;
    *) PGHA_STUCK_SINCE=0 ;;
  esac
  return 1
}

# --- Convergence: every node runs again and pgpool has no primary (a compound fault).

# pgha_node_peer_state HOST: HOST's "KIND:TIMELINE:LSN" (pgha-node state over SSH, bounded),
# or "silent" when it does not answer.
pgha_node_peer_state() {
  local out
  if out=$(pgha_ssh_within "$PGHA_REMOTE_STEP_SECONDS" "$1" pgha-node state 2>/dev/null) &&
    [[ "$out" =~ ^(primary|standby|held|stopped)\ [0-9]+\ [0-9A-Fa-f]+/[0-9A-Fa-f]+$ ]]; then
    echo "${out// /:}"
  else
    echo silent
  fi
}

# pgha_node_converge_verdict: pgha_decide_converge for this node, its inputs gathered as it
# asks for them (pgpool only on a primary, the peers only when pgpool has no primary); a
# verdict other than ok is followed by a second line: what it was decided on.
pgha_node_converge_verdict() {
  local role='?' nodes='?' mine='?' peers=('?') peer verdict
  while verdict=$(pgha_decide_converge "$PGHA_NODE" "$(pgha_node_durability)" "$role" "$nodes" "$mine" "${peers[@]}") && [[ "$verdict" == need\ * ]]; do
    case "$verdict" in
      "need role") role=$(pgha_node_local_role) ;;
      "need pool") nodes=$(pgha_node_pool_nodes) || nodes='' ;;
      "need mine") mine=$(pgha_node_state) || mine='unknown 0 0/0' ;;
      "need peers")
        peers=()
        for peer in ${PGHA_POSTGRES_PEERS//,/ }; do
          [[ "$peer" == "$PGHA_NODE" ]] || peers+=("$peer=$(pgha_node_peer_state "$peer")")
        done
        # This node's state again, after the peers': a running primary writes on meanwhile, and
        # its standbys, which receive what it flushed, looked newer than the earlier snapshot
        # (a nemesis run: "pg0 pg2 hold newer data", refused for minutes, none of it newer).
        mine=$(pgha_node_state) || mine='unknown 0 0/0'
        ;;
    esac
  done
  echo "$verdict"
  [[ "$verdict" == ok ]] || echo "this node: $mine; peers: ${peers[*]}"
}

# pgha_node_converge VERDICT: acts on a verdict other than ok. attach: pcp_attach_node of this
# node (pgpool then finds it is the primary; the held nodes' rejoin can go on). yield: stop and
# be rebuilt from the newer primary, as fencing does. refuse / wait: say why when it changes,
# and once a minute.
PGHA_CONVERGE_SAID=''
PGHA_CONVERGE_SAID_AT=0
pgha_node_converge() {
  local verdict=$1 inputs=$2
  case "$verdict" in
    attach)
      pgha_log converge "pgpool has no primary and this node runs as one with the newest data of every node that answered ($inputs): attaching it (pcp_attach_node)"
      if pgha_node_pcp "$PGHA_REMOTE_STEP_SECONDS" pcp_attach_node -n "$PGHA_NODE_ID" >/dev/null; then
        pgha_log converge "node $PGHA_NODE_ID attached"
      else
        pgha_log converge "WARNING: pcp_attach_node -n $PGHA_NODE_ID failed or took over $PGHA_REMOTE_STEP_SECONDS s; trying again at the next check"
      fi
      ;;
    yield\ *)
      pgha_log converge "pgpool has no primary and ${verdict#yield } runs as a primary with newer data ($inputs): this node stops and rejoins as its standby"
      pgha_node_fence "${verdict#yield }"
      ;;
    *)
      # The same verdict every 2 s would flood the log: say it when it changes, and once a minute.
      if [[ "$verdict" != "$PGHA_CONVERGE_SAID" ]] || ((SECONDS - PGHA_CONVERGE_SAID_AT >= 60)); then
        PGHA_CONVERGE_SAID_AT=$SECONDS
        case "$verdict" in
          refuse\ *) pgha_log converge "WARNING: pgpool has no primary; this node runs as one, but${verdict#refuse} hold newer data ($inputs): not attaching it, a person must choose (docs/failure-modes.md, convergence)" ;;
          wait\ *) pgha_log converge "pgpool has no primary; this node runs as one, but${verdict#wait} did not answer and durability is strict: waiting until every node answers ($inputs)" ;;
        esac
      fi
      ;;
  esac
  PGHA_CONVERGE_SAID=$verdict
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

# --- Thaw: a primary that stood still long enough for a failover takes no commit before pgpool
# has been asked whether it is still the primary. Everything in the container thaws at once, so
# the steps up to the SIGSTOP use builtins only (no fork): they race postgres's own backends.

# pgha_node_read_postmaster: PGHA_POSTMASTER, the pid of this node's running postmaster
# (postmaster.pid's first line, alive), or empty; fails when none runs. Builtins only.
PGHA_POSTMASTER=''
pgha_node_read_postmaster() {
  PGHA_POSTMASTER=''
  local pid=''
  { read -r pid <"$PGDATA/postmaster.pid"; } 2>/dev/null || return 1
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  PGHA_POSTMASTER=$pid
}

# pgha_node_data_is_primary: the data directory is a primary's (a database cluster without
# standby.signal), whether postgres runs or not.
pgha_node_data_is_primary() { [[ -s "$PGDATA/PG_VERSION" && ! -e "$PGDATA/standby.signal" ]]; }

# pgha_node_data_role: primary, standby or stopped, from the data directory alone (a live
# postmaster; standby.signal, which postgres removes when it is promoted). The thaw guard
# cannot ask a postgres it may be holding.
pgha_node_data_role() {
  if ! pgha_node_read_postmaster; then
    echo stopped
  elif [[ -e "$PGDATA/standby.signal" ]]; then
    echo standby
  else
    echo primary
  fi
}

# pgha_node_thaw_hold: stops (SIGSTOP) the postmaster, then every process it forked (stopped
# first, it forks no more): postgres stands still as if the freeze went on. Sets PGHA_HELD to
# the pids it stopped, the postmaster first (empty when no postmaster runs). Builtins only: the
# children are read from /proc (the kernel's list), pgrep only where the kernel keeps none.
PGHA_HELD=()
pgha_node_thaw_hold() {
  local pm children=''
  PGHA_HELD=()
  pgha_node_read_postmaster || return 0
  pm=$PGHA_POSTMASTER
  kill -STOP "$pm" 2>/dev/null || return 0
  if [[ -r "/proc/$pm/task/$pm/children" ]]; then
    read -r children <"/proc/$pm/task/$pm/children" || true
  else
    children=$(pgrep -P "$pm" | tr '\n' ' ') || true
  fi
  read -r -a PGHA_HELD <<<"$pm $children"
  ((${#PGHA_HELD[@]} < 2)) || kill -STOP "${PGHA_HELD[@]:1}" 2>/dev/null || true
}

# pgha_node_thaw_release PID...: lets the held processes run again (SIGCONT; gone ones skipped).
pgha_node_thaw_release() {
  local pid
  for pid in "$@"; do kill -CONT "$pid" 2>/dev/null || true; done
}

# pgha_node_thaw_verdict: "fence HOST", "wait" or "go" (pgha_decide_thaw_fence) for this held
# primary, its inputs gathered as the decision asks; each question bounded by
# PGHA_THAW_ASK_SECONDS (finding the watchdog leader without a delegate IP by 1 s per peer).
pgha_node_thaw_verdict() {
  local nodes='?' peer='?' verdict
  # shellcheck disable=SC2034 # both read by the functions called below (bash's dynamic scope)
  local PGHA_REMOTE_STEP_SECONDS=$PGHA_THAW_ASK_SECONDS PGHA_PCP_PEER_SECONDS=1
  while verdict=$(pgha_decide_thaw_fence "$PGHA_NODE" "$nodes" "$peer") && [[ "$verdict" == need\ * ]]; do
    case "$verdict" in
      "need pool") nodes=$(pgha_node_pool_nodes_quick) || nodes='' ;;
      "need peer "*) peer=$(pgha_node_peer_role "${verdict#need peer }") ;;
    esac
  done
  echo "$verdict"
}

# pgha_node_thaw_check STILL_MS: this primary stood still for STILL_MS ms and is held
# (pgha_node_thaw_hold ran). Asks pgpool whether another node is now the primary, again every
# half second while a failover is under way (pgpool has this node down and names no confirmed
# primary), at most 3 x PGHA_THAW_ASK_SECONDS in all; then fences this node (an immediate stop
# while still held: no commit after the thaw) or lets postgres go on. A TERM or INT meanwhile
# (the container stopping) lets postgres go first, so the stop's own signals reach it.
pgha_node_thaw_check() {
  local still=$1 verdict began deadline
  local -a pids=("${PGHA_HELD[@]}")
  ((${#pids[@]})) || return 1
  pgha_read_uptime
  began=$PGHA_UPTIME_MS
  deadline=$((began + 3000 * PGHA_THAW_ASK_SECONDS))
  trap 'pgha_node_thaw_release "${pids[@]}"; exit 143' TERM INT
  pgha_log thaw "this primary stood still for $((still / 1000)) s (frozen or starved): postgres held (SIGSTOP) while pgpool is asked whether another node took over"
  while verdict=$(pgha_node_thaw_verdict) && [[ "$verdict" == wait ]]; do
    pgha_read_uptime
    ((PGHA_UPTIME_MS < deadline)) || break
    sleep 0.5
  done
  pgha_read_uptime
  if [[ "$verdict" == fence\ * ]]; then
    pgha_log thaw "pgpool routes writes to ${verdict#fence } (asked in $((PGHA_UPTIME_MS - began)) ms): fencing this node while postgres is held"
    pgha_node_fence "${verdict#fence }" pgha_node_thaw_kill "${pids[@]}"
    # When the watch loop was fencing already, its pg_ctl's SIGQUIT waits for this SIGCONT.
    pgha_node_thaw_release "${pids[@]}"
  else
    pgha_node_thaw_release "${pids[@]}"
    if [[ "$verdict" == wait ]]; then
      pgha_log thaw "WARNING: pgpool has this node down and no other primary yet after $((PGHA_UPTIME_MS - began)) ms: postgres goes on; the watch loop fences it once pgpool names the new primary"
    else
      pgha_log thaw "pgpool names no other primary: postgres goes on ($((PGHA_UPTIME_MS - began)) ms held)"
    fi
  fi
  trap - TERM INT
}

# pgha_node_thaw_kill PID...: the held postmaster (first) and its children quit at once
# (SIGQUIT, then SIGCONT to deliver it): the immediate stop. Waits until the postmaster is
# gone, at most PGHA_PG_CTL_TIMEOUT seconds.
pgha_node_thaw_kill() {
  local pm=$1 i
  kill -QUIT "$@" 2>/dev/null || true
  pgha_node_thaw_release "$@"
  for ((i = 0; i < PGHA_PG_CTL_TIMEOUT * 10; i++)); do
    kill -0 "$pm" 2>/dev/null || return 0
    sleep 0.1
  done
  pgha_log thaw "WARNING: the postmaster ($pm) did not exit within $PGHA_PG_CTL_TIMEOUT s of SIGQUIT"
}

# pgha_node_thaw_round BEFORE_MS: one look after a sleep that began at BEFORE_MS. A stall of
# PGHA_THAW_CHECK_SECONDS or more stops postgres first (held: pgha_node_thaw_hold) and only then
# reads the role (pgha_decide_thaw): a standby, or a primary that was not the case, goes on at once.
pgha_node_thaw_round() {
  local still verdict
  pgha_read_uptime
  still=$((PGHA_UPTIME_MS - $1 - 1000))
  ((still >= PGHA_THAW_CHECK_SECONDS * 1000)) || return 0
  pgha_node_thaw_hold
  verdict=$(pgha_decide_thaw "$(pgha_node_data_role)" "$still" "$PGHA_THAW_CHECK_SECONDS")
  if [[ "$verdict" == hold ]]; then
    pgha_node_thaw_check "$still" || true
    # The check's own time (and a rejoin's) is not a stall.
    pgha_read_uptime
  else
    pgha_node_thaw_release "${PGHA_HELD[@]}"
  fi
}

# pgha_node_thaw_guard: the thaw guard (supervisor runs `pgha-node thaw-guard`): sleeps a
# second at a time and measures how long it stood still beyond that (pgha_node_thaw_round).
# Its own process, so the watch loop's remote steps never delay it: a nemesis run saw a thawed
# primary take commits for 9 s, while the watch loop's round that the freeze had cut through
# ran to its bound.
pgha_node_thaw_guard() {
  local before state=''
  if ((PGHA_THAW_CHECK_SECONDS == 0)) || ! pgha_node_has_pgpool; then
    pgha_log thaw "thaw guard off (PGHA_THAW_CHECK_SECONDS=0, or no pgpool to ask)"
    exec sleep infinity
  fi
  # A guard that died while it held postgres left it stopped: this one asks before it lets go.
  if pgha_node_read_postmaster; then
    { read -r state <"/proc/$PGHA_POSTMASTER/stat"; } 2>/dev/null || true
    state=${state##*) }
    if [[ "${state%% *}" == T ]]; then
      pgha_node_thaw_hold
      pgha_log thaw "postgres found stopped (a thaw guard ended while it held it)"
      if [[ "$(pgha_node_data_role)" == primary ]]; then
        pgha_node_thaw_check 0 || true
      else
        pgha_node_thaw_release "${PGHA_HELD[@]}"
      fi
    fi
  fi
  pgha_read_uptime
  before=$PGHA_UPTIME_MS
  while :; do
    sleep 1
    pgha_node_thaw_round "$before"
    # The round's own reading: a freeze right after it counts in the next round.
    before=$PGHA_UPTIME_MS
  done
}

# pgha_node_watch_wait TOOK: the pause before a check round: PGHA_WATCH_INTERVAL_SECONDS, or
# none when the last round took TOOK seconds, far longer than its sleep and steps can (the node
# was frozen: the cgroup freezer, a stalled VM). A primary failed over while it was frozen is
# writable from its thaw until it fences itself, so not one more interval (a nemesis run saw
# 4.3 s between a thaw and the fence).
pgha_node_watch_wait() {
  if (($1 > 2 * PGHA_WATCH_INTERVAL_SECONDS + 5)); then
    pgha_log watch "the last check round took $1 s (frozen, starved, or a remote step ran to its bound): checking again at once"
  else
    sleep "$PGHA_WATCH_INTERVAL_SECONDS"
  fi
}

# pgha_node_watch_loop: every PGHA_WATCH_INTERVAL_SECONDS, for as long as the node runs
# (supervisor keeps it running): the superuser role (until it has been checked once), fencing
# (a fenced node checks nothing else that round), a rebuild asked for from outside the loop (a
# step-down), attaching, every fifth round a standby a failover left behind, convergence, the
# disk watch, and the rejoin of a node held for a full volume. A node without a delegate IP has no pgpool to ask.
pgha_node_watch_loop() {
  local verdict role_checked=0
  if ! pgha_node_has_pgpool; then
    pgha_log watch "no delegate IP and no pgpool peers (a standalone node): nothing to fence against or attach to"
    exec sleep infinity
  fi
  : "${PGHA_NODE_ID:?}"
  local began=$EPOCHSECONDS rounds=0
  while :; do
    pgha_node_watch_wait $((EPOCHSECONDS - began))
    began=$EPOCHSECONDS
    if ((!role_checked)) && pgha_node_check_superuser_role; then role_checked=1; fi
    verdict=$(pgha_node_fence_verdict)
    if [[ "$verdict" == fence\ * ]]; then
      pgha_node_fence "${verdict#fence }"
      continue
    fi
    pgha_node_rejoin_if_asked && continue
    if [[ "$(pgha_node_attach_verdict)" == attach ]]; then
      pgha_node_attach
    elif ((rounds++ % 5 == 0)) && pgha_node_repoint_check "$EPOCHSECONDS"; then
      # Every fifth round: a left-behind standby is rare, and the grace is long.
      continue
    fi
    verdict=$(pgha_node_converge_verdict)
    if [[ "$verdict" != ok ]]; then pgha_node_converge "${verdict%%$'\n'*}" "${verdict#*$'\n'}"; fi
    pgha_node_disk_watch
    pgha_node_disk_rejoin_if_room
  done
}

