#!/usr/bin/env bats
# ssh-command, the forced command of every authorized key: what each caller kind may run on a
# node, with arguments checked word by word. The real pgha-node and vip.sh are replaced by
# stubs that print what they were given.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0
  export PGHA_NODE_CMD="$BATS_TEST_TMPDIR/pgha-node" PGHA_LIB_DIR="$BATS_TEST_TMPDIR/lib"
  mkdir -p "$PGHA_LIB_DIR"
  printf '#!/bin/sh\necho "pgha-node $*"\n' >"$PGHA_NODE_CMD"
  printf '#!/bin/sh\necho "vip.sh $*"\n' >"$PGHA_LIB_DIR/vip.sh"
  chmod +x "$PGHA_NODE_CMD" "$PGHA_LIB_DIR/vip.sh"
  # The cluster's postgres nodes as root wrote them; the caller connects from 127.0.0.1.
  export PGHA_PEERS_FILE="$BATS_TEST_TMPDIR/peers" SSH_CONNECTION="127.0.0.1 40000 127.0.0.1 2222"
  printf 'localhost\npg1\n' >"$PGHA_PEERS_FILE"
}

# as CALLER COMMAND: run ssh-command as sshd would for that key and request.
as() { SSH_ORIGINAL_COMMAND=$2 run bash "$CONTEXT/ssh-command" "$1"; }
runs() { [[ "$status" -eq 0 && "${lines[-1]}" == "$1" ]] || { echo "status $status, output: $output" >&2; return 1; }; }
refused() { [[ "$status" -ne 0 && "$output" == *"refused"* ]] || { echo "status $status, output: $output" >&2; return 1; }; }

@test "ping answers for any caller" {
  as pgpool ping; runs ok
  as postgres ping; runs ok
}

@test "pgpool may promote, stop a failed primary, follow, mark roles, manage slots, restore sync on a postgres node" {
  as pgpool "pgha-node promote"; runs "pgha-node promote"
  as pgpool "pgha-node step-down"; runs "pgha-node step-down"
  as pgpool "pgha-node step-down now"; refused
  as pgpool "pgha-node set-role BACKUP"; runs "pgha-node set-role BACKUP"
  as pgpool "pgha-node drop-slot pg1"; runs "pgha-node drop-slot pg1"
  as pgpool "pgha-node ensure-slot pg_2"; runs "pgha-node ensure-slot pg_2"
  as pgpool "pgha-node follow pg1 5432"; runs "pgha-node follow pg1 5432"
  as pgpool "pgha-node follow elsewhere 5432"; refused
  as pgpool "pgha-node sync-restore"; runs "pgha-node sync-restore"
  as pgpool "pgha-node receive-lsn"; runs "pgha-node receive-lsn"
  as pgpool "pgha-node receive-lsn pg1"; refused
  as pgpool "pgha-node standby-lost pg1"; runs "pgha-node standby-lost pg1"
  as pgpool "pgha-node standby-lost elsewhere"; refused
  as pgpool "pgha-node standby-lost"; refused
  as postgres "pgha-node standby-lost pg1"; refused
}

@test "postgres may rebuild, release and ask a node's state, nothing pgpool does" {
  as postgres "pgha-node rebuild localhost 5432"; runs "pgha-node rebuild localhost 5432"
  # Only from the node that asks: another peer, or a host outside the cluster, is refused.
  as postgres "pgha-node rebuild pg1 5432"; refused
  as postgres "pgha-node rebuild elsewhere 5432"; refused
  as postgres "pgha-node release"; runs "pgha-node release"
  as postgres "pgha-node state"; runs "pgha-node state"
  as postgres "pgha-node state extra"; refused
  as pgpool "pgha-node state"; refused
  as postgres "pgha-node promote"; refused
  as postgres "pgha-node drop-slot pg1"; refused
  as postgres "pgha-node receive-lsn"; refused
  as postgres "pgha-node watch-loop"; refused
  as postgres "pgha-node step-down"; refused
  as pgpool "pgha-node isolation-guard"; refused
  as pgpool "pgha-node rebuild localhost 5432"; refused
}

@test "arbitrary commands and shell syntax are refused, never run" {
  for cmd in "id" "true" "/bin/sh -c id" "pgha-node promote; id" "pgha-node promote && id" "ping; id" \
    'pgha-node set-role $(id)' "pgha-node set-role MASTER x" "pgha-node follow pg1 5432;id 1" "pgha-node drop-slot ../x" \
    "pgha-node follow -oProxyCommand=x 5432" "pgha-node follow pg1 abc" "pgha-node rejoin" "pgha-node hold" ""; do
    as pgpool "$cmd"; refused
  done
}

@test "vip-down: only from pgpool, only an IPv4 address" {
  as pgpool "vip-down 172.30.0.100"; runs "vip.sh down 172.30.0.100"
  as postgres "vip-down 172.30.0.100"; refused
  as pgpool "vip-down 172.30.0.100/0"; refused
  as pgpool "vip-down"; refused
}

@test "control characters and a missing peer list are refused" {
  as pgpool "ping
pgha-node promote"; refused
  rm -f "$PGHA_PEERS_FILE"
  as pgpool "pgha-node follow pg1 5432"; refused
}

@test "a key with no caller kind is refused" {
  as "" ping; refused
  as root ping; refused
}

@test "a port is 1-65535, as every other reader takes it" {
  for port in 0 05432 65536 99999; do
    as pgpool "pgha-node follow pg1 $port"; refused
  done
  as pgpool "pgha-node follow pg1 65535"; runs "pgha-node follow pg1 65535"
}
