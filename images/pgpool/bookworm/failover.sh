#!/usr/bin/env bash
# generated from templates/pgpool/failover.sh.hbs by pgha (npm run generate); do not edit
# failover_command: pgpool runs this on the watchdog leader when a backend is detached.
# When the primary failed, it promotes the new main node over SSH and rewrites the
# .node_role breadcrumbs; when a standby failed, it keeps its slot so the standby can stream again.
set -euo pipefail
PGHA_SCRIPT=failover.sh
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

# Arguments, named in src/pgpool/hooks.ts:
failed_node_id=$1
failed_node_host=$2
new_main_node_id=$3
new_main_node_host=$4
old_primary_node_id=$5
old_primary_node_host=$6

pgha_log failover "backend $failed_node_id ($failed_node_host) is down; old primary $old_primary_node_id, new main candidate $new_main_node_id ($new_main_node_host)"

if [[ "$new_main_node_id" -lt 0 ]]; then
  pgha_die failover "every backend is down: no node to promote; refusing to act. Bring a node back and attach it with pcp_attach_node"
fi

# A standby detached by the health check is often only briefly away (a restart, a slow first
# clone, a follow): its slot stays, so it can stream again, and its node attaches it once it
# does (pgha-node watch-loop). The WAL a slot holds is bounded (max_slot_wal_keep_size on the primary);
# a standby whose slot ran past it is rebuilt when it starts (pgha-node decide_start).
if [[ "$failed_node_id" != "$old_primary_node_id" ]]; then
  pgha_log failover "a standby failed; the primary stays. Its replication slot is kept; its node attaches it again once it streams from the primary"
  # With synchronous replication the primary's commits may be waiting for this standby: the
  # primary suspends it if no other standby streams (bounded, in the background: pgpool
  # serves no client while this script runs).
  if [[ "$old_primary_node_id" -ge 0 && -n "$old_primary_node_host" ]]; then
    (
      pgha_ssh_within "$PGHA_REMOTE_STEP_SECONDS" "$old_primary_node_host" pgha-node standby-lost "$failed_node_host" ||
        pgha_log failover "WARNING: could not tell the primary $old_primary_node_host that $failed_node_host is gone; with synchronous replication its commits wait until a standby is back"
    ) </dev/null &
  fi
  exit 0
fi

# pgpool's candidate (%m) is not always the standby to promote (pgha_decide_promotion): with
# more than two backends, or durability strict, every other backend is asked (in parallel,
# bounded) how much WAL it received. pgpool then finds the new primary itself and points the
# others at it (follow_primary.sh).
failover_choose() {
  local hosts=() host lsn reports=() tmp verdict
  mapfile -t hosts < <(sed -n "s/^backend_hostname[0-9]* *= *'\(.*\)'.*/\1/p" "$PGHA_PGPOOL_CONF_DIR/pgpool.conf")
  verdict=$(pgha_decide_promotion "$new_main_node_host" "$PGHA_DURABILITY" "${#hosts[@]}" '?')
  if [[ "$verdict" == "need reports" ]]; then
    tmp=$(mktemp -d)
    for host in "${hosts[@]}"; do
      [[ "$host" == "$failed_node_host" ]] && continue
      pgha_ssh_within "$PGHA_LSN_QUERY_SECONDS" "$host" pgha-node receive-lsn >"$tmp/$host" 2>/dev/null &
    done
    wait
    for host in "${hosts[@]}"; do
      [[ "$host" == "$failed_node_host" ]] && continue
      lsn=$(cat "$tmp/$host" 2>/dev/null || true)
      if pgha_lsn_value "$lsn" >/dev/null; then
        pgha_log failover "$host received WAL up to $lsn"
      else
        pgha_log failover "$host did not report a received WAL position; not a candidate"
      fi
      reports+=("$host=$lsn")
    done
    rm -rf "$tmp"
    verdict=$(pgha_decide_promotion "$new_main_node_host" "$PGHA_DURABILITY" "${#hosts[@]}" "${reports[@]}")
  fi
  case "$verdict" in
    refuse*)
      pgha_die failover "durability strict:${verdict#refuse} did not report its WAL position within $PGHA_LSN_QUERY_SECONDS s: it may hold acknowledged commits the others lack, so nothing is promoted. The cluster has no primary until a person decides: bring it back and compare (pgha-node receive-lsn on each standby), or accept losing what only it had; then pgha-node promote on the chosen standby and pcp_promote_node -n ID on the leader"
      ;;
    "promote $new_main_node_host") ;;
    promote*)
      pgha_log failover "promoting ${verdict#promote } instead of pgpool's candidate $new_main_node_host: it received more WAL (acknowledged commits may exist only there)"
      new_main_node_host=${verdict#promote }
      ;;
  esac
}

