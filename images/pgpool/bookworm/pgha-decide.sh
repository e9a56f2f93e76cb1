#!/usr/bin/env bash
# source: shell/lib/pgha-decide.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# The decisions the node scripts take, as pure functions: every input is an argument, the
# verdict is printed (or is the exit status), nothing is read from disk, the network or the
# environment, nothing is written. The callers gather the inputs; test/bats/decide-*.bats
# check each verdict against a table. Sourced, never run.

# --- postgres-side decisions below ---

# Conventions: an input not gathered yet is passed as '?'. A decision that needs it to go on
# prints "need NAME" instead of a verdict; the caller gathers that one input (a query, a
# network call) and asks again, so nothing is asked that the verdict does not depend on. NODES
# is pgpool's view of the backends, one "id|host|status|role" line each (pgha_node_pool_nodes);
# empty when pgpool did not answer.

# pgha_decide_local_role RUNNING IN_RECOVERY: what this node's postgres is, from whether it
# runs (yes or no) and its answer to pg_is_in_recovery() (t or f; anything else is no answer):
# primary, standby, stopped or unknown.
pgha_decide_local_role() {
  if [[ "$1" != yes ]]; then
    echo stopped
  elif [[ "$2" == f ]]; then
    echo primary
  elif [[ "$2" == t ]]; then
    echo standby
  else
    echo unknown
  fi
}

# _pgha_decide_pool_primary NODES: the first backend NODES lists up as primary, or nothing.
_pgha_decide_pool_primary() {
  awk -F'|' '$3 == "up" && $4 == "primary" { print $2; exit }' <<<"$1"
}

# _pgha_decide_pool_down NODES HOST: NODES lists HOST as down.
_pgha_decide_pool_down() {
  awk -F'|' -v host="$2" '$2 == host && $3 == "down" { found = 1 } END { exit !found }' <<<"$1"
}

# pgha_decide_primary_wait ME NODES WAITED LIMIT: one look, while a starting node waits for
# pgpool to name the primary: "silent" (pgpool did not answer: ask the peers), "primary HOST"
# (pgpool routes writes to HOST), "alone" (no backend but ME is up: the whole cluster is
# starting, or every node was down, and no failover can be under way without a live standby),
# "timeout" (WAITED reached LIMIT seconds) or "wait" (another backend is up but no primary:
# a failover may be under way).
pgha_decide_primary_wait() {
  local me=$1 nodes=$2 waited=$3 limit=$4 primary
  if [[ -z "$nodes" ]]; then
    echo silent
    return 0
  fi
  primary=$(_pgha_decide_pool_primary "$nodes")
  if [[ -n "$primary" ]]; then
    echo "primary $primary"
  elif ! awk -F'|' -v me="$me" '$3 == "up" && $2 != me { found = 1 } END { exit !found }' <<<"$nodes"; then
    echo alone
  elif ((waited >= limit)); then
    echo timeout
  else
    echo wait
  fi
}

# pgha_decide_start ME PRIMARY HAS_DATA UPSTREAM SLOT: whether a node that may have been away
# starts on its own data. PRIMARY: the node known to run as primary (empty: none known, as at
# a cluster's first start); HAS_DATA: yes when the data directory holds a cluster; UPSTREAM:
# the host it streams from as a standby (empty: not a standby); SLOT: present or gone, ME's
# replication slot on PRIMARY. Prints "start none" (no primary known: the data on disk
# decides), "start self" (ME is the primary), "start standby" (PRIMARY's standby, its slot
# there), "need slot", "rejoin slot-gone" (failover.sh dropped it; the WAL it needs may be
# gone) or "rejoin other" (empty, a former primary, a standby of another node): it must be
# rebuilt from PRIMARY.
pgha_decide_start() {
  local me=$1 primary=$2 has_data=$3 upstream=$4 slot=$5
  if [[ -z "$primary" ]]; then
    echo "start none"
  elif [[ "$primary" == "$me" ]]; then
    echo "start self"
  elif [[ "$has_data" == yes && "$upstream" == "$primary" ]]; then
    case "$slot" in
      '?') echo "need slot" ;;
      present) echo "start standby" ;;
      *) echo "rejoin slot-gone" ;;
    esac
  else
    echo "rejoin other"
  fi
}

