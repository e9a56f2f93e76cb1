#!/usr/bin/env bats
# pgha_decide_isolation (pgha-decide.sh): a primary that reaches no pgpool node and no other
# postgres node for PGHA_ISOLATION_FENCE_SECONDS fences itself, once a peer has answered since
# its start. isolation.bats runs pgha_node_isolation_check, which gathers the inputs.

load decide_helper

@test "the isolation verdict, row by row" {
  decide_table pgha_decide_isolation <<'TABLE'
# ROLE REACHED ARMED ALONE BOUND => VERDICT
# off: nothing is asked
? ? no 0 0 => ok
? ? no 0 15 => need role
# only a primary is ever fenced; its peers are not asked otherwise
standby ? yes 40 15 => ok
held ? yes 40 15 => ok
stopped ? yes 40 15 => ok
primary ? yes 0 15 => need peers
# a peer answered: nothing to do
primary yes yes 40 15 => ok
# nobody answered yet since the start (a whole-cluster start): never fenced
primary no no 0 15 => ok
primary no no 400 15 => ok
# armed, alone: waits for the bound, then fences
primary no yes 0 15 => alone
primary no yes 14 15 => alone
primary no yes 15 15 => fence
primary no yes 90 15 => fence
TABLE
}
