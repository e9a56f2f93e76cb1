#!/usr/bin/env bash
# source: shell/postgres/node-rejoin.sh of pgha, copied verbatim into the postgres image's
# build context by `npm run generate`; edit the source, not the copy.
#
# pgha-node's answer to "is there another primary?": what pgpool (its watchdog leader) and
# the other nodes say, whether a node that may have been away starts on its own data or asks
# to be rebuilt (rejoin), and fencing, which stops a primary that pgpool no longer routes to.
# The verdicts themselves are pgha-decide.sh's; this file gathers their inputs and acts.
# Sourced by pgha-node.sh, never run.

# --- Which pgpool to ask: the delegate IP, or the watchdog leader the pgpool peers name.

# pgha_node_has_pgpool: this node has a pgpool to ask (a delegate IP, or pgpool peers); a
# standalone node has neither.
pgha_node_has_pgpool() { [[ -n "$PGHA_DELEGATE_IP" || -n "$PGHA_PGPOOL_PEERS" ]]; }

# pgha_node_leader_named_by PEER: the watchdog leader PEER names, when PEER answers (bounded by
# PGHA_PCP_PEER_SECONDS) and has a quorum, and the leader is one of the pgpool peers (the name goes
# into later commands); else fails. A peer cut off from the others is not believed.
pgha_node_leader_named_by() {
  local info leader
  info=$(PCPPASSFILE=$PGHA_PCPPASS_FILE timeout "$PGHA_PCP_PEER_SECONDS" pcp_watchdog_info -h "$1" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w -v 2>/dev/null) || return 1
  grep -qE '^Quorum state *: *(QUORUM EXIST|QUORUM IS ON THE EDGE)$' <<<"$info" || return 1
  leader=$(pgha_watchdog_leader "$info")
  [[ -n "$leader" && ",$PGHA_PGPOOL_PEERS," == *",$leader,"* ]] || return 1
  echo "$leader"
}