# pgha_decide_empty_volume ROLE PEER: what a node whose data directory is empty does once no
# primary is known (pgha_decide_start said "start none"). ROLE: the role it was given for the
# cluster's first start (primary or standby); PEER: another postgres node of this cluster that
# answers (empty: none does, '?': not asked yet). A standby clones ("clone"). The first primary
# runs initdb ("initdb") only when no other node answers: at a first start none can, as the
# standbys wait for it. When one answers, the cluster exists and holds data this node lacks: a
# new, empty database would replace it. It is held to be rebuilt ("hold PEER"). Asks "need peer".
pgha_decide_empty_volume() {
  local role=$1 peer=$2
  if [[ "$role" == standby ]]; then
    echo clone
  elif [[ "$peer" == '?' ]]; then
    echo "need peer"
  elif [[ -n "$peer" ]]; then
    echo "hold $peer"
  else
    echo initdb
  fi
}

# pgha_decide_fence ME ROLE NODES PEER_ROLE: "fence HOST" when ME runs as a primary while
# pgpool routes writes to HOST as its up primary and HOST says itself it is a primary
# (PEER_ROLE; pgpool's view can lag, as with a pgpool still starting); "ok" otherwise,
# including when pgpool is silent (no evidence, no action: a whole-cluster start looks the
# same). Asks for "need role", "need pool", "need peer HOST".
pgha_decide_fence() {
  local me=$1 role=$2 nodes=$3 peer=$4 primary
  if [[ "$role" == '?' ]]; then
    echo "need role"
    return 0
  fi
  if [[ "$role" != primary ]]; then
    echo ok
    return 0
  fi
  if [[ "$nodes" == '?' ]]; then
    echo "need pool"
    return 0
  fi
  primary=$(_pgha_decide_pool_primary "$nodes")
  if [[ -z "$primary" || "$primary" == "$me" ]]; then
    echo ok
  elif [[ "$peer" == '?' ]]; then
    echo "need peer $primary"
  elif [[ "$peer" == primary ]]; then
    echo "fence $primary"
  else
    echo ok
  fi
}

# pgha_decide_isolation ROLE REACHED ARMED ALONE_MS BOUND: whether a primary cut off from the
# side of the cluster that can fail it over fences itself (the isolation guard). REACHED: yes
# when that side (pgha_node_reaches_peer) answered this round; ARMED: yes once it has answered
# since this node started (a whole-cluster start, where nobody answers yet, must not stop the
# only primary); ALONE_MS: milliseconds since the start of the last round that reached it;
# BOUND: PGHA_ISOLATION_FENCE_SECONDS (0 turns this off). "fence" once ALONE_MS reaches BOUND:
# failover.sh promotes another node only after it has waited the lease
# (pgha_decide_step_down), so this node is stopped first. "alone" while it waits; "ok"
# otherwise. Asks for "need role", "need peers" (only a primary's peers are asked).
pgha_decide_isolation() {
  local role=$1 reached=$2 armed=$3 alone=$4 bound=$5
  if ((bound == 0)); then
    echo ok
  elif [[ "$role" == '?' ]]; then
    echo "need role"
  elif [[ "$role" != primary ]]; then
    echo ok
  elif [[ "$reached" == '?' ]]; then
    echo "need peers"
  elif [[ "$reached" == yes || "$armed" != yes ]]; then
    echo ok
  elif ((alone >= bound * 1000)); then
    echo fence
  else
    echo alone
  fi
}

# The isolation guard's own lateness, in seconds: it decides after a round of looks that takes
# at most 1.5 s on a cut-off node (the delegate IP within half a second, then the others at once
# within a second) and a 0.25 s pause, then stops postgres (an immediate stop: SIGQUIT). 3 s
# covers that with over a second to spare for a busy host; failover.sh adds it to the lease.
PGHA_ISOLATION_LATENESS_SECONDS=3

# pgha_decide_step_down STEPPED ELAPSED_MS BOUND: whether failover.sh may promote a standby yet,
# the old primary not having been confirmed stopped. STEPPED: yes when the old primary answered
# and stopped (pgha-node step-down), no when it has not (yet); ELAPSED_MS: since failover.sh
# asked; BOUND: PGHA_ISOLATION_FENCE_SECONDS, the lease. "promote" when it stopped, or when the
# lease and the guard's lateness have passed: a primary that could not be asked (killed, cut
# off, frozen) has fenced itself by then if it runs at all (pgha_decide_isolation; a frozen one
# is held from its thaw by its thaw guard). BOUND 0 (no isolation guard): "promote" at once,
# nothing is gained by waiting. "wait" otherwise.
pgha_decide_step_down() {
  local stepped=$1 elapsed=$2 bound=$3
  if [[ "$stepped" == yes ]] || ((bound == 0)); then
    echo promote
  elif ((elapsed >= (bound + PGHA_ISOLATION_LATENESS_SECONDS) * 1000)); then
    echo "promote lease"
  else
    echo wait
  fi
}

