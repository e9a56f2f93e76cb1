#!/usr/bin/env bash
# generated from templates/pgpool/entrypoint.sh.hbs by pgha (npm run generate); do not edit
# Entry point of a pgpool node: checks the configuration (all problems at once), builds the
# run-time configuration under /run/pgha/pgpool (image defaults + the cluster's file +
# secrets), generates pool_passwd and .pgpoolkey together with pg_enc, starts sshd when
# keys are mounted, and runs pgpool in the foreground as postgres.
set -euo pipefail
# shellcheck source=pgha-lib.sh
. /usr/local/lib/pgha/pgha-lib.sh

readonly IMAGE_CONF=/etc/pgpool-II/pgpool.conf
readonly CLUSTER_CONF=${PGHA_CLUSTER_CONF:-/etc/pgpool-II/cluster.conf}
readonly PARAMS=/usr/local/share/pgha/pgpool-params.txt
readonly CONF_DIR=/run/pgha/pgpool
readonly PRIVATE=/run/pgha/private
readonly SSH_SRC=${PGHA_SSH_DIR:-/etc/pgha/ssh}
export PGPOOLKEYFILE=$PRIVATE/.pgpoolkey
export PCPPASSFILE=$PRIVATE/pcppass

problems=()
problem() { problems+=("$1: $2"); }

check_secret() {
  local name=$1 file_var="${1}_FILE"
  if [[ -n "${!file_var:-}" ]]; then
    if [[ ! -r "${!file_var}" ]]; then
      problem "$file_var" "expected a readable file, got ${!file_var}"
    elif [[ ! -s "${!file_var}" ]]; then
      problem "$file_var" "expected a non-empty file, ${!file_var} is empty"
    fi
  elif [[ -z "${!name:-}" && "${2:-required}" == required ]]; then
    problem "$name" "expected a value in $name or a file path in $file_var"
  fi
}

