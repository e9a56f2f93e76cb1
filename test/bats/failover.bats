#!/usr/bin/env bats
# failover.sh's decisions, with SSH replaced by a stub that records each remote command:
# nothing left to promote -> refuse; a standby failed -> drop its slot on the primary; the
# primary failed -> stop the old primary (step-down) or wait for its lease, promote the new main
# node in one SSH session, then (in the background, bounded) mark the old primary BACKUP if it
# did not answer the step-down.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pgpool0
  export SSH_CALLS="$BATS_TEST_TMPDIR/ssh-calls" SSH_DOWN="" SSH_FAILS="" SSH_HANGS=""
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  # ssh stub: "host command..." per call; exits 255 (ssh's own failure) for hosts in SSH_DOWN,
  # 1 (the remote command failed) for hosts in SSH_FAILS, and sleeps for hosts in SSH_HANGS.
  cat >"$BATS_TEST_TMPDIR/bin/ssh" <<'STUB'
#!/usr/bin/env bash
host= rest=()
while (($#)); do
  case "$1" in
    -p | -i | -o) shift 2 ;;
    -T) shift ;;
    postgres@*) host=${1#postgres@}; shift; rest=("$@"); break ;;
    *) shift ;;
  esac
done
echo "$host ${rest[*]}" >>"$SSH_CALLS"
if [[ "${rest[*]}" == "pgha-node step-down" && ",$SSH_DOWN,$SSH_FAILS,$SSH_HANGS," != *",$host,"* ]]; then
  touch "$SSH_CALLS.stepped"
fi
if [[ "${rest[*]}" == "pgha-node receive-lsn" ]]; then
  # LSN2_host: what it reports once the old primary has stepped down (it received more meanwhile).
  var="LSN_$host"
  [[ -e "$SSH_CALLS.stepped" && -n "$(v="LSN2_$host"; echo "${!v:-}")" ]] && var="LSN2_$host"
  [[ -n "${!var:-}" ]] || exit 1
  echo "${!var}"
  exit 0
fi
[[ ",$SSH_HANGS," == *",$host,"* ]] && sleep 30
[[ ",$SSH_DOWN," == *",$host,"* ]] && exit 255
[[ ",$SSH_FAILS," == *",$host,"* ]] && exit 1
exit 0
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/ssh"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  # The running pgpool.conf names the backends (two unless a test says otherwise).
  export PGHA_PGPOOL_CONF_DIR="$BATS_TEST_TMPDIR/conf"
  mkdir -p "$PGHA_PGPOOL_CONF_DIR"
  backends pg0 pg1
}

# backends HOST...: the backend_hostnameN lines of the running pgpool.conf.
backends() {
  local i=0 h
  for h in "$@"; do echo "backend_hostname$i = '$h'"; i=$((i + 1)); done >"$PGHA_PGPOOL_CONF_DIR/pgpool.conf"
}

# failover FAILED_ID FAILED_HOST NEW_MAIN_ID NEW_MAIN_HOST OLD_PRIMARY_ID OLD_PRIMARY_HOST (as pgpool.conf passes them)
failover() { run bash "$CONTEXT/failover.sh" "$@"; }

@test "the primary failed and does not answer the step-down, then answers: promoted, the old primary marked BACKUP in the background" {
  export PGHA_ISOLATION_FENCE_SECONDS=1 SSH_FAILS=pg0
  failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  grep -qx "pg1 pgha-node promote" "$SSH_CALLS"
  grep -qx "pg0 pgha-node set-role BACKUP" "$SSH_CALLS"
  [[ "$output" == *"action=failover: done: pg1 is the primary"* ]]
}

@test "the primary failed and is unreachable: promoted all the same once its lease ran out, the old primary rebuilt later" {
  export PGHA_ISOLATION_FENCE_SECONDS=1
  SSH_DOWN=pg0 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  grep -qx "pg1 pgha-node promote" "$SSH_CALLS"
  [[ "$output" == *"pg0 unreachable; it will be rebuilt as BACKUP when it returns"* ]]
}

@test "the old primary answers and stops: promoted at once, after its step-down; its step-down wrote the breadcrumb" {
  local began=$SECONDS
  failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  ((SECONDS - began < 3))
  [[ "$(grep -n . "$SSH_CALLS" | grep -E 'step-down|promote' | cut -d: -f2-)" == $'pg0 pgha-node step-down\npg1 pgha-node promote' ]]
  ! grep -q "set-role" "$SSH_CALLS" || false
  [[ "$output" == *"pg0 answered and runs no primary now"*"done: pg1 is the primary"* ]]
}

