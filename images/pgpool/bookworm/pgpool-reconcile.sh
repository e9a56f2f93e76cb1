#!/usr/bin/env bash
# source: shell/pgpool/pgpool-reconcile.sh of pgha, copied verbatim into every pgpool image's
# build context by `npm run generate`; edit the source, not the copy.
#
# Reconciliation: a pgpool standby can keep a backend "down" that the leader has up (seen after
# the leader was restarted during a failover, when pgpool's auto_failback was still on: a
# standby node's failback request reaches the leader, which has the backend up already and so
# syncs nothing). With that view it refuses to fail over to a healthy standby once it leads;
# restarted, it takes the leader's states. Sourced by entrypoint.sh (after pgha-lib.sh), never
# on its own.

# pgha_pgpool_backend_view [HOST]: "host status" per backend as this node's pcp (or HOST's)
# reports it (pgha_pcp_nodes: "waiting" counts as up). Bounded; empty when pcp does not answer.
pgha_pgpool_backend_view() {
  pgha_pcp_nodes "${1:-localhost}" 5 | awk -F'|' '{ print $2, $3 }'
}

# pgha_pgpool_stale_backends LOCAL LEADER: the backends LOCAL has down while LEADER (both
# pgha_pgpool_backend_view outputs) has them up, space-separated.
pgha_pgpool_stale_backends() {
  awk 'NR == FNR { leader[$1] = $2; next } $2 == "down" && leader[$1] == "up" { printf "%s%s", sep, $1; sep = " " }' <(printf '%s\n' "$2") <(printf '%s\n' "$1")
}

# pgha_pgpool_others_joined INFO: every other watchdog node in INFO (pcp_watchdog_info -v) is
# LEADER or STANDBY. A reconcile restart waits for that: two stale standbys restarting together
# would leave the leader without quorum, and it would give up the delegate IP.
pgha_pgpool_others_joined() {
  awk -v me="$PGHA_NODE" -F' *: *' '
    /^Host Name/ { host = $2 }
    /^Status Name/ && host != me && host != "" { seen = 1; if ($2 != "LEADER" && $2 != "STANDBY") bad = 1 }
    END { exit !(seen && !bad) }' <<<"$1"
}

# pgha_pgpool_reconcile_loop: every PGHA_RECONCILE_INTERVAL_SECONDS, on a watchdog standby,
# compares this node's view of the backends with the leader's; after PGHA_RECONCILE_TICKS
# checks in a row that disagree, pgpool is stopped (fast) and the supervisor starts it again.
pgha_pgpool_reconcile_loop() {
  local ticks=0 info me leader stale pid
  while sleep "$PGHA_RECONCILE_INTERVAL_SECONDS"; do
    info=$(pgha_watchdog_info 5)
    me=$(pgha_watchdog_status "$info" "$PGHA_NODE")
    leader=$(pgha_watchdog_leader "$info")
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

# --- The delegate IP: the watchdog's record against the interface.

# pgha_pgpool_holds_vip: yes when the delegate IP is on its device, no when not (pgha-vip's
# settings, read as root wrote them).
pgha_pgpool_holds_vip() {
  if ip -4 -o addr show dev "$PGHA_VIP_CONF_DEVICE" 2>/dev/null | grep -qw "inet $PGHA_VIP_CONF_IP/$PGHA_VIP_CONF_PREFIX"; then echo yes; else echo no; fi
}

# pgha_pgpool_vip_verdict: pgha_decide_vip for this node, from pcp_watchdog_info (bounded) and
# the interface.
pgha_pgpool_vip_verdict() {
  local info status escalated quorum=no
  info=$(pgha_watchdog_info 5)
  status=$(pgha_watchdog_status "$info" "$PGHA_NODE")
  escalated=$(awk -F' *: *' '/^Local node escalation/ { print $2; exit }' <<<"$info")
  grep -q '^Quorum state *: *QUORUM EXIST' <<<"$info" && quorum=yes
  pgha_decide_vip "$status" "$escalated" "$quorum" "$(pgha_pgpool_holds_vip)"
}

# pgha_pgpool_vip_loop: every PGHA_VIP_CHECK_SECONDS, the delegate IP where the watchdog says it
# is: after two checks in a row with the same disagreement (an escalation or a de-escalation
# under way settles within one), put back on the leader (and announced) or taken off a standby.
# pgpool's watchdog never looks again once it escalated: a nemesis run ended with the leader
# escalated, the address on no node, and every client refused for minutes.
pgha_pgpool_vip_loop() {
  local verdict last=ok
  # No delegate IP (several hosts: clients use the published ports): nothing to keep.
  pgha_read_vip_conf && [[ -n "$PGHA_VIP_CONF_IP" ]] || return 0
  while sleep "$PGHA_VIP_CHECK_SECONDS"; do
    verdict=$(pgha_pgpool_vip_verdict)
    if [[ "$verdict" == ok || "$verdict" != "$last" ]]; then
      last=$verdict
      continue
    fi
    last=ok
    case "$verdict" in
      up)
        pgha_log vip "this node leads the watchdog with the quorum and has escalated, but $PGHA_VIP_CONF_IP is on no interface here: putting it back"
        if ! { "$PGHA_VIP_BIN" up >/dev/null && "$PGHA_VIP_BIN" announce >/dev/null; }; then
          pgha_log vip "WARNING: could not put $PGHA_VIP_CONF_IP back on $PGHA_VIP_CONF_DEVICE"
        fi
        ;;
      down)
        pgha_log vip "this node is a watchdog standby but holds $PGHA_VIP_CONF_IP: taking it off"
        "$PGHA_VIP_BIN" down >/dev/null || pgha_log vip "WARNING: could not take $PGHA_VIP_CONF_IP off $PGHA_VIP_CONF_DEVICE"
        ;;
    esac
  done
}