# pgha_node_find_leader: the watchdog leader, as the first pgpool peer that answers with a
# quorum names it (pgha_node_leader_named_by). Fails when none names one.
pgha_node_find_leader() {
  local peer
  for peer in ${PGHA_PGPOOL_PEERS//,/ }; do
    pgha_node_leader_named_by "$peer" && return 0
  done
  return 1
}

# pgha_node_pgpool_host: where to ask pgpool over pcp: the delegate IP when there is one, else
# the leader found last (PGHA_PGPOOL_LEADER_FILE) while it still leads with a quorum (asked
# first, one pcp_watchdog_info: a former leader cut off from the others would still answer
# pcp from its old view), else the one the peers name now, which is then kept. Fails when no
# peer names one.
pgha_node_pgpool_host() {
  local leader tmp
  if [[ -n "$PGHA_DELEGATE_IP" ]]; then
    echo "$PGHA_DELEGATE_IP"
    return 0
  fi
  if [[ -f "$PGHA_PGPOOL_LEADER_FILE" && ! -L "$PGHA_PGPOOL_LEADER_FILE" ]]; then
    leader=$(head -c 64 "$PGHA_PGPOOL_LEADER_FILE")
    if [[ -n "$leader" && ",$PGHA_PGPOOL_PEERS," == *",$leader,"* && "$(pgha_node_leader_named_by "$leader")" == "$leader" ]]; then
      echo "$leader"
      return 0
    fi
    rm -f "$PGHA_PGPOOL_LEADER_FILE"
  fi
  leader=$(pgha_node_find_leader) || return 1
  # A new file renamed over the old one: a link planted there is replaced, never followed.
  if tmp=$(mktemp "$PGHA_PGPOOL_LEADER_FILE.XXXXXX" 2>/dev/null); then
    if ! { printf '%s' "$leader" >"$tmp" && mv -f "$tmp" "$PGHA_PGPOOL_LEADER_FILE"; }; then rm -f "$tmp"; fi
  fi
  echo "$leader"
}

# pgha_node_forget_leader: the kept leader did not answer; the next call asks the peers again.
pgha_node_forget_leader() { [[ -n "$PGHA_DELEGATE_IP" ]] || rm -f "$PGHA_PGPOOL_LEADER_FILE"; }

# pgha_node_pgpool_where: where pgpool is asked, for log lines.
pgha_node_pgpool_where() {
  if [[ -n "$PGHA_DELEGATE_IP" ]]; then echo "at the delegate IP $PGHA_DELEGATE_IP"; else echo "at the watchdog leader (peers $PGHA_PGPOOL_PEERS)"; fi
}

# pgha_node_pcp SECONDS COMMAND [ARGS...]: pgha_pcp_run against pgpool_host; a failure forgets
# the leader, so the next attempt asks the peers again, unless the leader answered that it is
# busy with another recovery (it is the leader, and will be asked again soon).
pgha_node_pcp() {
  local seconds=$1 host out
  shift
  if ! host=$(pgha_node_pgpool_host); then
    echo "no pgpool peer (${PGHA_PGPOOL_PEERS}) names a watchdog leader"
    return 1
  fi
  if out=$(pgha_pcp_run "$seconds" "$host" "$@"); then
    [[ -z "$out" ]] || printf '%s\n' "$out"
    return 0
  fi
  [[ -z "$out" ]] || printf '%s\n' "$out"
  pgha_node_recovery_busy "$out" || pgha_node_forget_leader
  return 1
}

# --- Whether a node that may have been away may start on its own data.

# pgha_node_pool_nodes: "id|host|status|role" of every backend, as pgpool (pgpool_host)
# reports them over pcp (pgha_pcp_nodes: "waiting" counts as up), bounded by
# PGHA_REMOTE_STEP_SECONDS; fails when pgpool does not answer.
pgha_node_pool_nodes() {
  local host
  host=$(pgha_node_pgpool_host) || return 1
  pgha_pcp_nodes "$host" "$PGHA_REMOTE_STEP_SECONDS" && return 0
  pgha_node_forget_leader
  return 1
}

# pgha_node_pool_nodes_quick: pgha_node_pool_nodes from pgpool's memory alone, without the
# backend pings of pcp_node_info (pgha_pcp_nodes_quick): for the thaw guard.
pgha_node_pool_nodes_quick() {
  local host peers
  host=$(pgha_node_pgpool_host) || return 1
  read -r -a peers <<<"${PGHA_POSTGRES_PEERS//,/ }"
  pgha_pcp_nodes_quick "$host" "$PGHA_REMOTE_STEP_SECONDS" "${#peers[@]}" && return 0
  pgha_node_forget_leader
  return 1
}

# _pgha_node_ask HOST: psql to postgres on HOST directly, as the pgpool role; SQL on stdin.
_pgha_node_ask() {
  local pw
  pw=$(pgha_read_secret PGPOOL_PASSWORD) || return 1
  # Bounded in total: a frozen peer completes the TCP handshake and then never answers.
  PGPASSWORD=$pw PGCONNECT_TIMEOUT=$PGHA_CONNECT_TIMEOUT timeout "$PGHA_REMOTE_STEP_SECONDS" \
    psql -X -h "$1" -p "$PGPORT" -U "$PGHA_PGPOOL_USER" -d postgres -At "${@:2}" 2>/dev/null
}

# pgha_node_peer_answering PATTERN: the first other postgres node whose pg_is_in_recovery()
# answer matches PATTERN (a glob: f, t or [tf]), if any.
pgha_node_peer_answering() {
  local peer
  for peer in ${PGHA_POSTGRES_PEERS//,/ }; do
    [[ "$peer" == "$PGHA_NODE" ]] && continue
    # shellcheck disable=SC2053 # PATTERN is a glob on purpose
    if [[ "$(_pgha_node_ask "$peer" <<<'SELECT pg_is_in_recovery()')" == $1 ]]; then
      echo "$peer"
      return 0
    fi
  done
}

# pgha_node_running_primary_peer: the first other postgres node that answers as a primary, if any.
pgha_node_running_primary_peer() { pgha_node_peer_answering f; }

# pgha_node_running_peer: the first other postgres node of this cluster that answers a query
# (as primary or standby: either holds the cluster's data), if any.
pgha_node_running_peer() { pgha_node_peer_answering '[tf]'; }

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
# start of a cluster). Gathers the inputs of pgha_decide_primary_wait and pgha_decide_start
# from the functions above and PGDATA, so a test can stub them, and says what it found.
pgha_node_decide_start() {
  local waited=0 began=$SECONDS primary='' nodes step has_data=no upstream slot='?' verdict what
  while pgha_node_has_pgpool; do
    nodes=$(pgha_node_pool_nodes) || nodes=''
    step=$(pgha_decide_primary_wait "$PGHA_NODE" "$nodes" "$waited" "$PGHA_PRIMARY_WAIT_SECONDS")
    case "$step" in
      silent)
        primary=$(pgha_node_running_primary_peer)
        if [[ -z "$primary" ]]; then
          pgha_log rejoin-check "pgpool does not answer $(pgha_node_pgpool_where) and no other node (${PGHA_POSTGRES_PEERS:-none}) runs as primary; going by the data on disk"
        else
          pgha_log rejoin-check "pgpool does not answer $(pgha_node_pgpool_where), but $primary runs as primary"
        fi
        break
        ;;
      primary\ *)
        primary=${step#primary }
        break
        ;;
      alone)
        # pgpool may not have attached a peer that already runs as primary (a thawed primary,
        # one that convergence attaches a moment later): a start on this node's data would be
        # a second primary until its fence (a nemesis run: 2 s, both writable). With strict
        # durability convergence compares the data instead, and this node's may be the newer.
        if [[ "$(pgha_node_durability)" != strict ]]; then primary=$(pgha_node_running_primary_peer); fi
        if [[ -n "$primary" ]]; then
          pgha_log rejoin-check "pgpool sees no other backend up, but $primary runs as primary"
        else
          pgha_log rejoin-check "pgpool sees no other backend up (the cluster is starting, or every node was down); going by the data on disk"
        fi
        break
        ;;
      timeout)
        pgha_log rejoin-check "pgpool knows no healthy primary after $PGHA_PRIMARY_WAIT_SECONDS s; starting with the role on disk"
        break
        ;;
      wait) ;;
      *)
        # No verdict (a wait limit that is not a number): never loop without a bound.
        pgha_log rejoin-check "WARNING: no verdict on waiting for a primary (PGHA_PRIMARY_WAIT_SECONDS=${PGHA_PRIMARY_WAIT_SECONDS@Q}); starting with the role on disk"
        break
        ;;
    esac
    pgha_log rejoin-check "pgpool knows no healthy primary yet while another backend is up (a failover may be under way); waiting ($waited/$PGHA_PRIMARY_WAIT_SECONDS s)"
    sleep 2
    # Real time: each pass also spends up to PGHA_REMOTE_STEP_SECONDS asking pgpool (a 60 s
    # wait counted in passes took 88-94 s on a starved host).
    waited=$((SECONDS - began))
  done
  if [[ -s "$PGDATA/PG_VERSION" ]]; then has_data=yes; fi
  upstream=$(pgha_node_recorded_upstream) || upstream=''
  verdict=$(pgha_decide_start "$PGHA_NODE" "$primary" "$has_data" "$upstream" "$slot")
  if [[ "$verdict" == "need slot" ]]; then
    slot=gone
    if pgha_node_slot_on "$primary"; then slot=present; fi
    verdict=$(pgha_decide_start "$PGHA_NODE" "$primary" "$has_data" "$upstream" "$slot")
  fi
  case "$verdict" in
    "start self") pgha_log rejoin-check "pgpool sees this node as the primary; starting" ;;
    "start standby") pgha_log rejoin-check "this node is a standby of the primary $primary and its slot is there; starting" ;;
    "rejoin slot-gone") pgha_log rejoin-check "this node is a standby of $primary but its replication slot $(pgha_slot_name "$PGHA_NODE") is gone there" ;;
  esac
  if [[ "$verdict" == rejoin\ * ]]; then
    what="empty"
    if [[ "$has_data" == yes && -n "$upstream" ]]; then
      what="a standby of $upstream"
    elif [[ "$has_data" == yes ]]; then
      what="a former primary's"
    fi
    pgha_log rejoin-check "the primary is $primary and this node's data directory is $what; it must be rebuilt"
  fi
  echo "${verdict%% *}"
}

