#!/usr/bin/env bats
# pgha_decide_isolation (pgha-decide.sh): a primary that reaches neither the pgpool nodes' side
# nor another postgres node for PGHA_ISOLATION_FENCE_SECONDS fences itself, once a peer has
# answered since its start; pgha_decide_step_down: failover.sh promotes only once the old
# primary stopped on its request, or its lease and the guard's lateness have passed.
# isolation.bats and failover.bats run the code that gathers the inputs.

load decide_helper

@test "the isolation verdict, row by row" {
  decide_table pgha_decide_isolation <<'TABLE'
# ROLE REACHED ARMED ALONE_MS BOUND => VERDICT
# off: nothing is asked
? ? no 0 0 => ok
? ? no 0 3 => need role
# only a primary is ever fenced; its peers are not asked otherwise
standby ? yes 40000 3 => ok
stopped ? yes 40000 3 => ok
primary ? yes 0 3 => need peers
# a peer answered: nothing to do
primary yes yes 40000 3 => ok
# nobody answered yet since the start (a whole-cluster start): never fenced
primary no no 0 3 => ok
primary no no 400000 3 => ok
# armed, alone: waits for the bound, then fences
primary no yes 0 3 => alone
primary no yes 2999 3 => alone
primary no yes 3000 3 => fence
primary no yes 90000 3 => fence
primary no yes 14999 15 => alone
TABLE
}

@test "the step-down verdict (failover.sh, the primary failed), row by row" {
  decide_table pgha_decide_step_down <<'TABLE'
# STEPPED ELAPSED_MS BOUND => VERDICT
# the old primary answered and stopped: at once
yes 0 3 => promote
yes 100 3 => promote
# not (yet): the lease (3 s) and the guard's lateness (3 s) from the moment it was asked
no 0 3 => wait
no 5999 3 => wait
no 6000 3 => promote lease
no 60000 3 => promote lease
no 17999 15 => wait
no 18000 15 => promote lease
# no lease (PGHA_ISOLATION_FENCE_SECONDS=0): nothing to wait for
no 0 0 => promote
TABLE
}
