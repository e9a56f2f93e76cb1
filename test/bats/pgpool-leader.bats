#!/usr/bin/env bats
# Without a delegate IP (several hosts), a postgres node finds the watchdog leader by asking the
# pgpool peers (pcp_watchdog_info), keeps it, asks again once it does not answer, and runs pcp
# there. With a delegate IP nothing changes: the delegate IP is the leader.

setup() {
  PG="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$PG/pgha-lib.sh" PGHA_HOME="$BATS_TEST_TMPDIR" PGHA_PCPPASS_FILE=/dev/null
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  # pcp_watchdog_info stand-in: what peer -h HOST says is in $BATS_TEST_TMPDIR/wd.HOST
  # (missing: no answer); every call is logged.
  cat >"$BATS_TEST_TMPDIR/bin/pcp_watchdog_info" <<'STUB'
#!/usr/bin/env bash
while (($#)); do [[ "$1" == -h ]] && host=$2; shift; done
echo "$host" >>"$STUB_DIR/asked"
[[ -r "$STUB_DIR/wd.$host" ]] || exit 1
cat "$STUB_DIR/wd.$host"
STUB
  # pcp_attach_node stand-in: succeeds at the host named in $STUB_DIR/up, fails elsewhere.
  cat >"$BATS_TEST_TMPDIR/bin/pcp_attach_node" <<'STUB'
#!/usr/bin/env bash
while (($#)); do [[ "$1" == -h ]] && host=$2; shift; done
echo "attach at $host" >>"$STUB_DIR/asked"
[[ "$host" == "$(cat "$STUB_DIR/up" 2>/dev/null)" ]] || { echo "ERROR: connection to host \"$host\" failed" >&2; exit 1; }
echo "pcp_attach_node -- Command Successful"
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/"*
  export STUB_DIR=$BATS_TEST_TMPDIR
  export PGHA_DELEGATE_IP='' PGHA_PGPOOL_PEERS=pgpool0,pgpool1,pgpool2 PGHA_PGPOOL_LEADER_FILE="$BATS_TEST_TMPDIR/leader"
}

# wd HOST QUORUM LEADER: what pcp_watchdog_info -v prints on HOST.
wd() { printf 'Watchdog Cluster Information\nTotal Nodes              : 3\nQuorum state             : %s\nLeader Node Name         : %s:9999 Linux %s\nLeader Host Name         : %s\n' "$2" "$3" "$3" "$3" >"$BATS_TEST_TMPDIR/wd.$1"; }

# node FUNCTION...: a pgha-node function with the stand-ins first on PATH.
node() { run bash -c '. "$1/pgha-node.sh"; PATH="$2:$PATH"; "${@:3}"' _ "$PG" "$BATS_TEST_TMPDIR/bin" "$@"; }

@test "the leader is what the first peer with a quorum names; a peer cut off or silent is passed over" {
  wd pgpool1 'QUORUM ABSENT' pgpool1
  wd pgpool2 'QUORUM EXIST' pgpool0
  node pgha_node_pgpool_host
  [[ "$status" -eq 0 && "$output" == pgpool0 ]]
  [[ "$(cat "$BATS_TEST_TMPDIR/asked" | tr '\n' ' ')" == "pgpool0 pgpool1 pgpool2 " ]]
  [[ "$(cat "$PGHA_PGPOOL_LEADER_FILE")" == pgpool0 ]]
  # Half the votes with enable_consensus_with_half_votes counts too.
  rm "$PGHA_PGPOOL_LEADER_FILE"
  wd pgpool0 'QUORUM IS ON THE EDGE' pgpool2
  node pgha_node_pgpool_host
  [[ "$status" -eq 0 && "$output" == pgpool2 ]]
}

@test "no peer names a leader: no host, and pcp says why" {
  wd pgpool0 'QUORUM ABSENT' pgpool0
  node pgha_node_pgpool_host
  [[ "$status" -ne 0 && -z "$output" ]]
  node pgha_node_pcp 2 pcp_attach_node -n 1
  [[ "$status" -ne 0 && "$output" == "no pgpool peer (pgpool0,pgpool1,pgpool2) names a watchdog leader" ]]
  # A name that is not one of the peers is not believed (it would go into pcp's -h).
  wd pgpool1 'QUORUM EXIST' 'evil;host'
  node pgha_node_pgpool_host
  [[ "$status" -ne 0 ]]
}

@test "the leader found is kept while it leads; a failed pcp forgets it" {
  wd pgpool1 'QUORUM EXIST' pgpool1
  echo pgpool1 >"$BATS_TEST_TMPDIR/up"
  node pgha_node_pcp 2 pcp_attach_node -n 1
  [[ "$status" -eq 0 ]]
  node pgha_node_pcp 2 pcp_attach_node -n 1
  [[ "$status" -eq 0 ]]
  # Asked the peers in order once (pgpool0 silent, pgpool1), then only the kept leader itself.
  [[ "$(grep '^pgpool' "$BATS_TEST_TMPDIR/asked" | tr '\n' ' ')" == "pgpool0 pgpool1 pgpool1 " && "$(grep -c '^attach at pgpool1' "$BATS_TEST_TMPDIR/asked")" -eq 2 ]]
  # The leader moves: the kept one no longer answers as leader, so the new one is found and used.
  rm "$BATS_TEST_TMPDIR/wd.pgpool1"
  wd pgpool2 'QUORUM EXIST' pgpool2
  echo pgpool2 >"$BATS_TEST_TMPDIR/up"
  node pgha_node_pcp 2 pcp_attach_node -n 1
  [[ "$status" -eq 0 && "$(cat "$PGHA_PGPOOL_LEADER_FILE")" == pgpool2 ]]
  # A kept leader whose pcp action fails (it answered as leader, then failed) is forgotten.
  echo nobody >"$BATS_TEST_TMPDIR/up"
  node pgha_node_pcp 2 pcp_attach_node -n 1
  [[ "$status" -ne 0 && ! -e "$PGHA_PGPOOL_LEADER_FILE" ]]
}

@test "a kept leader that lost its quorum (cut off, answering from its old view) is not used" {
  echo pgpool1 >"$PGHA_PGPOOL_LEADER_FILE"
  wd pgpool1 'QUORUM ABSENT' pgpool1
  wd pgpool2 'QUORUM EXIST' pgpool2
  node pgha_node_pgpool_host
  [[ "$status" -eq 0 && "$output" == pgpool2 && "$(cat "$PGHA_PGPOOL_LEADER_FILE")" == pgpool2 ]]
}

@test "a leader busy with another recovery is kept; any other failure forgets it" {
  echo pgpool1 >"$PGHA_PGPOOL_LEADER_FILE"
  wd pgpool1 'QUORUM EXIST' pgpool1
  printf '#!/usr/bin/env bash\necho "FATAL:  process recovery request failed" >&2\necho "DETAIL:  pgpool-II is already processing another recovery request." >&2\n' >"$BATS_TEST_TMPDIR/bin/pcp_recovery_node"
  chmod +x "$BATS_TEST_TMPDIR/bin/pcp_recovery_node"
  node pgha_node_pcp 2 pcp_recovery_node -n 1
  [[ "$status" -ne 0 && "$output" == *"already processing another recovery request"* && "$(cat "$PGHA_PGPOOL_LEADER_FILE")" == pgpool1 ]]
  node pgha_node_pcp 2 pcp_attach_node -n 1
  [[ "$status" -ne 0 && ! -e "$PGHA_PGPOOL_LEADER_FILE" ]]
}

@test "a kept leader that is a link, or not a peer, is not believed; the link is replaced, not followed" {
  wd pgpool0 'QUORUM EXIST' pgpool0
  echo secret >"$BATS_TEST_TMPDIR/target"
  ln -s "$BATS_TEST_TMPDIR/target" "$PGHA_PGPOOL_LEADER_FILE"
  node pgha_node_pgpool_host
  [[ "$status" -eq 0 && "$output" == pgpool0 ]]
  [[ ! -L "$PGHA_PGPOOL_LEADER_FILE" && "$(cat "$BATS_TEST_TMPDIR/target")" == secret ]]
  echo elsewhere >"$PGHA_PGPOOL_LEADER_FILE"
  node pgha_node_pgpool_host
  [[ "$status" -eq 0 && "$output" == pgpool0 ]]
}

@test "with a delegate IP, that is where pcp goes; no peer is asked, nothing is kept" {
  wd pgpool0 'QUORUM EXIST' pgpool0
  PGHA_DELEGATE_IP=172.30.0.100 node pgha_node_pgpool_host
  [[ "$status" -eq 0 && "$output" == 172.30.0.100 ]]
  [[ ! -e "$BATS_TEST_TMPDIR/asked" && ! -e "$PGHA_PGPOOL_LEADER_FILE" ]]
}

@test "a node has pgpool to ask with a delegate IP or with pgpool peers, and not without both" {
  node pgha_node_has_pgpool
  [[ "$status" -eq 0 ]]
  PGHA_PGPOOL_PEERS='' PGHA_DELEGATE_IP=10.0.0.5 node pgha_node_has_pgpool
  [[ "$status" -eq 0 ]]
  PGHA_PGPOOL_PEERS='' node pgha_node_has_pgpool
  [[ "$status" -ne 0 ]]
}