# pgha_node_hold_for_rejoin: keep postgres down and ask (through pgha-node rejoin, which
# supervisor runs once sshd is up) to be rebuilt from the primary.
pgha_node_hold_for_rejoin() {
  pgha_node_mark_for_rebuild
  pgha_log rejoin "held behind $PGHA_HOLD_MARKER, .node_role=BACKUP; pgha-node rejoin asks pgpool for pcp_recovery_node of node $PGHA_NODE_ID"
}

# pgha_node_rejoin: the entrypoint found another primary and held this node; ask pgpool (any
# node, through the delegate IP) to rebuild it. pgpool runs recovery_1st_stage on the primary,
# which has this node rewind onto the primary or clone it (pgha-node rebuild, over SSH), then
# pgpool_remote_start releases the hold. It never gives up: a held node that stopped asking
# stays down for good, and a compound fault (the primary lost during the rebuild) is repaired
# only when it asks again. PGHA_REJOIN_TRIES attempts every PGHA_REJOIN_RETRY_SECONDS, then one
# every PGHA_REJOIN_SLOW_RETRY_SECONDS; why it is still held is in PGHA_HELD_WHY_FILE for the
# health check, and in the log when it changes (and every tenth slow attempt).
pgha_node_rejoin() {
  local fd='' rc=0
  [[ -e "$PGHA_REJOIN_REQUEST" ]] || return 0
  pgha_node_has_pgpool || pgha_die rejoin "no pgpool to ask (neither PGHA_DELEGATE_IP nor PGHA_PGPOOL_PEERS is set)"
  : "${PGHA_NODE_ID:?}"
  # One process of the node asks at a time (the supervisor's rejoin program, the watch loop,
  # the thaw guard); a lock file that cannot be opened does not stop the asking.
  { exec {fd}>>"$PGHA_REJOIN_LOCK"; } 2>/dev/null || fd=''
  if [[ -n "$fd" ]] && ! flock -n "$fd"; then
    pgha_log rejoin "another process of this node already asks pgpool to rebuild it"
    exec {fd}>&-
    return 0
  fi
  pgha_node_rejoin_ask || rc=$?
  [[ -z "$fd" ]] || exec {fd}>&-
  return "$rc"
}

