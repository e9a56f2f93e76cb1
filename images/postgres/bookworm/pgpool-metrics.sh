#!/usr/bin/env bash
# source: shell/postgres/pgpool-metrics.sh of pgha, copied verbatim into the postgres image's
# build context by `npm run generate`; edit the source, not the copy.
#
# The metrics endpoint of one pgpool node, run as a compose service of its own
# (`<pgpool node>-metrics`) from the postgres image, so every pgpool variant has one: the
# exporter is Debian's prometheus-postgres-exporter, which an Alpine image cannot install.
# It asks PGHA_METRICS_PGPOOL's pgpool over the cluster network, as the pgpool role, only what
# PGHA_EXPORTER_QUERIES names (SHOW pool_nodes, SHOW pool_health_check_stats), and holds one
# of that pgpool's client connections. Root only reads the password; the exporter runs as
# postgres. The service's restart policy starts it again when it exits.
#   pgha-pgpool-metrics          check the environment, then run the exporter
#   pgha-pgpool-metrics health   the exporter answers on PGHA_METRICS_PORT (HEALTHCHECK)
# Sourceable: bats tests the functions.
set -euo pipefail
# A failure inside $(...) ends the script too, as everywhere else.
shopt -s inherit_errexit
# shellcheck source=pgha-lib.sh
. "${PGHA_LIB:-/usr/local/lib/pgha/pgha-lib.sh}"

# pgha_metrics_check_config: every problem of the environment, one line each, then exit 2.
# The CA copy's path goes into the exporter's connection URI unescaped: a plain absolute path
# only.
pgha_metrics_check_config() {
  PGHA_PROBLEMS=()
  local target=${PGHA_METRICS_PGPOOL:-}
  pgha_is_host "$target" || pgha_problem PGHA_METRICS_PGPOOL "expected the host name of the pgpool node to ask, got '$target'"
  pgha_check_port PGHA_PGPOOL_PORT "$PGHA_PGPOOL_PORT"
  pgha_check_port PGHA_METRICS_PORT "$PGHA_METRICS_PORT"
  [[ "$PGHA_CONNECT_TIMEOUT" =~ ^[1-9][0-9]{0,2}$ ]] || pgha_problem PGHA_CONNECT_TIMEOUT "expected whole seconds from 1 to 999, got '$PGHA_CONNECT_TIMEOUT'"
  pgha_is_role "$PGHA_PGPOOL_USER" || pgha_problem PGHA_PGPOOL_USER "expected a role name, got '$PGHA_PGPOOL_USER'"
  pgha_check_secret PGPOOL_PASSWORD required "a password"
  if [[ -n "$PGHA_TLS_CA_FILE" ]]; then
    [[ -r "$PGHA_TLS_CA_FILE" ]] || pgha_problem PGHA_TLS_CA_FILE "expected a readable file, got $PGHA_TLS_CA_FILE"
    [[ "$PGHA_METRICS_CA_FILE" =~ ^/[A-Za-z0-9._/-]+$ ]] ||
      pgha_problem PGHA_METRICS_CA_FILE "expected an absolute path of letters, digits and ._/-, got '$PGHA_METRICS_CA_FILE'"
  fi
  [[ -r "$PGHA_EXPORTER_QUERIES" ]] || pgha_problem PGHA_EXPORTER_QUERIES "expected a readable file, got $PGHA_EXPORTER_QUERIES"
  pgha_report_problems pgha-pgpool-metrics
}

# pgha_metrics_source_uri: the exporter's DATA_SOURCE_URI. With the cluster's CA the pgpool
# node's certificate is checked, its name included (the dev certificate names every node);
# without one the connection is plain, as pgpool's pool_hba.conf allows. A connect to a pgpool
# node that does not answer (killed, cut off) gives up after PGHA_CONNECT_TIMEOUT seconds.
pgha_metrics_source_uri() {
  local uri="$PGHA_METRICS_PGPOOL:$PGHA_PGPOOL_PORT/postgres?connect_timeout=$PGHA_CONNECT_TIMEOUT&sslmode="
  if [[ -n "$PGHA_TLS_CA_FILE" ]]; then
    printf '%sverify-full&sslrootcert=%s\n' "$uri" "$PGHA_METRICS_CA_FILE"
  else
    printf '%sdisable\n' "$uri"
  fi
}

# pgha_metrics_install_credentials: the password, and the CA when there is one, into the
# postgres account's private directory, made anew by root (a link planted there earlier is
# gone, never followed).
pgha_metrics_install_credentials() {
  pgha_fresh_dir "$PGHA_PRIVATE_DIR" 0700 postgres
  (umask 077 && pgha_read_secret PGPOOL_PASSWORD >"$PGHA_METRICS_PASS_FILE")
  chown postgres:postgres "$PGHA_METRICS_PASS_FILE"
  if [[ -n "$PGHA_TLS_CA_FILE" ]]; then
    install -m 0644 -o postgres -g postgres "$PGHA_TLS_CA_FILE" "$PGHA_METRICS_CA_FILE"
  fi
}

# pgha_metrics_run: the exporter in the foreground as postgres, its default and settings
# metrics and its collectors off (they would report whichever backend pgpool sent their
# queries to): only the queries file's series.
pgha_metrics_run() {
  pgha_metrics_install_credentials
  pgha_log metrics "metrics of pgpool on $PGHA_METRICS_PGPOOL:$PGHA_PGPOOL_PORT at :$PGHA_METRICS_PORT/metrics"
  DATA_SOURCE_URI=$(pgha_metrics_source_uri)
  export DATA_SOURCE_URI DATA_SOURCE_USER=$PGHA_PGPOOL_USER DATA_SOURCE_PASS_FILE=$PGHA_METRICS_PASS_FILE
  unset PGPOOL_PASSWORD PGPOOL_PASSWORD_FILE
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- prometheus-postgres-exporter \
    --disable-default-metrics --disable-settings-metrics --no-collector.database --no-collector.bgwriter \
    --extend.query-path="$PGHA_EXPORTER_QUERIES" \
    --web.listen-address=":$PGHA_METRICS_PORT" --log.level=warn
}

# pgha_metrics_health: the exporter accepts a connection on its port within 3 s (the image
# has no HTTP client).
pgha_metrics_health() { pgha_wait_port 127.0.0.1 "$PGHA_METRICS_PORT" 3; }

pgha_metrics_main() {
  case "${1:-run}" in
    run)
      pgha_metrics_check_config
      pgha_metrics_run
      ;;
    health) pgha_metrics_health ;;
    *)
      printf 'usage: pgha-pgpool-metrics [run|health]\n' >&2
      exit 2
      ;;
  esac
}

if ! pgha_is_sourced; then
  pgha_metrics_main "$@"
fi
