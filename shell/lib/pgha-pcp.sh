#!/usr/bin/env bash
# source: shell/lib/pgha-pcp.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# pgpool as its pcp interface reports it: the backends and the watchdog, every call bounded.
# pcp answers while pgpool fails over and while no backend is up (SHOW pool_nodes needs a
# backend session, so it is refused exactly when the answer matters). Sourced by pgha-lib.sh,
# never on its own.

# pgha_pcp_nodes HOST SECONDS: "id|host|status|role" of every backend, in id order, as the
# pgpool at HOST reports them, bounded by SECONDS in total; fails when pcp does not answer.
pgha_pcp_nodes() {
  local out
  out=$(PCPPASSFILE=$PGHA_PCPPASS_FILE timeout "$2" pcp_node_info -h "$1" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w 2>/dev/null) || return 1
  # One line per backend, in id order: hostname port status weight status_name backend_status role ...
  # "waiting" is a backend that is up but that no pgpool child has connected to since its last
  # status change (a pgpool that just became leader reports its primary so): it is up. Read as
  # anything else, an old primary returning right after a leader change started as a second
  # primary, and its fence loop never saw pgpool's primary.
  awk '{ status = $5 == "waiting" ? "up" : $5; print NR - 1 "|" $1 "|" status "|" $7 }' <<<"$out"
}

# pgha_pcp_nodes_quick HOST SECONDS COUNT: pgha_pcp_nodes for backends 0 to COUNT-1 from what
# pgpool keeps in memory (pcp_health_check_stats, one call each, each bounded by SECONDS).
# pcp_node_info also pings every backend (its pg_status column, PQpingParams), which takes 2 s
# for a frozen one, libpq's shortest connect_timeout: the thaw guard asks while it holds its own
# node frozen.
pgha_pcp_nodes_quick() {
  local host=$1 seconds=$2 count=$3 id out
  for ((id = 0; id < count; id++)); do
    out=$(PCPPASSFILE=$PGHA_PCPPASS_FILE timeout "$seconds" pcp_health_check_stats -h "$host" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w "$id" 2>/dev/null) || return 1
    # id host port status role ...; "waiting" is up, as in pgha_pcp_nodes.
    awk 'NR == 1 { status = $4 == "waiting" ? "up" : $4; print $1 "|" $2 "|" status "|" $5 }' <<<"$out"
  done
}

# pgha_pcp_run SECONDS HOST COMMAND [ARGS...]: a pcp action (pcp_attach_node,
# pcp_recovery_node, ...) against the pgpool at HOST, bounded by SECONDS in total; prints what
# pcp said (stdout and stderr). Succeeds only when pcp printed its success line: pcp's client
# in 4.7 exits 0 whenever it connected, also after the server answered ERROR
# (src/tools/pcp/pcp_frontend_client.c ends in `return 0` on both paths), so its exit status
# alone reported a failed "1st stage" of an online recovery as done.
pgha_pcp_run() {
  local seconds=$1 host=$2 command=$3 out rc=0
  shift 3
  out=$(PCPPASSFILE=$PGHA_PCPPASS_FILE timeout "$seconds" "$command" -h "$host" -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w "$@" 2>&1) || rc=$?
  [[ -z "$out" ]] || printf '%s\n' "$out"
  ((rc == 124)) && printf '%s\n' "no answer within $seconds s"
  ((rc == 0)) && pgha_pcp_succeeded "$command" "$out"
}

# pgha_pcp_succeeded COMMAND OUTPUT: whether OUTPUT holds COMMAND's success line.
pgha_pcp_succeeded() { grep -qxF "$1 -- Command Successful" <<<"$2"; }

# --- The watchdog, as this node's pcp sees it (pgpool image).

# pgha_watchdog_info SECONDS: pcp_watchdog_info -v of this node, bounded by SECONDS in total;
# empty when it does not answer (pgpool starting, stopped or stuck), never an error.
pgha_watchdog_info() {
  PCPPASSFILE=$PGHA_PCPPASS_FILE timeout "$1" pcp_watchdog_info -h localhost -p "$PGHA_PCP_PORT" -U "$PGHA_PCP_USER" -w -v 2>/dev/null || true
}

# pgha_watchdog_status INFO NODE: the status name (LEADER, STANDBY, LOST, ...) INFO gives NODE.
pgha_watchdog_status() {
  awk -v node="$2" -F' *: *' '/^Host Name/ { host = $2 } /^Status Name/ && host == node { print $2; exit }' <<<"$1"
}

# pgha_watchdog_leader INFO: the host name of the watchdog leader INFO names; empty without one.
pgha_watchdog_leader() {
  awk -F' *: *' '/^Leader Host Name/ { print $2; exit }' <<<"$1"
}