# pgha_node_rejoin_ask: pgha_node_rejoin's asking, until the node is rebuilt or released.
pgha_node_rejoin_ask() {
  local n=0 tries=0 said why last_why='' wait asked no_primary_since=''
  # sshd must be listening before the primary connects back to clone this node.
  pgha_wait_port 127.0.0.1 "$PGHA_SSH_PORT" 10 || pgha_log rejoin "WARNING: sshd is not listening on $PGHA_SSH_PORT after 10 s; asking all the same"
  while :; do
    # Released meanwhile (a rebuild that finished after its request's bound, or by hand): done.
    if [[ ! -e "$PGHA_HOLD_MARKER" ]]; then
      rm -f "$PGHA_REJOIN_REQUEST" "$PGHA_HELD_WHY_FILE"
      pgha_log rejoin "node $PGHA_NODE_ID is no longer held: not asking pgpool again"
      return 0
    fi
    n=$((n + 1))
    asked=no
    # An online recovery with no primary to copy from fails, and while it runs pgpool takes
    # no new client (40 s, seen with the primary killed mid-rebuild): ask only when pgpool
    # names one.
    if why=$(pgha_node_rejoin_source); then
      asked=yes
      pgha_log rejoin "asking pgpool $(pgha_node_pgpool_where) to rebuild node $PGHA_NODE_ID (attempt $n)"
      if said=$(pgha_node_pcp "$PGHA_RECOVERY_WAIT_SECONDS" pcp_recovery_node -n "$PGHA_NODE_ID"); then
        printf '  pcp_recovery_node: %s\n' "${said//$'\n'/$'\n  pcp_recovery_node: '}" >&2
        rm -f "$PGHA_REJOIN_REQUEST" "$PGHA_HELD_WHY_FILE"
        pgha_log rejoin "node $PGHA_NODE_ID rebuilt and attached as a standby"
        return 0
      fi
      printf '  pcp_recovery_node: %s\n' "${said//$'\n'/$'\n  pcp_recovery_node: '}" >&2
      why="pcp_recovery_node failed: $(pgha_node_rejoin_failure "$said")"
      # Refused while pgpool rebuilds another node: ask again as soon as it may be done (a
      # nemesis episode lost 10 s to the retry interval after the other rebuild ended).
      pgha_node_recovery_busy "$said" && asked=busy
    elif [[ "$why" == "pgpool knows no primary"* ]]; then
      # Only once pgpool has had no primary for longer than a failover takes (a candidate may
      # be being promoted right now: PGHA_REPOINT_GRACE_SECONDS).
      no_primary_since=${no_primary_since:-$SECONDS}
      if ((SECONDS - no_primary_since >= PGHA_REPOINT_GRACE_SECONDS)) && pgha_node_release_if_newest; then
        return 0
      fi
    fi
    [[ "$why" == "pgpool knows no primary"* ]] || no_primary_since=''
    pgha_node_held_why "$why (attempt $n)"
    wait=$PGHA_REJOIN_RETRY_SECONDS
    # Not asked (pgpool names no primary): looking again costs one pcp_node_info, and a primary
    # named a moment later should not wait a whole retry interval (a nemesis episode lost 10 s so).
    [[ "$asked" == yes ]] || wait=$PGHA_WATCH_INTERVAL_SECONDS
    # A refusal while another rebuild runs uses up no quick try: that rebuild may take minutes.
    [[ "$asked" == busy ]] || tries=$((tries + 1))
    ((tries < PGHA_REJOIN_TRIES)) || wait=$PGHA_REJOIN_SLOW_RETRY_SECONDS
    # One line per attempt while they are quick; later only when the cause changes, and every
    # tenth attempt.
    if [[ "$why" != "$last_why" ]] || ((n <= PGHA_REJOIN_TRIES || (n - PGHA_REJOIN_TRIES) % 10 == 0)); then
      pgha_log rejoin "WARNING: node $PGHA_NODE_ID is still held: $why; asking again in $wait s (attempt $n; if it goes on: PCP_PASSWORD, pcp_port $PGHA_PCP_PORT $(pgha_node_pgpool_where), the primary's log for recovery_1st_stage)"
    fi
    last_why=$why
    sleep "$wait"
  done
}