# pgha_decide_thaw ROLE STILL_MS BOUND: whether the thaw guard holds postgres while it asks
# pgpool who the primary is. STILL_MS: how long the guard itself stood still beyond its own
# sleep (a frozen container, a stalled VM: every process of the node stood still with it);
# BOUND: PGHA_THAW_CHECK_SECONDS (0 turns the guard off). "hold" when this node runs as a
# primary and stood still for BOUND seconds or more: pgpool may have promoted another node
# meanwhile, and this one would take commits from its thaw until the watch loop's next check;
# "ok" otherwise. ROLE is read from the data directory, never by asking postgres.
pgha_decide_thaw() {
  local role=$1 still=$2 bound=$3
  if ((bound == 0)) || [[ "$role" != primary ]]; then
    echo ok
  elif ((still >= bound * 1000)); then
    echo hold
  else
    echo ok
  fi
}

# pgha_decide_thaw_fence ME NODES PEER_ROLE: what the thaw guard does with the primary ME it
# holds. "fence HOST" when pgpool routes writes to HOST as its up primary and HOST says itself
# it is a primary; "wait" while a failover is under way: pgpool has ME down and names no up
# primary yet, or names one that does not say it is one yet (asked again shortly); "go" when
# pgpool is silent (no evidence, no action, as pgha_decide_fence), routes to ME, or has ME up
# with no primary. Asks for "need pool", "need peer HOST".
pgha_decide_thaw_fence() {
  local me=$1 nodes=$2 peer=$3 primary
  if [[ "$nodes" == '?' ]]; then
    echo "need pool"
    return 0
  fi
  [[ -n "$nodes" ]] || { echo go && return 0; }
  primary=$(_pgha_decide_pool_primary "$nodes")
  if [[ "$primary" == "$me" ]]; then
    echo go
  elif [[ -z "$primary" ]]; then
    if _pgha_decide_pool_down "$nodes" "$me"; then echo wait; else echo go; fi
  elif [[ "$peer" == '?' ]]; then
    echo "need peer $primary"
  elif [[ "$peer" == primary ]]; then
    echo "fence $primary"
  else
    echo wait
  fi
}

# pgha_decide_vip STATUS ESCALATED QUORUM HOLDS: whether a pgpool node puts the delegate IP on
# its interface again, or takes it off, when the watchdog's own record and the interface
# disagree. STATUS: this node's watchdog status (LEADER, STANDBY, ...; empty when pcp did not
# answer); ESCALATED: "Local node escalation" (YES/NO); QUORUM: yes when the quorum exists;
# HOLDS: yes when the address is on the interface. "up" for a leader with the quorum that has
# escalated (pgpool believes the address is here) but does not hold it: a frozen leader that
# won the split-brain after its thaw lost it to the new leader's escalation, and no node held it;
# "down" for a standby that holds it (two nodes would answer ARP); "ok" otherwise, also when
# pcp did not answer.
pgha_decide_vip() {
  local status=$1 escalated=$2 quorum=$3 holds=$4
  if [[ "$status" == LEADER && "$escalated" == YES && "$quorum" == yes && "$holds" == no ]]; then
    echo up
  elif [[ "$status" == STANDBY && "$escalated" == NO && "$holds" == yes ]]; then
    echo down
  else
    echo ok
  fi
}

# pgha_decide_attach ME HELD ROLE SENDER NODES: "attach" when ME is a standby, not HELD (yes
# or no), streaming from SENDER, and SENDER is the node pgpool routes writes to while pgpool
# has ME down; "ok" otherwise. Asked on the node itself, "streaming from the new primary" is
# true only once it has followed it: right after a failover it still names the dead primary
# and must not be attached, or follow_primary never re-points it. Asks for "need role",
# "need sender", "need pool".
pgha_decide_attach() {
  local me=$1 held=$2 role=$3 sender=$4 nodes=$5
  if [[ "$held" == yes ]]; then
    echo ok
  elif [[ "$role" == '?' ]]; then
    echo "need role"
  elif [[ "$role" != standby ]]; then
    echo ok
  elif [[ "$sender" == '?' ]]; then
    echo "need sender"
  elif [[ -z "$sender" ]]; then
    echo ok
  elif [[ "$nodes" == '?' ]]; then
    echo "need pool"
  elif [[ -n "$nodes" && "$(_pgha_decide_pool_primary "$nodes")" == "$sender" ]] && _pgha_decide_pool_down "$nodes" "$me"; then
    echo attach
  else
    echo ok
  fi
}

