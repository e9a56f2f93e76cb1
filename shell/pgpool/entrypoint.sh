#!/usr/bin/env bash
# source: shell/pgpool/entrypoint.sh of pgha, copied verbatim into every pgpool image's build
# context by `npm run generate`; edit the source, not the copy.
#
# Entry point of a pgpool node, and the image's health check (`entrypoint.sh health`). In three
# parts, sourced from the library's directory: pgpool-config.sh (checks the configuration,
# every problem at once; writes the run-time files, pool_passwd and .pgpoolkey; starts sshd),
# pgpool-supervise.sh (runs pgpool as postgres under its own small supervisor, which stays
# PID 1: docker stop becomes a fast shutdown, and pgpool is started again after it exits) and
# pgpool-reconcile.sh (restarts a pgpool standby whose view of the backends went stale).
# Sourceable: sourced, it defines the functions and runs nothing.
set -euo pipefail
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"
# shellcheck source=pgpool-config.sh
. "$PGHA_LIB_HOME/pgpool-config.sh"
# shellcheck source=pgpool-supervise.sh
. "$PGHA_LIB_HOME/pgpool-supervise.sh"
# shellcheck source=pgpool-reconcile.sh
. "$PGHA_LIB_HOME/pgpool-reconcile.sh"

export PGPOOLKEYFILE=$PGHA_PGPOOLKEY_FILE
export PCPPASSFILE=$PGHA_PCPPASS_FILE

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
    pgha_pgpool_vip_loop &
  fi
  pgha_pgpool_supervise pgha_pgpool_run "$@"
}

if ! pgha_is_sourced; then
  if [[ "${1:-}" == health ]]; then
    pgha_pgpool_health
  elif [[ "${1:-}" == alive ]]; then
    pgha_pgpool_alive
  else
    _pgha_pgpool_main "$@"
  fi
fi
