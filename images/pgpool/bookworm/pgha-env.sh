#!/usr/bin/env bash
# generated from src/shell/env.ts by pgha (npm run generate); do not edit
# Every variable the pgha scripts read, with its default. Sourced by pgha-lib.sh; the
# container's environment overrides any of them.

# this node's name (compose service name)
: "${PGHA_NODE:=$(hostname)}"
# pgpool version the image was built with
: "${PGHA_PGPOOL_VERSION:=4.7.2}"
# PostgreSQL major version
: "${PGHA_POSTGRES_MAJOR:=15}"
# PostgreSQL server binaries
: "${PGHA_POSTGRES_BIN:=/usr/lib/postgresql/15/bin}"
# pgha scripts and this library
: "${PGHA_LIB_DIR:=/usr/local/lib/pgha}"
# pgha-node, the node-side operations
: "${PGHA_NODE_CMD:=/usr/local/bin/pgha-node}"
# online recovery scripts, copied into the data directory
: "${PGHA_RECOVERY_DIR:=/usr/local/lib/pgha/recovery}"
# sshd configuration
: "${PGHA_SSHD_CONFIG:=/etc/ssh/sshd_config}"
# supervisord configuration (postgres image)
: "${PGHA_SUPERVISOR_CONF:=/etc/supervisor/supervisord.conf}"
# sshd port of every node
: "${PGHA_SSH_PORT:=2222}"
# this postgres node's port
: "${PGPORT:=5432}"
# the primary's port, for a standby's first clone
: "${PGHA_PRIMARY_PORT:=5432}"
# backend port when PGHA_BACKENDS names none
: "${PGHA_BACKEND_PORT:=5432}"
# pgpool's client port
: "${PGHA_PGPOOL_PORT:=9999}"
# pgpool's pcp port
: "${PGHA_PCP_PORT:=9898}"
# role of pgpool's health and replication checks
: "${PGHA_PGPOOL_USER:=pgpool}"
# replication role
: "${PGHA_REPLICATION_USER:=repl}"
# pcp user
: "${PGHA_PCP_USER:=pgpool}"
# the superuser pgha's own scripts use
: "${PGHA_SUPERUSER:=postgres}"
# postgres's home: the data volume
: "${PGHA_HOME:=/var/lib/postgresql}"
# the data directory
: "${PGDATA:=/var/lib/postgresql/pgdata}"
# the backends' data directory, as pgpool.conf names it
: "${PGHA_BACKEND_PGDATA:=/var/lib/postgresql/pgdata}"
# MASTER or BACKUP: what this node was last
: "${PGHA_ROLE_FILE:=${PGHA_HOME}/.node_role}"
# while it exists, supervisor keeps postgres down
: "${PGHA_HOLD_MARKER:=${PGHA_HOME}/.do_not_start}"
# present while a first initialisation runs: found at a start, that one did not finish and the data directory is made again
: "${PGHA_INIT_MARKER:=${PGHA_HOME}/.pgha-initialising}"
# mounted SSH material: host key, client key, authorized_keys, known_hosts
: "${PGHA_SSH_DIR:=/etc/pgha/ssh}"
# run-time files, root-owned
: "${PGHA_RUN_DIR:=/run/pgha}"
# PGHA_DURABILITY as the container was started with (root-owned): SSH sessions do not inherit the container's environment
: "${PGHA_DURABILITY_FILE:=${PGHA_RUN_DIR}/durability}"
# the cluster's postgres nodes, one a line (root-owned): the only hosts a node copies from
: "${PGHA_PEERS_FILE:=${PGHA_RUN_DIR}/postgres-peers}"
# the cluster network (CIDR): replication is accepted from it only (postgres image); a pgpool node without a delegate IP binds pcp, the watchdog and sshd to its address in it; samenet: the node's own subnets, and no binding
: "${PGHA_CLUSTER_SUBNET:=samenet}"
# run-time secrets of the postgres account (0700)
: "${PGHA_PRIVATE_DIR:=/run/pgha/private}"
# sshd's host key
: "${PGHA_SSH_HOST_KEY:=/run/pgha/ssh/ssh_host_ed25519_key}"
# keys allowed to log in as postgres
: "${PGHA_AUTHORIZED_KEYS:=/run/pgha/ssh/authorized_keys}"
# client key for SSH to the other nodes
: "${PGHA_SSH_KEY:=${PGHA_PRIVATE_DIR}/id_ed25519}"
# pinned host keys of the other nodes
: "${PGHA_KNOWN_HOSTS:=${PGHA_PRIVATE_DIR}/known_hosts}"
# the watchdog leader last found by asking the pgpool peers (no delegate IP); asked again when it does not answer
: "${PGHA_PGPOOL_LEADER_FILE:=${PGHA_PRIVATE_DIR}/pgpool-leader}"
# libpq pass file with the replication password
: "${PGHA_PGPASS_FILE:=${PGHA_PRIVATE_DIR}/pgpass}"
# pcp pass file
: "${PGHA_PCPPASS_FILE:=${PGHA_PRIVATE_DIR}/pcppass}"
# AES key of pool_passwd
: "${PGHA_PGPOOLKEY_FILE:=${PGHA_PRIVATE_DIR}/.pgpoolkey}"
# present while this node waits to be rebuilt
: "${PGHA_REJOIN_REQUEST:=${PGHA_PRIVATE_DIR}/rejoin-requested}"
# held (flock) while a follow or a rebuild replaces this node's data: one at a time
: "${PGHA_COPY_LOCK:=${PGHA_PRIVATE_DIR}/copy.lock}"
# held (flock) while this node stops itself to be rebuilt (a fence): the watch loop and the thaw guard never both do it
: "${PGHA_REBUILD_LOCK:=${PGHA_PRIVATE_DIR}/rebuild.lock}"
# held (flock) while a process of this node asks pgpool to rebuild it: one asks at a time
: "${PGHA_REJOIN_LOCK:=${PGHA_PRIVATE_DIR}/rejoin.lock}"
# why a node waiting to be rebuilt is still held: the last failure of its rebuild request (the health check shows it)
: "${PGHA_HELD_WHY_FILE:=${PGHA_PRIVATE_DIR}/held-why}"
# present while this node is held because its data volume ran full (outside the volume, which may have no room for it)
: "${PGHA_DISK_FULL_MARKER:=${PGHA_PRIVATE_DIR}/held-disk-full}"
# the image's pgpool.conf defaults
: "${PGHA_IMAGE_CONF:=/etc/pgpool-II/pgpool.conf}"
# the image's pool_hba.conf
: "${PGHA_IMAGE_POOL_HBA:=/etc/pgpool-II/pool_hba.conf}"
# where a cluster mounts its pgpool settings
: "${PGHA_DEFAULT_CLUSTER_CONF:=/etc/pgpool-II/cluster.conf}"
# the cluster's pgpool settings, merged over the image's
: "${PGHA_CLUSTER_CONF:=${PGHA_DEFAULT_CLUSTER_CONF}}"
# pgpool.conf keys the built pgpool knows
: "${PGHA_PGPOOL_PARAMS:=/usr/local/share/pgha/pgpool-params.txt}"
# the Prometheus metrics endpoint of the node (prometheus-postgres-exporter)
: "${PGHA_METRICS_PORT:=9187}"
# what a pgpool node's metrics service asks that pgpool
: "${PGHA_EXPORTER_QUERIES:=/usr/local/share/pgha/exporter-queries.yaml}"
# the pgpool node a metrics service (pgha-pgpool-metrics, postgres image) asks
: "${PGHA_METRICS_PGPOOL:=}"
# a metrics service's copy of the pgpool password, which the exporter (as postgres) reads: the mounted file is readable by root only
: "${PGHA_METRICS_PASS_FILE:=${PGHA_PRIVATE_DIR}/pgpool-password}"
# a metrics service's copy of PGHA_TLS_CA_FILE, named in the exporter's connection URI (a plain absolute path)
: "${PGHA_METRICS_CA_FILE:=${PGHA_PRIVATE_DIR}/ca.crt}"
# pgpool's run-time configuration
: "${PGHA_PGPOOL_CONF_DIR:=/run/pgha/pgpool}"
# postgres's socket directory
: "${PGHA_POSTGRES_SOCKET_DIR:=/var/run/postgresql}"
# pgpool's sockets and pid file
: "${PGHA_PGPOOL_SOCKET_DIR:=/run/pgpool}"
# pgpool's work_dir and home
: "${PGHA_PGPOOL_WORK_DIR:=/var/lib/pgpool}"
# the root-owned wrapper that adds, removes and announces the delegate IP (sudo)
: "${PGHA_VIP_BIN:=/usr/local/sbin/pgha-vip}"
# the delegate IP, prefix and device pgha-vip acts on (root-owned)
: "${PGHA_VIP_CONF:=/run/pgha/vip.conf}"
# the forced command of every authorized key
: "${PGHA_SSH_COMMAND:=/usr/local/lib/pgha/ssh-command}"
# the TLS files as the server reads them (root-owned; the key owned by the server's account)
: "${PGHA_TLS_DIR:=${PGHA_RUN_DIR}/tls}"
# the server certificate (PEM; a mounted file): with PGHA_TLS_KEY_FILE, ssl = on
: "${PGHA_TLS_CERT_FILE:=}"
# the server certificate's private key (PEM; a mounted file)
: "${PGHA_TLS_KEY_FILE:=}"
# optional: the CA (PEM) that signed the cluster's certificates; pgpool checks the backends against it
: "${PGHA_TLS_CA_FILE:=}"
# this postgres node's backend id
: "${PGHA_NODE_ID:=}"
# this pgpool node's watchdog id
: "${PGPOOL_NODE_ID:=}"
# this pgpool node's wd_priority (distinct per node: an election between equal priorities can stall for 5 s); empty: pgpool's default
: "${PGHA_WD_PRIORITY:=}"
# primary or standby: how an empty node initialises
: "${PGHA_ROLE:=primary}"
# the superuser clients log in as, with POSTGRES_PASSWORD, made at the first initialisation (as the official image); pgha's own scripts keep using the postgres role
: "${POSTGRES_USER:=postgres}"
# database created at the first initialisation, owned by POSTGRES_USER (as the official image: POSTGRES_USER by default)
: "${POSTGRES_DB:=${POSTGRES_USER}}"
# extra initdb arguments, split on blanks (as the official image)
: "${POSTGRES_INITDB_ARGS:=}"
# *.sh, *.sql, *.sql.gz run in name order at the first initialisation
: "${PGHA_INITDB_DIR:=/docker-entrypoint-initdb.d}"
# the primary a standby clones on its first start
: "${PGHA_PRIMARY_HOST:=}"
# on: the primary waits for a standby to confirm each commit
: "${PGHA_SYNCHRONOUS:=off}"
# max_connections of every postgres node (the same on all: a standby needs at least the primary's); a cluster sets it to what all pgpool nodes' pools may hold, so full slots never fail a health check
: "${PGHA_MAX_CONNECTIONS:=100}"
# the delegate (virtual) IP of the pgpool watchdog
: "${PGHA_DELEGATE_IP:=}"
# interface that carries the delegate IP
: "${PGHA_VIP_DEVICE:=eth0}"
# prefix length of the delegate IP
: "${PGHA_VIP_PREFIX:=24}"
# every postgres node, comma-separated, asked when pgpool is silent
: "${PGHA_POSTGRES_PEERS:=}"
# every pgpool node, comma-separated: cleared of the delegate IP on escalation (pgpool); asked who the watchdog leader is when there is no delegate IP (postgres)
: "${PGHA_PGPOOL_PEERS:=}"
# host[:port],... backends of a single pgpool without a cluster file
: "${PGHA_BACKENDS:=}"
# seconds a psql to another node may take to connect
: "${PGHA_CONNECT_TIMEOUT:=3}"
# seconds an SSH connection may take to connect
: "${PGHA_SSH_CONNECT_TIMEOUT:=5}"
# seconds escalation.sh waits to reach a peer pgpool node to clear the delegate IP
: "${PGHA_ESCALATION_SSH_TIMEOUT:=1}"
# bound on the whole of one remote step run in the background (SSH connect, banner and command)
: "${PGHA_REMOTE_STEP_SECONDS:=15}"
# how often a container waiting for the lease on its data volume (another container of the node still holds it) says so
: "${PGHA_LEASE_LOG_SECONDS:=10}"
# bound on asking one pgpool peer who the watchdog leader is (pcp_watchdog_info), when there is no delegate IP
: "${PGHA_PCP_PEER_SECONDS:=3}"
# seconds pg_ctl waits for a stop or a promotion
: "${PGHA_PG_CTL_TIMEOUT:=60}"
# seconds a starting node waits for a primary
: "${PGHA_PRIMARY_WAIT_SECONDS:=60}"
# bound on one pcp_recovery_node: pgpool's recovery_timeout (300 s) and a minute for the copy to start
: "${PGHA_RECOVERY_WAIT_SECONDS:=360}"
# bound on asking one standby its received WAL position during a failover
: "${PGHA_LSN_QUERY_SECONDS:=3}"
# how often a node checks its role against pgpool's view: a primary that pgpool no longer routes to stops, a streaming standby that pgpool has down is attached
: "${PGHA_WATCH_INTERVAL_SECONDS:=2}"
# available: commits go on without a standby, failover promotes the most advanced standby that answers; strict: commits wait for a standby, failover only when every attached standby answered
: "${PGHA_DURABILITY:=available}"
# a primary with less free space than this on its data volume (as postgres sees it) hands over to a standby that has all its WAL
: "${PGHA_DISK_RESERVE_MB:=128}"
# watch checks in a row below the reserve before a primary hands over (a burst of temporary files passes)
: "${PGHA_DISK_TICKS:=3}"
# a first pgpool run that ends sooner is a start failure: the container exits instead of restarting it
: "${PGHA_PGPOOL_SETTLE_SECONDS:=10}"
# how often a pgpool standby compares its backend states with the leader's
: "${PGHA_RECONCILE_INTERVAL_SECONDS:=10}"
# how often a pgpool node compares where the watchdog says the delegate IP is with its interface: a leader that escalated but lost the address gets it back, a standby that holds it lets it go (after two checks in a row)
: "${PGHA_VIP_CHECK_SECONDS:=2}"
# checks in a row that disagree before a pgpool standby restarts to take the leader's states
: "${PGHA_RECONCILE_TICKS:=3}"
# longest wait before pgpool is started again after it exited (1, 2, 4, ... s)
: "${PGHA_PGPOOL_RESTART_MAX_DELAY:=8}"
# quick pcp_recovery_node attempts of a node that asks to be rebuilt; it then goes on asking, more slowly, until it is rebuilt
: "${PGHA_REJOIN_TRIES:=30}"
# seconds between the quick attempts
: "${PGHA_REJOIN_RETRY_SECONDS:=10}"
# seconds between the attempts after the quick ones
: "${PGHA_REJOIN_SLOW_RETRY_SECONDS:=60}"
# the lease of a primary, on every node alike (cluster.yaml: timings.isolationFenceSeconds). The isolation guard of a primary that for this long reaches neither the pgpool nodes' side (the delegate IP, or most pgpool nodes) nor another postgres node (after one answered since its start) stops postgres and rejoins through pgpool once it answers; failover.sh promotes another node only when the old primary stopped on its request (pgha-node step-down) or this long plus 3 s after it asked (killed, cut off or frozen: it has fenced itself by then). 0 turns both off (a cut-off primary then takes writes beside the promoted node until it reaches pgpool again)
: "${PGHA_ISOLATION_FENCE_SECONDS:=3}"
# a primary that stood still this long (frozen: docker pause, a stalled VM) is held (SIGSTOP) from its thaw until pgpool says whether another node took over (at most 3 x PGHA_THAW_ASK_SECONDS while a failover is under way), then fenced or let go on; 0 turns this off. Far below pgpool's failover detection of a frozen node (health_check_timeout times retries), so no freeze a failover can follow goes unchecked
: "${PGHA_THAW_CHECK_SECONDS:=3}"
# bound on each question the thaw guard asks (pgpool's view, then the named primary) while it holds postgres
: "${PGHA_THAW_ASK_SECONDS:=5}"
# a standby whose stream is silent this long drops it and connects again (wal_receiver_timeout, and its TCP user timeout and keepalives; the primary's wal_sender_timeout is three times this): a stream stalled by a cut resumes within it, not after minutes of TCP back-off. A standby configured before this setting existed gets the TCP bounds at its next follow or rebuild
: "${PGHA_REPLICATION_TIMEOUT_SECONDS:=10}"
# how long a failover may still be on its way: seconds a standby stays down in pgpool without streaming from pgpool's primary (a failover passed it by while it was frozen or cut off) before it asks to be rebuilt from that primary; and seconds pgpool must have had no primary before a held node whose data is a primary's may start again as the primary (every other node answered, none newer)
: "${PGHA_REPOINT_GRACE_SECONDS:=30}"
# the deploy directory the init service fills with secrets and SSH material
: "${PGHA_INIT_DIR:=/pgha/deploy}"
# the secrets the init service makes, comma-separated: one file each under secrets/
: "${PGHA_INIT_SECRETS:=postgres_password,pgpool_password,replication_password,pcp_password,wd_authkey}"
# on: the init service makes a dev CA (ca/) and the server certificate every node serves (tls/)
: "${PGHA_INIT_TLS:=off}"
# on: the init service copies the pgpool password and the CA certificate into metrics/, all the pgpool metrics services mount
: "${PGHA_INIT_METRICS:=off}"
# the names of that certificate: DNS:name,IP:address,... (the node names, the delegate IP, 127.0.0.1)
: "${PGHA_TLS_SAN:=}"
# who may log in where: NODE:CALLER:pgpool|postgres entries separated by blanks (the init service writes authorized_keys from it)
: "${PGHA_SSH_ACCESS:=}"
# 1: follow the new primary with pg_basebackup, never pg_rewind (tests)
: "${PGHA_FORCE_BASEBACKUP:=}"

# Read by libpq, pg_ctl and postgres themselves.
export PGDATA PGPORT