# pgha_decide_repoint ME HELD ROLE SENDER NODES STUCK GRACE: a standby left behind by a
# failover. follow_primary.sh re-points every standby that answers while pgpool promotes; one
# that was frozen or cut off then, and came back without a restart (which would have run the
# start decision), still follows the old primary, or nothing, or a timeline the new primary
# forked off: pgpool keeps it down and nothing else rebuilds it. "stuck" while ME is a
# standby, not HELD, pgpool has it down and names an up primary other than ME that it does not
# stream from (SENDER, empty when not streaming); "rebuild HOST" once that has held for STUCK
# >= GRACE seconds (kept by the caller; follow_primary.sh, which holds the node while it works,
# may still be on its way); "ok" otherwise. Asks for "need role", "need sender", "need pool".
pgha_decide_repoint() {
  local me=$1 held=$2 role=$3 sender=$4 nodes=$5 stuck=$6 grace=$7 primary
  if [[ "$held" == yes ]]; then
    echo ok
    return 0
  elif [[ "$role" == '?' ]]; then
    echo "need role"
    return 0
  elif [[ "$role" != standby ]]; then
    echo ok
    return 0
  elif [[ "$sender" == '?' ]]; then
    echo "need sender"
    return 0
  elif [[ "$nodes" == '?' ]]; then
    echo "need pool"
    return 0
  fi
  primary=$(_pgha_decide_pool_primary "$nodes")
  if [[ -z "$nodes" || -z "$primary" || "$primary" == "$me" || "$primary" == "$sender" ]] || ! _pgha_decide_pool_down "$nodes" "$me"; then
    echo ok
  elif [[ "$stuck" =~ ^[0-9]+$ && "$grace" =~ ^[0-9]+$ ]] && ((stuck >= grace)); then
    echo "rebuild $primary"
  else
    echo stuck
  fi
}

# pgha_decide_disk FREE RESERVE ROLE CAUGHT_UP: on a primary whose volume has less than
# RESERVE MB free (FREE, in MB; empty when df could not tell): "handover" when CAUGHT_UP
# streaming standbys (at least one) have flushed all the WAL this primary flushed (with
# synchronous replication every acknowledged commit is there; asynchronous, the few
# milliseconds to the stop are the usual asynchronous risk), "full" when none has (the
# primary keeps running: reads work, writes that need space fail); "ok" otherwise. Asks for
# "need role", "need caught-up".
pgha_decide_disk() {
  local free=$1 reserve=$2 role=$3 caught_up=$4
  if [[ ! "$free" =~ ^[0-9]+$ ]] || ((free >= reserve)); then
    echo ok
  elif [[ "$role" == '?' ]]; then
    echo "need role"
  elif [[ "$role" != primary ]]; then
    echo ok
  elif [[ "$caught_up" == '?' ]]; then
    echo "need caught-up"
  elif [[ "$caught_up" =~ ^[0-9]+$ ]] && ((caught_up > 0)); then
    echo handover
  else
    echo full
  fi
}

# --- Convergence: every node runs again, and pgpool has no primary.

# A node's state as pgha_node_state reports it: "KIND TIMELINE LSN", KIND one of primary,
# standby (running), held (stopped behind the hold marker) or stopped; TIMELINE the newest
# timeline the data directory has WAL of; LSN how far it goes (a stopped node: its last
# checkpoint, a lower bound). A peer's report is "HOST=KIND:TIMELINE:LSN", or "HOST=silent"
# when HOST did not answer (down, frozen, cut off).