@test "the old primary does not answer (killed or cut off): the promotion waits for its lease and the guard's lateness, not less" {
  export PGHA_ISOLATION_FENCE_SECONDS=1
  local began=$SECONDS
  SSH_DOWN=pg0 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  ((SECONDS - began >= 4))
  [[ "$output" == *"pg0 did not confirm a stop: waiting until it must have fenced itself"*"did not confirm a stop within 4 s"*"done: pg1 is the primary"* ]]
}

@test "the old primary hangs (frozen): the promotion waits for the lease, no longer" {
  export PGHA_ISOLATION_FENCE_SECONDS=1 PGHA_REMOTE_STEP_SECONDS=1
  local began=$SECONDS
  SSH_HANGS=pg0 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  ((SECONDS - began >= 4 && SECONDS - began < 8))
  grep -qx "pg1 pgha-node promote" "$SSH_CALLS"
}

@test "no lease (PGHA_ISOLATION_FENCE_SECONDS=0): an old primary that does not answer is not waited for" {
  export PGHA_ISOLATION_FENCE_SECONDS=0
  local began=$SECONDS
  SSH_DOWN=pg0 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  ((SECONDS - began < 3))
  grep -qx "pg1 pgha-node promote" "$SSH_CALLS"
}

@test "the primary failed: one SSH session to the new main node, no ping before it" {
  failover 0 pg0 1 pg1 0 pg0
  [[ "$(grep -c '^pg1 ' "$SSH_CALLS")" -eq 1 ]]
}

@test "the old primary hangs (frozen): the failover is done first, the breadcrumb gives up within its bound" {
  export PGHA_REMOTE_STEP_SECONDS=1 PGHA_ISOLATION_FENCE_SECONDS=1
  SSH_HANGS=pg0 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"done: pg1 is the primary"*"pg0 unreachable"* ]]
}

@test "the new main node cannot be reached: fail loudly naming the SSH path, mark nothing" {
  SSH_DOWN=pg1 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -ne 0 ]]
  ! grep -q set-role "$SSH_CALLS" || false
  [[ "$output" == *"SSH to postgres@pg1 port 2222 failed"*"the cluster has no primary until one is promoted"* ]]
}

@test "the promotion itself fails on the new main node: fail loudly, pointing at its log" {
  SSH_FAILS=pg1 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -ne 0 ]]
  [[ "$output" == *"promotion of pg1 failed: see its container log"* ]]
}

@test "every backend is down: refuse, touch nothing" {
  failover 1 pg1 -1 "" 0 pg0
  [[ "$status" -ne 0 ]]
  [[ ! -e "$SSH_CALLS" ]]
  [[ "$output" == *"every backend is down: no node to promote; refusing to act"* ]]
}

@test "a standby failed: the primary stays, the standby's slot is kept (it streams again and its node attaches it), the primary is told" {
  failover 1 pg1 0 pg0 0 pg0
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"a standby failed; the primary stays. Its replication slot is kept; its node attaches it again once it streams from the primary"* ]]
  # Only this: no promotion, no slot dropped; the primary decides about synchronous commits.
  [[ "$(cat "$SSH_CALLS")" == "pg0 pgha-node standby-lost pg1" ]]
}

@test "a standby failed and the primary cannot be told: a warning, the failover still succeeds" {
  SSH_DOWN=pg0 failover 1 pg1 0 pg0 0 pg0
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"WARNING: could not tell the primary pg0 that pg1 is gone"* ]]
}

@test "a standby failed while no primary is known: nobody to tell" {
  failover 1 pg1 0 pg0 -1 ""
  [[ "$status" -eq 0 ]]
  [[ ! -e "$SSH_CALLS" ]]
}

@test "the new main node hangs (frozen after the TCP handshake): the promotion gives up within its bound and says so" {
  export PGHA_PG_CTL_TIMEOUT=1 PGHA_REMOTE_STEP_SECONDS=1
  SSH_HANGS=pg1 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -ne 0 ]]
  [[ "$output" == *"promotion of pg1 did not finish within 2 s (a frozen node?)"* ]]
}

