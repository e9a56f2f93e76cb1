#!/usr/bin/env bats
# escalation.sh: the new watchdog leader clears the delegate IP from every other pgpool node,
# all at once and each within a bound, so a dead or frozen peer delays the VIP by the bound,
# not by the sum of SSH timeouts.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pgpool0 PGHA_DELEGATE_IP=172.30.0.100
  export PGHA_PGPOOL_PEERS=pgpool0,pgpool1,pgpool2 PGHA_REMOTE_STEP_SECONDS=2
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