# pgha_node_rejoin_source: succeeds when pgpool (pgpool_host) has an up primary to
# rebuild this node from; else fails, printing why.
pgha_node_rejoin_source() {
  local nodes
  if ! nodes=$(pgha_node_pool_nodes) || [[ -z "$nodes" ]]; then
    echo "pgpool does not answer $(pgha_node_pgpool_where)"
    return 1
  fi
  if [[ -z "$(_pgha_decide_pool_primary "$nodes")" ]]; then
    echo "pgpool knows no primary to rebuild from ($(awk -F'|' '{ printf "%s%s %s %s", sep, $2, $3, $4; sep = ", " }' <<<"$nodes"))"
    return 1
  fi
}

# pgha_node_release_if_newest: this node is held to be rebuilt, but its data is a primary's and
# pgpool has had no primary to rebuild it from for a while (pgha_node_rejoin_ask): when convergence would attach it were it running
# (pgha_decide_converge: its data the newest of every node, no other node running as a primary;
# every node must answer, as with strict), the hold is lifted and it starts again as the
# primary; its watch loop then attaches it. This is a primary that stopped itself with nobody
# promoted meanwhile: its isolation guard saw every peer go at once (the whole cluster stopped
# around it, a restart of every other node), and without this every node would stay held.
# Succeeds when it lifted the hold.
pgha_node_release_if_newest() {
  local nodes mine peer verdict report kind tl my_tl
  local -a peers=()
  pgha_node_data_is_primary && [[ ! -e "$PGHA_DISK_FULL_MARKER" ]] || return 1
  nodes=$(pgha_node_pool_nodes) && [[ -n "$nodes" ]] || return 1
  mine=$(pgha_node_state) || return 1
  read -r _ my_tl _ <<<"$mine"
  for peer in ${PGHA_POSTGRES_PEERS//,/ }; do
    [[ "$peer" != "$PGHA_NODE" ]] || continue
    report=$(pgha_node_peer_state "$peer")
    # This node's own LSN is its last checkpoint, a lower bound (an immediate stop wrote none
    # since). A peer that is no primary on this node's timeline holds a prefix of it: only the
    # node that created a timeline writes it, and this node's data is a primary's on it.
    IFS=: read -r kind tl _ <<<"$report"
    [[ "$kind" == primary || "$tl" != "$my_tl" ]] || report="$kind:$tl:0/0"
    peers+=("$peer=$report")
  done
  # Every peer must answer, whatever the durability: a held node may be an old primary fenced
  # after a failover whose new primary is down now, with commits this node never saw.
  verdict=$(pgha_decide_converge "$PGHA_NODE" strict primary "$nodes" "$mine" "${peers[@]}")
  [[ "$verdict" == attach ]] || return 1
  pgha_log converge "pgpool has no primary, and this held node's data is a primary's with the newest data of every node that answered (this node: $mine; peers: ${peers[*]}): lifting the hold, it starts as the primary and its watch loop attaches it"
  echo MASTER >"$PGHA_ROLE_FILE"
  rm -f "$PGHA_REJOIN_REQUEST" "$PGHA_HELD_WHY_FILE" "$PGHA_HOLD_MARKER"
}

# pgha_node_rejoin_failure OUTPUT: the cause in what pcp_recovery_node printed: its last ERROR or
# FATAL line with the DETAIL line after it (pgpool puts the reason there: "already processing
# another recovery request"), else its last line, else "no output".
pgha_node_rejoin_failure() {
  local line
  line=$(awk '/ERROR|FATAL|no answer within/ { line = $0; detail = ""; next }
    line != "" && detail == "" && /DETAIL:/ { detail = $0 }
    END { if (line != "") print line (detail != "" ? " (" detail ")" : "") }' <<<"$1")
  [[ -n "$line" ]] || line=$(grep -v '^[[:space:]]*$' <<<"$1" | tail -n 1)
  # pcp pads its levels ("FATAL:  x"): one space reads better in a log line.
  line=${line//:  /: }
  printf '%s\n' "${line:-no output}"
}

# pgha_node_recovery_busy OUTPUT: pcp_recovery_node was refused only because pgpool is rebuilding
# another node (it runs one online recovery at a time): worth asking again soon.
pgha_node_recovery_busy() { [[ "$1" == *"already processing another recovery request"* ]]; }

# pgha_node_held_why TEXT: why this node is still held, for the health check ("held: TEXT").
pgha_node_held_why() {
  # Written aside and renamed: the health check never reads half a line.
  if printf '%s\n' "$1" >"$PGHA_HELD_WHY_FILE.tmp"; then mv -f "$PGHA_HELD_WHY_FILE.tmp" "$PGHA_HELD_WHY_FILE" || true; fi
}

# --- Fencing: a primary that pgpool no longer routes to stops itself.

# pgha_node_fence_verdict [ROLE]: "fence HOST" when this node runs as a primary while pgpool, asked
# through the delegate IP, routes to HOST as its up primary and HOST confirms it is one; "ok"
# otherwise (pgha_decide_fence), including when pgpool does not answer. Asks only what the
# verdict needs: pgpool only on a primary, HOST only when pgpool names another node.
pgha_node_fence_verdict() {
  local role=${1:-?} nodes='?' peer='?' verdict
  while verdict=$(pgha_decide_fence "$PGHA_NODE" "$role" "$nodes" "$peer") && [[ "$verdict" == need\ * ]]; do
    case "$verdict" in
      "need role") role=$(pgha_node_local_role) ;;
      "need pool") nodes=$(pgha_node_pool_nodes) || nodes='' ;;
      "need peer "*) peer=$(pgha_node_peer_role "${verdict#need peer }") ;;
    esac
  done
  echo "$verdict"
}

