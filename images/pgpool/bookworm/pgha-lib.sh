#!/usr/bin/env bash
# source: shell/lib/pgha-lib.sh of pgha, copied verbatim into every image's build context by
# `npm run generate`; edit the source, not the copy.
#
# The functions every pgha script shares, in both images, and the one file they source. Here:
# logging that names the node and the action, collected configuration problems, the checks of
# single values. The rest, one file per concern, sits next to this one and is sourced below:
# pgha-secrets.sh (secrets, pass files), pgha-tls.sh, pgha-ssh.sh, pgha-net.sh (probes, the
# delegate IP), pgha-pcp.sh (pgpool as pcp reports it) and pgha-decide.sh (the decisions, pure).
# Sourced, never run. Every variable and its default is declared in pgha-env.sh, generated
# next to this file.

# The directory this file was sourced from (PGHA_LIB_DIR in an image, a build context in bats).
PGHA_LIB_HOME=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=pgha-env.sh
. "$PGHA_LIB_HOME/pgha-env.sh"
# shellcheck source=pgha-secrets.sh
. "$PGHA_LIB_HOME/pgha-secrets.sh"
# shellcheck source=pgha-tls.sh
. "$PGHA_LIB_HOME/pgha-tls.sh"
# shellcheck source=pgha-ssh.sh
. "$PGHA_LIB_HOME/pgha-ssh.sh"
# shellcheck source=pgha-net.sh
. "$PGHA_LIB_HOME/pgha-net.sh"
# shellcheck source=pgha-pcp.sh
. "$PGHA_LIB_HOME/pgha-pcp.sh"
# shellcheck source=pgha-decide.sh
. "$PGHA_LIB_HOME/pgha-decide.sh"

PGHA_SCRIPT="${PGHA_SCRIPT:-$(basename "$0")}"

# pgha_log ACTION MESSAGE...: one line on stderr, which supervisor and docker keep.
pgha_log() {
  local action=$1
  shift
  printf '%s pgha[%s] node=%s action=%s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PGHA_SCRIPT" "$PGHA_NODE" "$action" "$*" >&2
}

# pgha_die ACTION MESSAGE...: log as an error and exit non-zero.
pgha_die() {
  local action=$1
  shift
  pgha_log "$action" "ERROR: $*"
  exit 1
}