# merged_conf: image defaults, then the cluster's file, then PGHA_BACKENDS; a later key
# replaces an earlier one.
merged_conf() {
  local files=("$IMAGE_CONF")
  [[ -r "$CLUSTER_CONF" ]] && files+=("$CLUSTER_CONF")
  awk '
    /^[[:space:]]*(#|$)/ { next }
    {
      line = $0
      key = line; sub(/[[:space:]]*=.*/, "", key); sub(/^[[:space:]]+/, "", key)
      if (!(key in seen)) order[++n] = key
      seen[key] = line
    }
    END { for (i = 1; i <= n; i++) print seen[order[i]] }
  ' "${files[@]}" <(backends_from_env)
}

conf_value() {
  local v
  v=$(printf '%s\n' "$MERGED" | awk -v k="$1" -F= '{ key = $1; gsub(/[[:space:]]/, "", key) } key == k { sub(/^[^=]*=[[:space:]]*/, ""); v = $0 } END { print v }')
  v=${v#\'}
  printf '%s' "${v%\'}"
}

# Keys pgpool does not know are ignored by pgpool with an INFO line; here they are errors.
check_keys() {
  local key base
  while read -r key; do
    grep -qxF "plain $key" "$PARAMS" && continue
    base=${key%%[0-9]*}
    [[ "$base" != "$key" && "${key#"$base"}" =~ ^[0-9]+$ ]] && grep -qxF "indexed $base" "$PARAMS" && continue
    problem "$CLUSTER_CONF" "pgpool 4.7.2 has no parameter '$key'"
  done < <(printf '%s\n' "$MERGED" | sed -E 's/^[[:space:]]*([A-Za-z0-9_]+)[[:space:]]*=.*/\1/')
}

check_config() {
  [[ -r "$IMAGE_CONF" ]] || problem "$IMAGE_CONF" "missing from the image"
  [[ -z "${PGHA_CLUSTER_CONF:-}" || -r "$CLUSTER_CONF" ]] || problem PGHA_CLUSTER_CONF "expected a readable file, got $CLUSTER_CONF"
  MERGED=$(merged_conf)
  check_keys
  check_secret POSTGRES_PASSWORD
  check_secret PGPOOL_PASSWORD
  check_secret PCP_PASSWORD
  check_secret PGPOOL_KEY optional
  if [[ "$(conf_value use_watchdog)" == on ]]; then
    check_secret WD_AUTHKEY
    [[ "${PGPOOL_NODE_ID:-}" =~ ^[0-9]+$ ]] || problem PGPOOL_NODE_ID "expected this node's watchdog id (0, 1, ...) when use_watchdog = on, got '${PGPOOL_NODE_ID:-}'"
  fi
  [[ -n "$(conf_value backend_hostname0)" ]] || problem backend_hostname0 "expected at least one backend in $CLUSTER_CONF or PGHA_BACKENDS"
  if ((${#problems[@]})); then
    local p
    for p in "${problems[@]}"; do printf 'pgha-pgpool: configuration error: %s\n' "$p" >&2; done
    exit 2
  fi
}

# PGHA_BACKENDS="host[:port],..." adds backends for a single pgpool without a cluster file.
backends_from_env() {
  local i=0 entry host port entries
  [[ -n "${PGHA_BACKENDS:-}" ]] || return 0
  IFS=, read -ra entries <<<"$PGHA_BACKENDS"
  for entry in "${entries[@]}"; do
    host=${entry%%:*}
    port=5432
    [[ "$entry" == *:* ]] && port=${entry#*:}
    printf "backend_hostname%d = '%s'\nbackend_port%d = %s\nbackend_weight%d = 1\nbackend_data_directory%d = '/var/lib/postgresql/data'\nbackend_flag%d = 'ALLOW_TO_FAILOVER'\nbackend_application_name%d = '%s'\n" \
      "$i" "$host" "$i" "$port" "$i" "$i" "$i" "$i" "$host"
    i=$((i + 1))
  done
}

write_runtime_conf() {
  # A restarted container keeps /run: the old pid file and sockets would stop pgpool
  # ("pid file found"). Nothing else runs yet, so they are stale.
  rm -rf /run/pgpool
  install -d -m 0700 -o postgres -g postgres "$CONF_DIR" "$PRIVATE"
  install -d -m 0755 -o postgres -g postgres /run/pgpool /var/lib/pgpool
  {
    echo "# Built by the pgha entrypoint from $IMAGE_CONF and $CLUSTER_CONF; do not edit."
    printf '%s\n' "$MERGED"
    if [[ "$(conf_value use_watchdog)" == on ]]; then
      printf "wd_authkey = '%s'\n" "$(read_secret WD_AUTHKEY | sed "s/'/''/g")"
    fi
  } >"$CONF_DIR/pgpool.conf"
  cp /etc/pgpool-II/pool_hba.conf "$CONF_DIR/pool_hba.conf"
  [[ -n "${PGPOOL_NODE_ID:-}" ]] && echo "$PGPOOL_NODE_ID" >"$CONF_DIR/pgpool_node_id"
  chown -R postgres:postgres "$CONF_DIR"
  chmod 0600 "$CONF_DIR/pgpool.conf"
}

# pool_passwd and .pgpoolkey are made together, from this start's secrets: a key from
# PGPOOL_KEY, or a fresh random one, and every password encrypted with it by pg_enc.
# Passwords reach pg_enc through a 0600 file that is removed at once, never through argv.
write_credentials() {
  local key input=$PRIVATE/pg_enc-input pw
  key=$(read_secret PGPOOL_KEY || openssl rand -base64 32)
  (umask 077 && printf '%s\n' "$key" >"$PGPOOLKEYFILE")
  : >"$CONF_DIR/pool_passwd"
  (umask 077 && {
    printf 'postgres:%s\n' "$(read_secret POSTGRES_PASSWORD)"
    printf 'pgpool:%s\n' "$(read_secret PGPOOL_PASSWORD)"
  } >"$input")
  chown postgres:postgres "$PGPOOLKEYFILE" "$CONF_DIR/pool_passwd" "$input"
  chmod 0600 "$PGPOOLKEYFILE" "$CONF_DIR/pool_passwd"
  if ! as_postgres pg_enc -m -k "$PGPOOLKEYFILE" -f "$CONF_DIR/pgpool.conf" -i "$input" >"$PRIVATE/pg_enc.log" 2>&1; then
    rm -f "$input"
    cat "$PRIVATE/pg_enc.log" >&2
    die credentials "pg_enc could not write pool_passwd"
  fi
  rm -f "$input" "$PRIVATE/pg_enc.log"
  # pcp.conf: user:md5(password); PCPPASSFILE lets the scripts authenticate without a prompt.
  pw=$(read_secret PCP_PASSWORD)
  printf 'pgpool:%s\n' "$(printf '%s' "$pw" | md5sum | cut -d' ' -f1)" >"$CONF_DIR/pcp.conf"
  printf '*:*:pgpool:%s\n' "$pw" >"$PCPPASSFILE"
  chown postgres:postgres "$CONF_DIR/pcp.conf" "$PCPPASSFILE"
  chmod 0600 "$CONF_DIR/pcp.conf" "$PCPPASSFILE"
  log credentials "pool_passwd (postgres, pgpool) and .pgpoolkey written together; pcp.conf written"
}

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

start_sshd() {
  if [[ ! -r "$SSH_SRC/ssh_host_ed25519_key" || ! -r "$SSH_SRC/authorized_keys" ]]; then
    log ssh "no SSH material in $SSH_SRC: sshd not started (escalation cannot clear the VIP from this node)"
    return 0
  fi
  install -d -m 0755 /run/pgha/ssh /run/sshd
  install -m 0600 "$SSH_SRC/ssh_host_ed25519_key" /run/pgha/ssh/ssh_host_ed25519_key
  install -m 0600 -o postgres -g postgres "$SSH_SRC/authorized_keys" /run/pgha/ssh/authorized_keys
  local f
  for f in id_ed25519 known_hosts; do
    [[ -r "$SSH_SRC/$f" ]] && install -m 0600 -o postgres -g postgres "$SSH_SRC/$f" "$PRIVATE/$f"
  done
  # In the foreground, backgrounded: its log stays on the container's stderr after pgpool
  # replaces this shell. (-E /proc/1/fd/2 breaks: once PID 1 runs as postgres, sshd's
  # per-connection re-exec can no longer open it and resets every connection.)
  /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config &
  log ssh "sshd listening on 2222"
}

main() {
  check_config
  write_runtime_conf
  write_credentials
  start_sshd
  log start "starting pgpool 4.7.2 (node ${PGPOOL_NODE_ID:-standalone})"
  exec setpriv --reuid=postgres --regid=postgres --init-groups \
    env HOME=/var/lib/pgpool PGPOOLKEYFILE="$PGPOOLKEYFILE" PCPPASSFILE="$PCPPASSFILE" \
    pgpool -n -f "$CONF_DIR/pgpool.conf" -F "$CONF_DIR/pcp.conf" -a "$CONF_DIR/pool_hba.conf" "$@"
}

main "$@"
