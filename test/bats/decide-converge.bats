#!/usr/bin/env bats
# pgha_decide_converge (pgha-decide.sh): a node running as a primary while pgpool answers with
# no primary and has it down (a second fault landed while the first was being repaired)
# attaches itself only when it holds the newest data of every node that answered; it yields to
# a newer primary, refuses when a non-primary holds newer data, and with durability strict
# waits for nodes that did not answer. converge.bats runs the watch loop's gathering.

load decide_helper

setup() {
  # The WAL positions are compared with the library's pgha_lsn_value.
  # shellcheck source=/dev/null
  . "$BATS_TEST_DIRNAME/../../images/postgres/bookworm/pgha-lib.sh"
}

# converge ME DURABILITY ROLE NODES MINE PEERS...: the table's spelling of the inputs: MINE with
# '_' for its blanks, each peer report with ';' for its ':' (a ':' makes a pgpool view).
converge() {
  local me=$1 durability=$2 role=$3 nodes=$4 mine=${5//_/ } peer
  local -a peers=()
  shift 5
  for peer in "$@"; do peers+=("${peer//;/:}"); done
  pgha_decide_converge "$me" "$durability" "$role" "$nodes" "$mine" "${peers[@]}"
}

@test "the convergence verdict, row by row" {
  decide_table converge <<'TABLE'
# ME DURABILITY ROLE NODES MINE PEERS... => VERDICT
pg1 strict ? ? ? ? => need role
# only a node that runs as a primary acts; pgpool is not asked otherwise
pg1 strict standby ? ? ? => ok
pg1 strict stopped ? ? ? => ok
pg1 strict primary ? ? ? => need pool
# pgpool silent (no evidence), or with a primary (fencing's business), or with this node up
pg1 strict primary - ? ? => ok
pg1 strict primary pg0:up:primary,pg1:down:standby ? ? => ok
pg1 strict primary pg0:down:standby,pg1:up:standby ? ? => ok
# pgpool has no primary and this node down: its own state, then the peers'
pg1 strict primary pg0:down:standby,pg1:down:standby ? ? => need mine
pg1 strict primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 ? => need peers
# the issue's wedge: the old primary held for a rebuild (timeline 1), this one promoted (2)
pg1 strict primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 pg0=held;1;0/3000028 => attach
pg1 available primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 pg0=held;1;0/3000028 => attach
# a standby on the same timeline, behind or level: attach; ahead (impossible unless this
# primary is stale): refuse
pg0 strict primary pg0:down:standby,pg1:down:standby,pg2:up:standby primary_2_0/5000060 pg1=held;1;0/3000028 pg2=standby;2;0/5000060 => attach
pg0 strict primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 pg1=standby;2;0/5000100 => refuse pg1
# a held or stopped node on a newer timeline: this node is the stale one
pg0 strict primary pg0:down:standby,pg1:down:standby primary_1_0/9000000 pg1=held;2;0/3000028 => refuse pg1
pg0 available primary pg0:down:standby,pg1:down:standby primary_1_0/9000000 pg1=stopped;2;0/3000028 => refuse pg1
# two primaries (both started on their own data): the newer timeline wins, whatever the LSN
pg0 available primary pg0:down:standby,pg1:down:standby primary_1_0/9000000 pg1=primary;2;0/3000028 => yield pg1
pg1 available primary pg0:down:standby,pg1:down:standby primary_2_0/3000028 pg0=primary;1;0/9000000 => attach
# the same timeline: the further LSN; the same LSN too: the name that sorts first
pg0 strict primary pg0:down:standby,pg1:down:standby primary_2_0/5000000 pg1=primary;2;0/5000060 => yield pg1
pg1 strict primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 pg0=primary;2;0/5000060 => yield pg0
pg0 strict primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 pg1=primary;2;0/5000060 => attach
# a node that did not answer: strict waits for it, available goes on without it
pg1 strict primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 pg0=silent => wait pg0
pg1 available primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 pg0=silent => attach
pg0 strict primary pg0:down:standby,pg1:down:standby,pg2:down:standby primary_2_0/5000060 pg1=silent pg2=held;1;0/1 => wait pg1
# a newer primary is yielded to even while another node is silent
pg0 strict primary pg0:down:standby,pg1:down:standby,pg2:down:standby primary_1_0/5000060 pg1=silent pg2=primary;2;0/1 => yield pg2
# a report that is not one counts as silent
pg1 strict primary pg0:down:standby,pg1:down:standby primary_2_0/5000060 pg0=held;x;0/1 => wait pg0
TABLE
}