# pgha_read_uptime: PGHA_UPTIME_MS, milliseconds since the host booted (/proc/uptime: a
# freeze does not stop it, a wall-clock step does not move it). Sets a variable instead of
# printing it: no fork. A function, so a test can set the clock.
PGHA_UPTIME_MS=0
pgha_read_uptime() {
  local up
  read -r up _ </proc/uptime
  # shellcheck disable=SC2034 # read by the caller
  PGHA_UPTIME_MS=$((10#${up/./}0))
}

# pgha_is_sourced: the script that calls this, at its top level, was sourced (by bats, or for
# its functions) rather than run: it then defines its functions and runs nothing.
pgha_is_sourced() { [[ "${FUNCNAME[1]:-}" == source ]]; }

# pgha_process_running NAME [PROC]: a process whose command name is NAME runs, read from /proc
# (or PROC) so no ps or pgrep is needed: busybox and procps differ, and neither is required.
pgha_process_running() {
  local name=$1 proc=${2:-/proc} comm f
  for f in "$proc"/[0-9]*/comm; do
    [[ -r "$f" ]] || continue
    comm=$(<"$f") 2>/dev/null || continue
    [[ "$comm" == "$name" ]] && return 0
  done
  return 1
}

# pgha_run_errexit COMMAND [ARG...]: COMMAND in a subshell with errexit on, so its first
# failing step ends it (a function's too: a failing init script followed by a passing one is
# a failure); its exit status in PGHA_RUN_STATUS, never a failure of this call. Call it as a
# plain command, never under if, ! or ||: there bash ignores errexit, the subshell's own too.
pgha_run_errexit() {
  local caller_flags=$-
  set +e
  (
    set -e
    "$@"
  )
  # shellcheck disable=SC2034 # read by the caller
  PGHA_RUN_STATUS=$?
  [[ "$caller_flags" != *e* ]] || set -e
}

# --- Configuration problems: collected, then reported together, one line each.

PGHA_PROBLEMS=()

# pgha_problem WHERE MESSAGE: remember one problem, naming the variable or file.
pgha_problem() { PGHA_PROBLEMS+=("$1: $2"); }

# pgha_report_problems PREFIX: print every collected problem and exit 2, if there is any.
pgha_report_problems() {
  local prefix=$1 p
  ((${#PGHA_PROBLEMS[@]})) || return 0
  for p in "${PGHA_PROBLEMS[@]}"; do printf '%s: configuration error: %s\n' "$prefix" "$p" >&2; done
  exit 2
}

# --- Checks of single values (a port, an address, a role name, ...).

# pgha_is_port VALUE: a TCP port number, 1-65535, written without leading zeros.
pgha_is_port() { [[ "$1" =~ ^[1-9][0-9]{0,4}$ ]] && (($1 <= 65535)); }

# pgha_check_port NAME VALUE: a TCP port number, else a problem.
pgha_check_port() {
  pgha_is_port "$2" || pgha_problem "$1" "expected a port number, got '$2'"
}

# pgha_is_ipv4 VALUE: a dotted IPv4 address, each octet 0-255 without leading zeros (which
# other readers take as octal).
pgha_is_ipv4() {
  local octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
  [[ "$1" =~ ^$octet\.$octet\.$octet\.$octet$ ]]
}

# pgha_check_superuser: POSTGRES_USER as every reader takes it verbatim (pool_passwd's
# user:password line, pg_ident.conf, psql identifiers) and not a role pgha makes for itself.
pgha_check_superuser() {
  if ! pgha_is_role "$POSTGRES_USER"; then
    pgha_problem POSTGRES_USER "expected a role name of at most 63 lower-case letters, digits and '_', not starting with a digit, got '$POSTGRES_USER'"
  elif [[ "$POSTGRES_USER" == "$PGHA_PGPOOL_USER" || "$POSTGRES_USER" == "$PGHA_REPLICATION_USER" ]]; then
    pgha_problem POSTGRES_USER "expected a role of your own, got '$POSTGRES_USER', which pgha makes for pgpool's checks or replication"
  elif [[ "$POSTGRES_USER" =~ ^(pg_.*|public|none)$ ]]; then
    # CREATE ROLE refuses these; found only after initdb, they would fail the first start.
    pgha_problem POSTGRES_USER "expected a role name PostgreSQL allows ('pg_' names, public and none are reserved), got '$POSTGRES_USER'"
  fi
}

# pgha_is_role VALUE: a role name every reader takes verbatim: at most 63 lower-case letters,
# digits and '_', not starting with a digit.
pgha_is_role() { [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; }

# pgha_check_count NAME VALUE: a whole number of at least 1 (an interval, a count, a size).
pgha_check_count() {
  [[ "$2" =~ ^[1-9][0-9]{0,8}$ ]] || pgha_problem "$1" "expected a whole number from 1 to 999999999, got '$2'"
}

# pgha_check_seconds_or_off NAME VALUE WHAT: a whole number of seconds, 0 turning WHAT off.
pgha_check_seconds_or_off() {
  [[ "$2" =~ ^(0|[1-9][0-9]{0,5})$ ]] || pgha_problem "$1" "expected a whole number of seconds (0 turns $3 off), got '$2'"
}

# pgha_is_host VALUE: a host name (or address) as the scripts pass it on: letters, digits,
# '.' and '-', starting with a letter or digit (never an option to the program it goes to).
pgha_is_host() { [[ "$1" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$ ]]; }

# pgha_is_ipv4_cidr VALUE: ADDRESS/PREFIX with a prefix of 0-32.
pgha_is_ipv4_cidr() {
  pgha_is_ipv4 "${1%/*}" && [[ "$1" == */* && "${1##*/}" =~ ^([0-9]|[12][0-9]|3[0-2])$ ]]
}

# pgha_check_ipv4 NAME VALUE: a dotted IPv4 address, else a problem.
pgha_check_ipv4() {
  pgha_is_ipv4 "$2" || pgha_problem "$1" "expected an IPv4 address, got '$2'"
}

# pgha_fresh_dir DIR MODE OWNER: DIR made anew, empty. Root writes files here at start; a
# symlink or file another account planted there at an earlier run is gone, never followed.
pgha_fresh_dir() {
  rm -rf "$1"
  install -d -m "$2" -o "$3" -g "$3" "$1"
}

# pgha_lsn_value LSN: a WAL position (X/Y, hexadecimal) as one integer, for comparing; fails
# on anything else.
pgha_lsn_value() {
  [[ "$1" =~ ^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$ ]] || return 1
  echo $(((16#${BASH_REMATCH[1]} << 32) + 16#${BASH_REMATCH[2]}))
}

# pgha_slot_name NODE: the replication slot of NODE (slot names allow a-z, 0-9 and _ only).
pgha_slot_name() {
  local s=${1,,}
  printf '%s' "${s//[^a-z0-9_]/_}"
}