# The old primary must take no commit once another node is promoted. One that answers stops
# at once (pgha-node step-down); one that does not (killed, cut off, frozen) is waited for until
# it must have fenced itself: its isolation guard stops a primary cut off for
# PGHA_ISOLATION_FENCE_SECONDS, and pgpool found it gone only after the cut (the lease:
# pgha_decide_step_down). A frozen one is held from its thaw by its thaw guard. Sets
# failover_stepped (yes when it answered and stopped).
failover_stepped=no
failover_step_down() {
  local began out pid asked=running verdict bound=$((PGHA_ISOLATION_FENCE_SECONDS + PGHA_ISOLATION_LATENESS_SECONDS))
  out=$(mktemp)
  pgha_read_uptime
  began=$PGHA_UPTIME_MS
  # Bounded by the lease: after it nothing waits on the old primary. With no lease it goes on in
  # the background within the usual remote step bound while the promotion goes on.
  ((PGHA_ISOLATION_FENCE_SECONDS)) || bound=$PGHA_REMOTE_STEP_SECONDS
  pgha_ssh_within "$bound" "$failed_node_host" pgha-node step-down >"$out" 2>/dev/null </dev/null &
  pid=$!
  while :; do
    if [[ "$asked" == running ]] && ! kill -0 "$pid" 2>/dev/null; then
      if wait "$pid"; then
        asked=stopped failover_stepped=yes
        pgha_log failover "$failed_node_host answered and runs no primary now ($(head -c 40 "$out")): promoting at once"
      else
        asked=silent
        pgha_log failover "$failed_node_host did not confirm a stop: waiting until it must have fenced itself (PGHA_ISOLATION_FENCE_SECONDS=$PGHA_ISOLATION_FENCE_SECONDS + $PGHA_ISOLATION_LATENESS_SECONDS s after asking)"
      fi
    fi
    pgha_read_uptime
    verdict=$(pgha_decide_step_down "$failover_stepped" "$((PGHA_UPTIME_MS - began))" "$PGHA_ISOLATION_FENCE_SECONDS")
    [[ "$verdict" == wait ]] || break
    sleep 0.1
  done
  if [[ "$verdict" == "promote lease" ]]; then
    pgha_log failover "$failed_node_host did not confirm a stop within $(((PGHA_UPTIME_MS - began) / 1000)) s: a primary cut off that long has fenced itself, a frozen one is held from its thaw; promoting"
  fi
  rm -f "$out"
}

# pgpool serves no client while this script runs: one SSH session promotes, and nothing
# waits on the failed node longer than its lease.
failover_choose
failover_step_down
# Stopped on request, it was running until now: with synchronous replication a standby may have
# confirmed commits since it reported its WAL position, so the choice is made again (no round
# trip with two nodes, unless durability is strict).
[[ "$failover_stepped" != yes ]] || failover_choose
pgha_log failover "promoting $new_main_node_host"
rc=0
# Bounded in total: pg_ctl promote waits at most PGHA_PG_CTL_TIMEOUT, the session a little more.
pgha_ssh_within "$((PGHA_PG_CTL_TIMEOUT + PGHA_REMOTE_STEP_SECONDS))" "$new_main_node_host" pgha-node promote || rc=$?
if ((rc == 255)); then
  pgha_die failover "$(pgha_ssh_failed "$new_main_node_host"); the cluster has no primary until one is promoted"
elif ((rc == 124)); then
  pgha_die failover "promotion of $new_main_node_host did not finish within $((PGHA_PG_CTL_TIMEOUT + PGHA_REMOTE_STEP_SECONDS)) s (a frozen node?): see its container log; the cluster has no primary until one is promoted"
elif ((rc != 0)); then
  pgha_die failover "promotion of $new_main_node_host failed: see its container log; the cluster has no primary until one is promoted"
fi
pgha_log failover "done: $new_main_node_host is the primary"

# The .node_role breadcrumb of the old primary, in the background and bounded, unless its
# step-down wrote it: that node is usually dead, and when it returns its start decision asks
# pgpool, not the breadcrumb.
[[ "$failover_stepped" == yes ]] || (
  if pgha_ssh_within "$PGHA_REMOTE_STEP_SECONDS" "$failed_node_host" pgha-node set-role BACKUP 2>/dev/null; then
    pgha_log failover "$failed_node_host marked BACKUP"
  else
    pgha_log failover "$failed_node_host unreachable; it will be rebuilt as BACKUP when it returns"
  fi
) </dev/null &
