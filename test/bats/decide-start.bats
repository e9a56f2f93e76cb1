#!/usr/bin/env bats
# The rejoin decision of a postgres node (pgha_node_decide_start in pgha-node.sh), row by row:
# what pgpool says, what the peers say, what the data directory holds, whether this node's
# slot is on the primary -> "start" or "rejoin". The network is stubbed; the generated
# pgha-node.sh and pgha-lib.sh of the postgres image's context are the code under test.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh"
  export PGHA_NODE=pg0 PGHA_NODE_ID=0 PGHA_DELEGATE_IP=172.30.0.100 PGHA_POSTGRES_PEERS=pg0,pg1,pg2
  export PGHA_PRIMARY_WAIT_SECONDS=4
  export PGDATA="$BATS_TEST_TMPDIR/data"
  mkdir -p "$PGDATA"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  POOL_ANSWER=silent PEER_ANSWER="" SLOT_THERE=no
  # Stubs for everything that would reach another node.
  pgha_node_pool_nodes() { [[ "$POOL_ANSWER" != silent ]] && printf '%s\n' "$POOL_ANSWER"; }
  pgha_node_running_primary_peer() { printf '%s' "$PEER_ANSWER"; }
  pgha_node_slot_on() { [[ "$1" == pg1 && "$SLOT_THERE" == yes ]]; }
  # Time passes only in sleep (the wait for a primary is counted in real seconds).
  sleep() { SECONDS=$((SECONDS + ${1%.*})); }
}

# pool ROWS...: pgpool answers SHOW pool_nodes with these "id|host|status|role" rows.
pool() { POOL_ANSWER=$(printf '%s\n' "$@"); }
# data empty | primary | standby-of HOST: what this node's data directory holds.
data() {
  case "$1" in
    empty) ;;
    primary) echo 15 >"$PGDATA/PG_VERSION" ;;
    standby-of)
      echo 15 >"$PGDATA/PG_VERSION"
      touch "$PGDATA/standby.signal"
      echo "primary_conninfo = 'host=$2 port=5432 user=repl application_name=pg0 passfile=/run/pgha/private/pgpass'" >"$PGDATA/postgresql.auto.conf"
      ;;
  esac
}
# decides WORD: the decision printed on stdout is WORD.
decides() {
  local got
  got=$(pgha_node_decide_start 2>"$BATS_TEST_TMPDIR/log")
  [[ "$got" == "$1" ]] || {
    echo "expected $1, got '$got'; log:" >&2
    cat "$BATS_TEST_TMPDIR/log" >&2
    return 1
  }
}
logged() { grep -q -- "$1" "$BATS_TEST_TMPDIR/log"; }

@test "no delegate IP (a standalone node): start" {
  PGHA_DELEGATE_IP=""
  data primary
  decides start
}

@test "pgpool silent, peers silent, empty data directory (first start of a cluster): start" {
  data empty
  decides start
  logged "no other node (pg0,pg1,pg2) runs as primary; going by the data on disk"
}

@test "pgpool silent, peers silent, former primary (whole cluster restart): start" {
  data primary
  decides start
}

@test "pgpool answers nothing at all: treated as silent" {
  POOL_ANSWER=""
  data primary
  decides start
  logged "pgpool does not answer"
}

@test "pgpool silent, a peer runs as primary, empty data directory: rejoin, never initialise" {
  PEER_ANSWER=pg1
  data empty
  decides rejoin
  logged "pgpool does not answer at the delegate IP 172.30.0.100, but pg1 runs as primary"
  logged "this node's data directory is empty; it must be rebuilt"
}

@test "pgpool silent, a peer runs as primary, former primary: rejoin" {
  PEER_ANSWER=pg1
  data primary
  decides rejoin
  logged "data directory is a former primary's"
}

@test "pgpool sees this node as the primary: start" {
  pool "0|pg0|up|primary" "1|pg1|up|standby"
  data primary
  decides start
  logged "pgpool sees this node as the primary"
}

@test "another primary, this node its standby and the slot there: start" {
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  data standby-of pg1
  SLOT_THERE=yes
  decides start
  logged "standby of the primary pg1 and its slot is there"
}

@test "another primary, this node its standby but the slot dropped: rejoin" {
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  data standby-of pg1
  decides rejoin
  logged "replication slot pg0 is gone there"
}

@test "another primary, this node a standby of the dead old primary: rejoin" {
  pool "0|pg0|down|standby" "1|pg1|up|primary" "2|pg2|down|standby"
  data standby-of pg2
  SLOT_THERE=yes
  decides rejoin
  logged "data directory is a standby of pg2"
}

@test "another primary, empty data directory (wiped volume): rejoin" {
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  data empty
  decides rejoin
  logged "data directory is empty"
}