# pgha_node_peer_role HOST: primary when HOST says it is one (pgha_node_peer_is_primary),
# standby otherwise (also when it does not answer).
pgha_node_peer_role() {
  if pgha_node_peer_is_primary "$1"; then echo primary; else echo standby; fi
}

# pgha_node_peer_is_primary HOST: HOST answers, as the replication role (whose pass file
# every process of the node can read; the pgpool role's secret stays with the entrypoint),
# that it is not in recovery. Bounded in total.
pgha_node_peer_is_primary() {
  [[ "$(timeout "$PGHA_REMOTE_STEP_SECONDS" psql -X -At -d "host=$1 port=$PGPORT user=$PGHA_REPLICATION_USER dbname=postgres passfile=$PGHA_PGPASS_FILE connect_timeout=$PGHA_CONNECT_TIMEOUT" \
    -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" == f ]]
}

# pgha_node_fence PRIMARY [STOP...]: stops postgres at once (immediate: not one more commit on a
# second primary), holds it behind the marker and asks pgpool to rebuild it as PRIMARY's
# standby. STOP: how postgres is stopped, when not by pg_ctl (pgha_node_stop_for_rebuild).
pgha_node_fence() {
  local primary=$1
  shift
  pgha_log fence "this node runs as a primary but pgpool routes writes to $primary: stopping postgres now and rejoining as a standby"
  pgha_node_stop_for_rebuild fence "$@"
}

