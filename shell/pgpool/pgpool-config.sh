#!/usr/bin/env bash
# source: shell/pgpool/pgpool-config.sh of pgha, copied verbatim into every pgpool image's build
# context by `npm run generate`; edit the source, not the copy.
#
# The pgpool node's configuration, before pgpool runs: the environment and the files checked
# (every problem at once), the run-time configuration built under the run directory (image
# defaults + the cluster's file + secrets), pool_passwd and .pgpoolkey written together with
# pg_enc, the delegate IP's settings for pgha-vip, and sshd when keys are mounted. Sourced by
# entrypoint.sh (after pgha-lib.sh), never on its own.

# pgha_pgpool_backends_from_env: PGHA_BACKENDS="host[:port],..." as backend settings, for a
# single pgpool without a cluster file.
pgha_pgpool_backends_from_env() {
  local i=0 entry host port entries
  [[ -n "$PGHA_BACKENDS" ]] || return 0
  IFS=, read -ra entries <<<"$PGHA_BACKENDS"
  for entry in "${entries[@]}"; do
    host=${entry%%:*}
    port=$PGHA_BACKEND_PORT
    [[ "$entry" == *:* ]] && port=${entry#*:}
    printf "backend_hostname%d = '%s'\nbackend_port%d = %s\nbackend_weight%d = 1\nbackend_data_directory%d = '%s'\nbackend_flag%d = 'ALLOW_TO_FAILOVER'\nbackend_application_name%d = '%s'\n" \
      "$i" "$host" "$i" "$port" "$i" "$i" "$PGHA_BACKEND_PGDATA" "$i" "$i" "$host"
    i=$((i + 1))
  done
}

# pgha_pgpool_merged_conf: image defaults, then the cluster's file, then PGHA_BACKENDS; a
# later key replaces an earlier one.
pgha_pgpool_merged_conf() {
  local files=("$PGHA_IMAGE_CONF")
  [[ -r "$PGHA_CLUSTER_CONF" ]] && files+=("$PGHA_CLUSTER_CONF")
  awk '
    /^[[:space:]]*(#|$)/ { next }
    {
      line = $0
      key = line; sub(/[[:space:]]*=.*/, "", key); sub(/^[[:space:]]+/, "", key)
      if (!(key in seen)) order[++n] = key
      seen[key] = line
    }
    END { for (i = 1; i <= n; i++) print seen[order[i]] }
  ' "${files[@]}" <(pgha_pgpool_backends_from_env)
}

# pgha_pgpool_conf_value KEY: the value of KEY in the merged configuration, unquoted.
pgha_pgpool_conf_value() {
  local v
  v=$(printf '%s\n' "$PGHA_MERGED_CONF" | awk -v k="$1" -F= '{ key = $1; gsub(/[[:space:]]/, "", key) } key == k { sub(/^[^=]*=[[:space:]]*/, ""); v = $0 } END { print v }')
  v=${v#\'}
  printf '%s' "${v%\'}"
}

# pgha_pgpool_check_keys: pgpool ignores a key it does not know with an INFO line; here it is
# a configuration error.
pgha_pgpool_check_keys() {
  local key base
  while read -r key; do
    grep -qxF "plain $key" "$PGHA_PGPOOL_PARAMS" && continue
    base=${key%%[0-9]*}
    [[ "$base" != "$key" && "${key#"$base"}" =~ ^[0-9]+$ ]] && grep -qxF "indexed $base" "$PGHA_PGPOOL_PARAMS" && continue
    pgha_problem "$PGHA_CLUSTER_CONF" "pgpool $PGHA_PGPOOL_VERSION has no parameter '$key'"
  done < <(printf '%s\n' "$PGHA_MERGED_CONF" | sed -E 's/^[[:space:]]*([A-Za-z0-9_]+)[[:space:]]*=.*/\1/')
}

# pgha_pgpool_check_config: every problem of the environment and the files, one line each,
# then exit 2 (pgha_report_problems); returns when there is none.
pgha_pgpool_check_config() {
  [[ -r "$PGHA_IMAGE_CONF" ]] || pgha_problem "$PGHA_IMAGE_CONF" "missing from the image"
  pgha_check_superuser
  pgha_check_tls
  if [[ "$PGHA_CLUSTER_CONF" != "$PGHA_DEFAULT_CLUSTER_CONF" && ! -r "$PGHA_CLUSTER_CONF" ]]; then
    pgha_problem PGHA_CLUSTER_CONF "expected a readable file, got $PGHA_CLUSTER_CONF"
  fi
  PGHA_MERGED_CONF=$(pgha_pgpool_merged_conf)
  pgha_pgpool_check_keys
  pgha_check_secret POSTGRES_PASSWORD required
  pgha_check_secret PGPOOL_PASSWORD required
  pgha_check_secret PCP_PASSWORD required
  pgha_check_secret PGPOOL_KEY optional
  [[ "$PGHA_DURABILITY" =~ ^(available|strict)$ ]] || pgha_problem PGHA_DURABILITY "expected available or strict, got '$PGHA_DURABILITY'"
  # failover.sh waits for a cut-off primary's lease (the same value as on the postgres nodes).
  pgha_check_seconds_or_off PGHA_ISOLATION_FENCE_SECONDS "$PGHA_ISOLATION_FENCE_SECONDS" 'the isolation guard and the lease'
  if [[ "$(pgha_pgpool_conf_value use_watchdog)" == on ]]; then
    pgha_check_secret WD_AUTHKEY required
    # It is written into pgpool.conf as a quoted string, which has no way to hold a quote or a
    # backslash as itself (pgpool's lexer keeps the escape character): refused, not mangled.
    if [[ "$(pgha_read_secret WD_AUTHKEY 2>/dev/null || true)" == *[\\\']* ]]; then
      pgha_problem WD_AUTHKEY "expected a key without ' or \\ (pgpool.conf cannot hold them as themselves)"
    fi
    [[ "$PGPOOL_NODE_ID" =~ ^[0-9]+$ ]] || pgha_problem PGPOOL_NODE_ID "expected this node's watchdog id (0, 1, ...) when use_watchdog = on, got '$PGPOOL_NODE_ID'"
    [[ -z "$PGHA_WD_PRIORITY" ]] || pgha_check_count PGHA_WD_PRIORITY "$PGHA_WD_PRIORITY"
    pgha_check_count PGHA_VIP_CHECK_SECONDS "$PGHA_VIP_CHECK_SECONDS"
    local vip
    vip=$(pgha_pgpool_conf_value delegate_ip)
    # No delegate IP is a watchdog without one (several hosts: clients use a multi-host string,
    # postgres nodes ask the peers who leads); pgpool then brings no address up.
    [[ -z "$vip" ]] || pgha_is_ipv4 "$vip" || pgha_problem delegate_ip "expected the delegate IP (IPv4) in $PGHA_CLUSTER_CONF, or '' for none, got '$vip'"
    [[ -z "$PGHA_DELEGATE_IP" || "$PGHA_DELEGATE_IP" == "$vip" ]] || pgha_problem PGHA_DELEGATE_IP "expected the delegate_ip of $PGHA_CLUSTER_CONF (${vip:-none}), got '$PGHA_DELEGATE_IP'"
    if [[ -n "$vip" ]]; then
      [[ "$PGHA_VIP_PREFIX" =~ ^([0-9]|[12][0-9]|3[0-2])$ ]] || pgha_problem PGHA_VIP_PREFIX "expected a prefix length 0-32, got '$PGHA_VIP_PREFIX'"
      [[ "$PGHA_VIP_DEVICE" =~ ^[A-Za-z0-9_.-]{1,13}$ ]] || pgha_problem PGHA_VIP_DEVICE "expected an interface name, got '$PGHA_VIP_DEVICE'"
    fi
  fi
  pgha_pgpool_find_bind_address
  local entry entries
  IFS=, read -ra entries <<<"$PGHA_BACKENDS"
  for entry in "${entries[@]}"; do
    if ! pgha_is_host "${entry%:*}" || { [[ "$entry" == *:* ]] && ! pgha_is_port "${entry##*:}"; }; then
      pgha_problem PGHA_BACKENDS "expected host[:port],... got '$entry'"
    fi
  done
  [[ -n "$(pgha_pgpool_conf_value backend_hostname0)" ]] || pgha_problem backend_hostname0 "expected at least one backend in $PGHA_CLUSTER_CONF or PGHA_BACKENDS"
  pgha_report_problems pgha-pgpool
}

# pgha_pgpool_find_bind_address: PGHA_PGPOOL_BIND_ADDRESS, this node's address on the cluster
# network (PGHA_CLUSTER_SUBNET), when pcp, the watchdog and sshd must answer there only: a node
# on several networks (a swarm's clients network, where applications reach pgpool's port and
# nothing else) without a delegate IP. With a delegate IP they listen on every address, the
# delegate IP's included (it comes and goes; nothing can bind it before it is up). A problem
# when the subnet is not a CIDR or this node has no address in it.
PGHA_PGPOOL_BIND_ADDRESS=
pgha_pgpool_find_bind_address() {
  PGHA_PGPOOL_BIND_ADDRESS=
  [[ "$PGHA_CLUSTER_SUBNET" == samenet ]] && return 0
  if ! pgha_is_ipv4_cidr "$PGHA_CLUSTER_SUBNET"; then
    pgha_problem PGHA_CLUSTER_SUBNET "expected the cluster network as a CIDR (or samenet), got '$PGHA_CLUSTER_SUBNET'"
    return 0
  fi
  [[ -z "$(pgha_pgpool_conf_value delegate_ip)" ]] || return 0
  PGHA_PGPOOL_BIND_ADDRESS=$(pgha_local_address_in "$PGHA_CLUSTER_SUBNET") ||
    pgha_problem PGHA_CLUSTER_SUBNET "expected an address of this node in $PGHA_CLUSTER_SUBNET (the cluster network), found none"
}

# pgha_pgpool_write_runtime_conf: pgpool.conf, pool_hba.conf and the node id under the run directory.
pgha_pgpool_write_runtime_conf() {
  local dir=$PGHA_PGPOOL_CONF_DIR
  # A restarted container keeps /run: the old pid file and sockets would stop pgpool
  # ("pid file found"). Nothing else runs yet, so they are stale.
  # The postgres account owns these: made anew, so nothing it left there (a symlink planted
  # at a path root writes below) survives into this start.
  install -d -m 0755 -o root -g root "$PGHA_RUN_DIR"
  pgha_fresh_dir "$PGHA_PGPOOL_SOCKET_DIR" 0755 postgres
  pgha_fresh_dir "$dir" 0700 postgres
  pgha_fresh_dir "$PGHA_PRIVATE_DIR" 0700 postgres
  install -d -m 0755 -o postgres -g postgres "$PGHA_PGPOOL_WORK_DIR"
  pgha_install_tls postgres
  {
    echo "# Built by the pgha entrypoint from $PGHA_IMAGE_CONF and $PGHA_CLUSTER_CONF; do not edit."
    printf '%s\n' "$PGHA_MERGED_CONF"
    # TLS for clients and to the backends (verified against the CA when one is given).
    if pgha_tls_on; then
      printf "ssl = on\nssl_cert = '%s'\nssl_key = '%s'\n" "$PGHA_TLS_DIR/server.crt" "$PGHA_TLS_DIR/server.key"
      [[ ! -e "$PGHA_TLS_DIR/ca.crt" ]] || printf "ssl_ca_cert = '%s'\n" "$PGHA_TLS_DIR/ca.crt"
    fi
    if [[ "$(pgha_pgpool_conf_value use_watchdog)" == on ]]; then
      printf "wd_authkey = '%s'\n" "$(pgha_read_secret WD_AUTHKEY)"
      [[ -z "$PGHA_WD_PRIORITY" ]] || printf 'wd_priority = %s\n' "$PGHA_WD_PRIORITY"
    fi
    # Last, so they win over the files: pcp and the watchdog on the cluster network only.
    if [[ -n "$PGHA_PGPOOL_BIND_ADDRESS" ]]; then
      printf "pcp_listen_addresses = 'localhost,%s'\n" "$PGHA_PGPOOL_BIND_ADDRESS"
      printf "wd_listen_address = '%s'\nwd_heartbeat_listen_addresses = '%s'\n" "$PGHA_PGPOOL_BIND_ADDRESS" "$PGHA_PGPOOL_BIND_ADDRESS"
    fi
  } >"$dir/pgpool.conf"
  cp "$PGHA_IMAGE_POOL_HBA" "$dir/pool_hba.conf"
  [[ -n "$PGPOOL_NODE_ID" ]] && echo "$PGPOOL_NODE_ID" >"$dir/pgpool_node_id"
  chown -R postgres:postgres "$dir"
  chmod 0600 "$dir/pgpool.conf"
}

# pgha_pgpool_write_credentials: pool_passwd and .pgpoolkey are made together, from this
# start's secrets: a key from PGPOOL_KEY, or a fresh random one, and every password encrypted
# with it by pg_enc. Passwords reach pg_enc through a 0600 file that is removed at once, never
# through argv. pcp.conf holds user:md5(password); the pcp pass file lets the scripts
# authenticate without a prompt.
pgha_pgpool_write_credentials() {
  local dir=$PGHA_PGPOOL_CONF_DIR key input=$PGHA_PRIVATE_DIR/pg_enc-input pw
  key=$(pgha_read_secret PGPOOL_KEY || openssl rand -base64 32)
  (umask 077 && printf '%s\n' "$key" >"$PGHA_PGPOOLKEY_FILE")
  : >"$dir/pool_passwd"
  (umask 077 && {
    printf '%s:%s\n' "$PGHA_SUPERUSER" "$(pgha_read_secret POSTGRES_PASSWORD)"
    [[ "$POSTGRES_USER" == "$PGHA_SUPERUSER" ]] || printf '%s:%s\n' "$POSTGRES_USER" "$(pgha_read_secret POSTGRES_PASSWORD)"
    printf '%s:%s\n' "$PGHA_PGPOOL_USER" "$(pgha_read_secret PGPOOL_PASSWORD)"
  } >"$input")
  chown postgres:postgres "$PGHA_PGPOOLKEY_FILE" "$dir/pool_passwd" "$input"
  chmod 0600 "$PGHA_PGPOOLKEY_FILE" "$dir/pool_passwd"
  if ! pgha_pgpool_as_postgres pg_enc -m -k "$PGHA_PGPOOLKEY_FILE" -f "$dir/pgpool.conf" -i "$input" >"$PGHA_PRIVATE_DIR/pg_enc.log" 2>&1; then
    rm -f "$input"
    cat "$PGHA_PRIVATE_DIR/pg_enc.log" >&2
    pgha_die credentials "pg_enc could not write pool_passwd"
  fi
  rm -f "$input" "$PGHA_PRIVATE_DIR/pg_enc.log"
  pw=$(pgha_read_secret PCP_PASSWORD)
  printf '%s:%s\n' "$PGHA_PCP_USER" "$(printf '%s' "$pw" | md5sum | cut -d' ' -f1)" >"$dir/pcp.conf"
  pgha_write_passfile "$PGHA_PCPPASS_FILE" "*:*:$PGHA_PCP_USER" PCP_PASSWORD
  chown postgres:postgres "$dir/pcp.conf" "$PGHA_PCPPASS_FILE"
  chmod 0600 "$dir/pcp.conf"
  local users=$PGHA_SUPERUSER
  [[ "$POSTGRES_USER" == "$PGHA_SUPERUSER" ]] || users+=", $POSTGRES_USER"
  pgha_log credentials "pool_passwd ($users, $PGHA_PGPOOL_USER) and .pgpoolkey written together; pcp.conf written"
}

# pgha_pgpool_write_vip_conf: the delegate IP, its prefix and device, for the root-owned
# pgha-vip that sudo lets pgpool's scripts run; root-owned, in the root-owned run directory.
pgha_pgpool_write_vip_conf() {
  rm -f "$PGHA_VIP_CONF"
  [[ "$(pgha_pgpool_conf_value use_watchdog)" == on ]] || return 0
  (umask 022 && printf 'delegate_ip=%s\nprefix=%s\ndevice=%s\n' \
    "$(pgha_pgpool_conf_value delegate_ip)" "$PGHA_VIP_PREFIX" "$PGHA_VIP_DEVICE" >"$PGHA_VIP_CONF")
}

pgha_pgpool_as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

# pgha_pgpool_start_sshd: sshd for escalation.sh on the other pgpool nodes, when keys are mounted.
pgha_pgpool_start_sshd() {
  install -d -m 0755 /run/sshd
  pgha_install_ssh_material postgres
  if ((PGHA_SSH_MATERIAL_MISSING)); then
    pgha_log ssh "no SSH material in $PGHA_SSH_DIR: sshd not started (escalation cannot clear the VIP from this node)"
    return 0
  fi
  # In the foreground, backgrounded: its log goes to the container's stderr. (-E /proc/1/fd/2
  # breaks when PID 1 runs as another user: sshd's per-connection re-exec can no longer open it.)
  local -a listen=()
  [[ -z "$PGHA_PGPOOL_BIND_ADDRESS" ]] || listen=(-o "ListenAddress=$PGHA_PGPOOL_BIND_ADDRESS")
  /usr/sbin/sshd -D -e -f "$PGHA_SSHD_CONFIG" "${listen[@]}" &
  pgha_log ssh "sshd listening on ${PGHA_PGPOOL_BIND_ADDRESS:-every address}, port $PGHA_SSH_PORT"
}