@test "another primary, former primary (returns after a failover): rejoin" {
  pool "0|pg0|down|standby" "1|pg1|up|primary"
  data primary
  decides rejoin
  logged "the primary is pg1 and this node's data directory is a former primary's; it must be rebuilt"
}

@test "a primary that pgpool sees down does not count: with a standby up (failover under way) waits, then starts with the role on disk" {
  pool "0|pg0|down|standby" "1|pg1|down|primary" "2|pg2|up|standby"
  data primary
  decides start
  logged "pgpool knows no healthy primary after 4 s"
  # Seconds counted by the clock: a loaded machine may add one to the stubbed 2 s sleep.
  logged "a failover may be under way); waiting ([23]/4 s)"
}

@test "the old primary restarted during the failover: pgpool lists it down and a standby up, so it waits; the standby promoted, it rejoins" {
  # The first two answers come before the promotion, the third after it.
  answers=("0|pg0|down|primary"$'\n'"1|pg1|up|standby" "0|pg0|down|primary"$'\n'"1|pg1|up|standby" "0|pg0|down|standby"$'\n'"1|pg1|up|primary")
  pgha_node_pool_nodes() { local i; i=$(cat "$BATS_TEST_TMPDIR/asked" 2>/dev/null || echo 0); echo $((i + 1)) >"$BATS_TEST_TMPDIR/asked"; printf '%s\n' "${answers[$i]}"; }
  data primary
  decides rejoin
  logged "a failover may be under way); waiting (0/4 s)"
  logged "the primary is pg1 and this node's data directory is a former primary's; it must be rebuilt"
}

@test "pgpool answers but sees no other backend up (the whole cluster starting): start on the data on disk, no wait" {
  pool "0|pg0|down|primary" "1|pg1|down|standby"
  data primary
  decides start
  logged "pgpool sees no other backend up"
  ! logged "waiting" || false
}

@test "pgpool sees no other backend up, but a peer runs as primary (attached a moment later): rejoin, not a second primary; with strict durability the data decides, as before" {
  pool "0|pg0|down|primary" "1|pg1|down|standby"
  PEER_ANSWER=pg1
  data primary
  decides rejoin
  logged "pgpool sees no other backend up, but pg1 runs as primary"
  PGHA_DURABILITY=strict
  decides start
  logged "going by the data on disk"
}

@test "the first up primary wins when pgpool lists two" {
  pool "0|pg0|down|standby" "1|pg1|up|primary" "2|pg2|up|primary"
  data standby-of pg1
  SLOT_THERE=yes
  decides start
}

@test "pcp_node_info's 'waiting' (up, not yet connected to: a pgpool that just became leader) is up: an old primary returning then rejoins" {
  # The real pgha_node_pool_nodes this time, reading a pcp_node_info stand-in; the rest stays stubbed.
  . "$CONTEXT/pgha-node.sh"
  pgha_node_running_primary_peer() { :; }
  pgha_node_slot_on() { return 1; }
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  printf '#!/usr/bin/env bash\necho "pg0 5432 3 0.500000 down up standby primary 0 none none 2026-11-22 10:22:52"\necho "pg1 5432 1 0.500000 waiting up primary primary 0 none none 2026-11-22 10:22:33"\n' >"$BATS_TEST_TMPDIR/bin/pcp_node_info"
  chmod +x "$BATS_TEST_TMPDIR/bin/pcp_node_info"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  [[ "$(pgha_node_pool_nodes)" == "0|pg0|down|standby"$'\n'"1|pg1|up|primary" ]]
  data primary
  decides rejoin
  logged "the primary is pg1 and this node's data directory is a former primary's; it must be rebuilt"
}

@test "the wait for a primary is counted in seconds, not passes: slow answers from pgpool use it up" {
  pool "0|pg0|down|standby" "1|pg1|down|primary" "2|pg2|up|standby"
  data primary
  # Each answer takes a real second (a starved host): after one 2 s sleep at least 3 s have
  # passed, where counting passes would say 2.
  pgha_node_pool_nodes() { command sleep 1; printf '%s\n' "$POOL_ANSWER"; }
  decides start
  logged "waiting (0/4 s)"
  ! logged "waiting (2/4 s)" || false
  logged "pgpool knows no healthy primary after 4 s"
}

@test "a wait limit that is not a number ends the wait (no verdict is never a reason to loop)" {
  pool "0|pg0|down|standby" "1|pg1|up|standby"
  PGHA_PRIMARY_WAIT_SECONDS=abc
  # A loop that never ends would sleep for ever: the 50th sleep ends the case instead.
  sleep() {
    SLEPT=$((${SLEPT:-0} + 1))
    ((SLEPT < 50)) || exit 99
  }
  run pgha_node_decide_start
  [[ "$status" -ne 99 ]]
  [[ "${lines[-1]}" == start ]]
}