# _pgha_decide_newer TL_A LSN_A TL_B LSN_B: A's data is ahead of B's: a newer timeline, or the
# same timeline and a later WAL position. An unreadable LSN counts as 0/0.
_pgha_decide_newer() {
  local a b
  a=$(pgha_lsn_value "$2") || a=0
  b=$(pgha_lsn_value "$4") || b=0
  ((10#$1 > 10#$3 || (10#$1 == 10#$3 && a > b)))
}

# pgha_decide_converge ME DURABILITY ROLE NODES MINE PEERS...: what a node that runs as a
# primary does while pgpool answers with no primary and has ME down (the cluster came back
# from a compound fault and nobody re-attached it). MINE is ME's "KIND TIMELINE LSN"; PEERS
# one report per other postgres node. Verdicts:
#   "ok"              nothing to do: not a primary, pgpool silent, pgpool has a primary or
#                     has ME up
#   "yield HOST"      HOST runs as a primary with newer data (or the same, and sorts first):
#                     ME stops and asks to be rebuilt from it
#   "refuse HOST..."  these nodes do not run as primary but hold newer data than ME: attaching
#                     ME would lose it; a person must look
#   "wait HOST..."    durability strict and these nodes did not answer: they may hold commits
#                     ME lacks; nothing is attached until every node answers
#   "attach"          ME holds the newest data of every node that answered: attach it
# Asks for "need role", "need pool", "need mine", "need peers" (PEERS is the single word '?').
pgha_decide_converge() {
  local me=$1 durability=$2 role=$3 nodes=$4 mine=$5 report host kind tl lsn my_tl my_lsn yield='' refuse='' silent=''
  shift 5
  if [[ "$role" == '?' ]]; then
    echo "need role"
    return 0
  elif [[ "$role" != primary ]]; then
    echo ok
    return 0
  elif [[ "$nodes" == '?' ]]; then
    echo "need pool"
    return 0
  elif [[ -z "$nodes" || -n "$(_pgha_decide_pool_primary "$nodes")" ]] || ! _pgha_decide_pool_down "$nodes" "$me"; then
    echo ok
    return 0
  elif [[ "$mine" == '?' ]]; then
    echo "need mine"
    return 0
  elif [[ "$*" == '?' ]]; then
    echo "need peers"
    return 0
  fi
  read -r _ my_tl my_lsn <<<"$mine"
  for report in "$@"; do
    host=${report%%=*}
    IFS=: read -r kind tl lsn <<<"${report#*=}"
    if [[ "$kind" == silent || ! "$tl" =~ ^[0-9]+$ ]]; then
      silent+=" $host"
    elif _pgha_decide_newer "$tl" "$lsn" "$my_tl" "$my_lsn" ||
      { [[ "$kind" == primary && "$tl" == "$my_tl" && "$lsn" == "$my_lsn" && "$host" < "$me" ]]; }; then
      if [[ "$kind" == primary ]]; then
        yield=${yield:-$host}
      else
        refuse+=" $host"
      fi
    fi
  done
  if [[ -n "$yield" ]]; then
    echo "yield $yield"
  elif [[ -n "$refuse" ]]; then
    echo "refuse$refuse"
  elif [[ -n "$silent" && "$durability" == strict ]]; then
    echo "wait$silent"
  else
    echo attach
  fi
}

# --- pgpool-side decisions below ---

# pgha_decide_promotion CANDIDATE DURABILITY BACKENDS REPORTS...: the standby to promote after
# the primary failed. pgpool's CANDIDATE is the lowest-numbered live node, not the one holding
# the most WAL: with synchronous replication and a lagging standby, promoting it would lose
# commits another standby confirmed. BACKENDS is how many backends pgpool.conf names; REPORTS
# are "HOST=LSN", the WAL position each standby asked says it received (LSN empty, or not a
# position, when it did not answer), or the single word '?' before they are asked.
#   "promote HOST"  the most advanced standby; CANDIDATE on a tie, or when no report beats it
#   "need reports"  REPORTS is '?' and the standbys are to be asked first
#   "refuse HOST..." durability strict, and these standbys did not answer
# Asked only with more than two backends, or with durability strict: then every acknowledged
# commit is on at least one standby (commits always waited for one), and WAL is received in
# order, so the most advanced of all holds them all, and a standby that cannot answer (even
# one detached earlier) may be the only one with the last commits: nothing is promoted.
pgha_decide_promotion() {
  local candidate=$1 durability=$2 backends=$3 report host value best=$1 best_value=-1 missing=''
  shift 3
  if [[ "$durability" != strict ]] && ((backends <= 2)); then
    echo "promote $candidate"
    return 0
  elif [[ "$*" == '?' ]]; then
    echo "need reports"
    return 0
  fi
  for report in "$@"; do
    host=${report%%=*}
    if ! value=$(pgha_lsn_value "${report#*=}"); then
      missing+=" $host"
    elif ((value > best_value)) || { ((value == best_value)) && [[ "$host" == "$candidate" ]]; }; then
      best=$host
      best_value=$value
    fi
  done
  if [[ -n "$missing" && "$durability" == strict ]]; then
    echo "refuse$missing"
  else
    echo "promote $best"
  fi
}
