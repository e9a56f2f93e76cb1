#!/usr/bin/env bats
# escalation.sh: the new watchdog leader clears the delegate IP from every other pgpool node,
# all at once and each within a bound, so a dead or frozen peer delays the VIP by the bound,
# not by the sum of SSH timeouts.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pgpool0 PGHA_DELEGATE_IP=172.30.0.100
  export PGHA_PGPOOL_PEERS=pgpool0,pgpool1,pgpool2 PGHA_REMOTE_STEP_SECONDS=2 PGHA_VIP_CONF="$BATS_TEST_TMPDIR/vip.conf"
  export SSH_CALLS="$BATS_TEST_TMPDIR/ssh-calls" SSH_HANGS=""
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  cat >"$BATS_TEST_TMPDIR/bin/ssh" <<'STUB'
#!/usr/bin/env bash
timeout=
while (($#)); do
  case "$1" in
    -o) [[ "$2" == ConnectTimeout=* ]] && timeout=${2#ConnectTimeout=}; shift 2 ;;
    -p | -i) shift 2 ;;
    -T) shift ;;
    postgres@*) host=${1#postgres@}; shift; break ;;
    *) shift ;;
  esac
done
echo "$host connect-timeout=$timeout $*" >>"$SSH_CALLS"
[[ ",$SSH_HANGS," == *",$host,"* ]] && exec sleep 30
exit 0
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/ssh"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

@test "every other peer is asked to drop the delegate IP, with the short escalation connect timeout" {
  run bash "$CONTEXT/escalation.sh"
  [[ "$status" -eq 0 ]]
  [[ "$(sort "$SSH_CALLS")" == "pgpool1 connect-timeout=1 vip-down 172.30.0.100"$'\n'"pgpool2 connect-timeout=1 vip-down 172.30.0.100" ]]
  [[ "$output" == *"172.30.0.100 cleared on pgpool1"* && "$output" == *"172.30.0.100 cleared on pgpool2"* ]]
}

@test "two hanging peers: both given up within one bound (in parallel), named in a warning each" {
  SECONDS=0
  SSH_HANGS=pgpool1,pgpool2 run bash "$CONTEXT/escalation.sh"
  [[ "$status" -eq 0 ]]
  # Both bounded by PGHA_REMOTE_STEP_SECONDS=2 at the same time; in sequence it would be >= 4.
  ((SECONDS < 4))
  [[ "$output" == *"could not reach pgpool1"* && "$output" == *"could not reach pgpool2"* ]]
}

# watchdog_info NODE:STATUS...: a pcp_watchdog_info stand-in printing -v output with those nodes.
watchdog_info() {
  {
    echo '#!/usr/bin/env bash'
    echo "cat <<'OUT'"
    echo 'Total Nodes          : 3'
    local entry
    for entry in "$@"; do printf 'Node Name            : %s:9999 Linux %s\nHost Name            : %s\nStatus Name          : %s\n\n' "${entry%%:*}" "${entry%%:*}" "${entry%%:*}" "${entry#*:}"; done
    echo 'OUT'
  } >"$BATS_TEST_TMPDIR/bin/pcp_watchdog_info"
  chmod +x "$BATS_TEST_TMPDIR/bin/pcp_watchdog_info"
}

@test "the peer the watchdog has lost is cleared in the background, not waited for; a peer it sees is waited for" {
  watchdog_info pgpool0:LEADER pgpool1:STANDBY pgpool2:LOST
  SECONDS=0
  # To a file, not through run: run would also wait for the background clear to close its output.
  SSH_HANGS=pgpool2 bash "$CONTEXT/escalation.sh" >"$BATS_TEST_TMPDIR/out" 2>&1
  # Waiting for the hanging pgpool2 would take the 2 s bound.
  ((SECONDS < 2)) || { echo "took $SECONDS s"; false; }
  local output
  output=$(cat "$BATS_TEST_TMPDIR/out")
  [[ "$output" == *"pgpool2 is lost to the watchdog: clearing it in the background, not waiting for it"* ]]
  [[ "$output" == *"172.30.0.100 cleared on pgpool1"*"done; pgpool brings 172.30.0.100 up here next"* ]]
  # The background clear was still tried.
  grep -q "^pgpool2 connect-timeout=1 vip-down 172.30.0.100" "$SSH_CALLS"
}

@test "a hanging peer the watchdog still sees is waited for, within the bound" {
  watchdog_info pgpool0:LEADER pgpool1:STANDBY pgpool2:STANDBY
  SECONDS=0
  SSH_HANGS=pgpool2 run bash "$CONTEXT/escalation.sh"
  [[ "$status" -eq 0 ]]
  ((SECONDS >= 2))
  [[ "$output" == *"could not reach pgpool2"*"done; pgpool brings"* ]]
  [[ "$output" != *"in the background"* ]]
}

@test "without a delegate IP, becoming leader clears nothing and reaches no peer" {
  PGHA_DELEGATE_IP='' run bash "$CONTEXT/escalation.sh"
  [[ "$status" -eq 0 && "$output" == *"becoming leader; no delegate IP to clear"* ]]
  [[ ! -e "$SSH_CALLS" ]]
}

@test "the delegate IP is the one the entrypoint wrote for pgpool, even when the environment lacks it" {
  printf 'delegate_ip=172.30.0.100\nprefix=24\ndevice=eth0\n' >"$PGHA_VIP_CONF"
  PGHA_DELEGATE_IP='' run bash "$CONTEXT/escalation.sh"
  [[ "$status" -eq 0 ]]
  [[ "$(sort "$SSH_CALLS")" == "pgpool1 connect-timeout=1 vip-down 172.30.0.100"$'\n'"pgpool2 connect-timeout=1 vip-down 172.30.0.100" ]]
}