@test "three nodes: the standby that received the most WAL is promoted, not pgpool's lowest-numbered candidate" {
  backends pg0 pg1 pg2
  export LSN_pg1=0/3000060 LSN_pg2=0/3000A28
  failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  grep -qx "pg2 pgha-node promote" "$SSH_CALLS"
  ! grep -qx "pg1 pgha-node promote" "$SSH_CALLS" || false
  [[ "$output" == *"pg1 received WAL up to 0/3000060"* && "$output" == *"pg2 received WAL up to 0/3000A28"* ]]
  [[ "$output" == *"promoting pg2 instead of pgpool's candidate pg1: it received more WAL"* ]]
  [[ "$output" == *"done: pg2 is the primary"* ]]
}

@test "three nodes: the old primary stepped down after the standbys reported; they are asked again, and the one that confirmed its last commits is promoted" {
  backends pg0 pg1 pg2
  export LSN_pg1=0/3000A28 LSN_pg2=0/3000060 LSN2_pg2=0/3000B00
  failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  [[ "$(grep -c "^pg2 pgha-node receive-lsn" "$SSH_CALLS")" -eq 2 ]]
  grep -qx "pg2 pgha-node promote" "$SSH_CALLS"
  ! grep -qx "pg1 pgha-node promote" "$SSH_CALLS" || false
}

@test "three nodes, the old primary does not answer: nobody is asked twice" {
  backends pg0 pg1 pg2
  export LSN_pg1=0/3000A28 LSN_pg2=0/3000060 PGHA_ISOLATION_FENCE_SECONDS=1
  SSH_DOWN=pg0 failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  [[ "$(grep -c "^pg2 pgha-node receive-lsn" "$SSH_CALLS")" -eq 1 ]]
  grep -qx "pg1 pgha-node promote" "$SSH_CALLS"
}

@test "three nodes: a higher segment wins over a higher offset (positions compare as numbers)" {
  backends pg0 pg1 pg2
  export LSN_pg1=0/FFFFFFF0 LSN_pg2=1/10
  failover 0 pg0 1 pg1 0 pg0
  grep -qx "pg2 pgha-node promote" "$SSH_CALLS"
}

@test "three nodes, same position: pgpool's candidate is kept" {
  backends pg0 pg1 pg2
  export LSN_pg1=0/3000A28 LSN_pg2=0/3000A28
  failover 0 pg0 1 pg1 0 pg0
  grep -qx "pg1 pgha-node promote" "$SSH_CALLS"
  [[ "$output" != *"instead of"* ]]
}

@test "three nodes, a standby that does not answer is no candidate" {
  backends pg0 pg1 pg2
  export LSN_pg1=0/3000060
  failover 0 pg0 1 pg1 0 pg0
  grep -qx "pg1 pgha-node promote" "$SSH_CALLS"
  [[ "$output" == *"pg2 did not report a received WAL position; not a candidate"* ]]
}

@test "two nodes: nobody to choose between, no extra round trip" {
  failover 0 pg0 1 pg1 0 pg0
  ! grep -q receive-lsn "$SSH_CALLS" || false
}

@test "durability strict, three nodes: every standby answered, the most advanced is promoted" {
  export PGHA_DURABILITY=strict LSN_pg1=0/3000060 LSN_pg2=0/3000100
  backends pg0 pg1 pg2
  failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  grep -qx "pg2 pgha-node promote" "$SSH_CALLS"
}

@test "durability strict, three nodes: a standby does not answer (dead, even one detached before): nothing promoted, loudly, with what to do" {
  export PGHA_DURABILITY=strict LSN_pg1=0/3000060
  backends pg0 pg1 pg2
  failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -ne 0 ]]
  # Nothing promoted, so the old primary is not stopped either (it may be the one with the data).
  ! grep -qE "pgha-node (promote|step-down)" "$SSH_CALLS" || false
  [[ "$output" == *"ERROR: durability strict: pg2 did not report its WAL position"*"so nothing is promoted"*"pcp_promote_node"* ]]
}

@test "durability strict, two nodes: the only standby is asked too, and must answer" {
  export PGHA_DURABILITY=strict
  failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -ne 0 ]]
  [[ "$output" == *"durability strict: pg1 did not report its WAL position"* ]]
  ! grep -q "pgha-node promote" "$SSH_CALLS" || false
  export LSN_pg1=0/3000060
  failover 0 pg0 1 pg1 0 pg0
  [[ "$status" -eq 0 ]]
  grep -qx "pg1 pgha-node promote" "$SSH_CALLS"
}