# pgha_node_stop_for_rebuild ACTION [STOP...]: held and stopped (pgha_node_stop_and_hold), then
# rebuilt through pgpool (pgha_node_rejoin: until it is, or a person is told why not). Fencing,
# a cut-off primary and a standby left behind by a failover all end here.
pgha_node_stop_for_rebuild() {
  pgha_node_stop_and_hold "$@" || return 0
  pgha_node_rejoin
}

# pgha_node_stop_and_hold ACTION [STOP...]: held behind the marker, a BACKUP, asking to be
# rebuilt, postgres stopped at once (STOP with its arguments, else pgha_node_stop_immediate).
# The watch loop, the thaw guard, the isolation guard and a step-down can all decide to stop it
# at about the same time: whichever comes first stops it (and rejoins), and the others fail at
# once (STOP not run).
pgha_node_stop_and_hold() {
  local action=$1 fd
  shift
  # A lock that cannot be opened does not stop the fence: one stop too many is harmless.
  if ! { exec {fd}>>"$PGHA_REBUILD_LOCK"; } 2>/dev/null; then
    pgha_log "$action" "WARNING: cannot open the rebuild lock $PGHA_REBUILD_LOCK; going on without it"
    fd=''
  elif ! flock -n "$fd"; then
    pgha_log "$action" "another process of this node is already stopping it for a rebuild"
    exec {fd}>&-
    return 1
  fi
  # Held before postgres stops: supervisor restarts postgres-run.sh at once, which must find the marker.
  pgha_node_mark_for_rebuild
  if (($#)); then "$@"; else pgha_node_stop_immediate "$action"; fi
  # Only the stop is locked: a rejoin can take minutes, and a later fence must not wait for it.
  [[ -z "$fd" ]] || exec {fd}>&-
}

# pgha_node_rejoin_if_asked: a node held and asking to be rebuilt, with nobody asking pgpool for
# it (a step-down stopped it over SSH, which must not wait minutes for the rebuild), asks now
# (pgha_node_rejoin, until it is rebuilt). Fails when there is nothing to do.
pgha_node_rejoin_if_asked() {
  local fd
  [[ -e "$PGHA_HOLD_MARKER" && -e "$PGHA_REJOIN_REQUEST" ]] || return 1
  # Someone asks already (the rejoin program at the start, the thaw guard that fenced): quietly
  # nothing. A lock that cannot be opened does not stop the asking (pgha_node_rejoin says so).
  if { exec {fd}>>"$PGHA_REJOIN_LOCK"; } 2>/dev/null; then
    if ! flock -n "$fd"; then
      exec {fd}>&-
      return 1
    fi
    exec {fd}>&-
  fi
  pgha_node_rejoin
}

# pgha_node_stop_immediate ACTION: pg_ctl's immediate stop, when postgres runs; a warning only
# when it still runs afterwards.
pgha_node_stop_immediate() {
  local err
  pgha_node_is_running || return 0
  err=$(pg_ctl -D "$PGDATA" -m immediate -w -t "$PGHA_PG_CTL_TIMEOUT" stop 2>&1 >/dev/null) && return 0
  pgha_node_is_running || return 0
  pgha_log "$1" "WARNING: pg_ctl stop did not confirm within $PGHA_PG_CTL_TIMEOUT s: ${err//$'\n'/ }"
}

# pgha_node_mark_for_rebuild: held behind the marker, asking to be rebuilt, a BACKUP.
pgha_node_mark_for_rebuild() {
  touch "$PGHA_HOLD_MARKER" "$PGHA_REJOIN_REQUEST"
  rm -f "$PGHA_HELD_WHY_FILE"
  echo BACKUP >"$PGHA_ROLE_FILE"
}
