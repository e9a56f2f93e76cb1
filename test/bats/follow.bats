#!/usr/bin/env bats
# follow_primary.sh and failback.sh, the pgpool hooks that run after a promotion and after an
# attach, with ssh, pg_isready and pcp_attach_node replaced by stubs that record each call.
# follow_primary.sh: the new primary itself and the primary that failed are left alone (the old
# primary rebuilds itself when it asks; re-pointing it too raced that rebuild); a standby that
# answers is re-pointed on a fresh slot and attached. failback.sh: the primary's sync-restore
# runs in the background, so pgpool (which takes no new client meanwhile) is not kept waiting.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pgpool0
  export CALLS="$BATS_TEST_TMPDIR/calls" SSH_SLEEP=0
  export PGHA_PCPPASS_FILE="$BATS_TEST_TMPDIR/pcppass"
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  # ssh: "ssh HOST command..." per call; sleeps SSH_SLEEP seconds first.
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
sleep "$SSH_SLEEP"
echo "ssh $host ${rest[*]}" >>"$CALLS"
STUB
  printf '#!/usr/bin/env bash\necho "pg_isready $*" >>"$CALLS"\n' >"$BATS_TEST_TMPDIR/bin/pg_isready"
  printf '#!/usr/bin/env bash\necho "pcp_attach_node $*" >>"$CALLS"\necho "pcp_attach_node -- Command Successful"\n' >"$BATS_TEST_TMPDIR/bin/pcp_attach_node"
  chmod +x "$BATS_TEST_TMPDIR/bin/"*
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  : >"$CALLS"
}

# follow FAILED_ID FAILED_HOST FAILED_PORT NEW_MAIN_ID NEW_MAIN_HOST NEW_MAIN_PORT OLD_PRIMARY_ID (as pgpool.conf passes them)
follow() { run bash "$CONTEXT/follow_primary.sh" "$@"; }

@test "follow: the primary that failed is not re-pointed: nothing is run on any node" {
  follow 0 pg0 5432 1 pg1 5432 0
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"action=follow: node 0 was the primary that failed: it rebuilds itself"* ]]
  [[ ! -s "$CALLS" ]]
}

@test "follow: the new primary itself: nothing to do" {
  follow 1 pg1 5432 1 pg1 5432 0
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"node 1 is the new primary itself; nothing to do"* ]]
  [[ ! -s "$CALLS" ]]
}

@test "follow: another standby that answers is re-pointed on a fresh slot and attached" {
  follow 2 pg2 5432 1 pg1 5432 0
  [[ "$status" -eq 0 ]]
  grep -qx "ssh pg1 pgha-node ensure-slot pg2" "$CALLS"
  grep -qx "ssh pg2 pgha-node follow pg1 5432" "$CALLS"
  grep -q "^pcp_attach_node .*-n 2$" "$CALLS"
  [[ "$output" == *"node 2 (pg2) is a standby of pg1 again"* ]]
}

@test "follow: with no old primary known (-1), a standby is still re-pointed" {
  follow 0 pg0 5432 1 pg1 5432 -1
  [[ "$status" -eq 0 ]]
  grep -qx "ssh pg0 pgha-node follow pg1 5432" "$CALLS"
}

@test "failback: a standby attached: the script returns before the primary's sync-restore, which still runs" {
  SSH_SLEEP=2
  local began=$SECONDS out="$BATS_TEST_TMPDIR/out"
  # Into a file, not `run`: run reads until every writer of its pipe is gone, as pgpool does not.
  bash "$CONTEXT/failback.sh" 2 pg2 pg1 >"$out" 2>&1
  ((SECONDS - began < 2))
  grep -q "action=failback: backend 2 (pg2) attached" "$out"
  [[ ! -s "$CALLS" ]]
  local i
  for i in $(seq 50); do grep -qx "ssh pg1 pgha-node sync-restore" "$CALLS" && break; sleep 0.1; done
  grep -qx "ssh pg1 pgha-node sync-restore" "$CALLS"
}

@test "failback: the primary itself attached (or none known): no sync-restore" {
  run bash "$CONTEXT/failback.sh" 1 pg1 pg1
  [[ "$status" -eq 0 ]]
  run bash "$CONTEXT/failback.sh" 1 pg1 ""
  [[ "$status" -eq 0 ]]
  sleep 0.3
  [[ ! -s "$CALLS" ]]
}

@test "follow: one SSH session to the new primary (the slot), its SSH failure named" {
  follow 2 pg2 5432 1 pg1 5432 0
  [[ "$(grep -c '^ssh pg1 ' "$CALLS")" -eq 1 ]]
  printf '#!/usr/bin/env bash\n[[ "$*" == *postgres@pg1* ]] && exit 255\nexit 0\n' >"$BATS_TEST_TMPDIR/bin/ssh"
  follow 2 pg2 5432 1 pg1 5432 0
  [[ "$status" -ne 0 ]]
  [[ "$output" == *"SSH to postgres@pg1 port"*"failed: check sshd on pg1"* ]]
}
