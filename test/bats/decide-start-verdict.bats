#!/usr/bin/env bats
# pgha_decide_start (pgha-decide.sh): whether a node that may have been away starts on its own
# data or is rebuilt from the primary, from the primary known, what its data directory holds
# and its slot there. decide-start.bats runs the whole decision with the inputs gathered.

load decide_helper

@test "the start or rejoin verdict, row by row" {
  decide_table pgha_decide_start <<'TABLE'
# ME PRIMARY HAS_DATA UPSTREAM SLOT => VERDICT
# no primary known (no pgpool, nobody answers, the cluster starting): the data on disk decides
pg0 - no - ? => start none
pg0 - yes - ? => start none
pg0 - yes pg1 ? => start none
# this node is the primary
pg0 pg0 yes - ? => start self
# the primary's standby: its slot decides, and is asked only then
pg0 pg1 yes pg1 ? => need slot
pg0 pg1 yes pg1 present => start standby
pg0 pg1 yes pg1 gone => rejoin slot-gone
# a standby of another node, a former primary, an empty or half-made directory
pg0 pg1 yes pg2 ? => rejoin other
pg0 pg1 yes pg2 present => rejoin other
pg0 pg1 yes - ? => rejoin other
pg0 pg1 no - ? => rejoin other
pg0 pg1 no pg1 present => rejoin other
TABLE
}
