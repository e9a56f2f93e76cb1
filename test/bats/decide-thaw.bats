#!/usr/bin/env bats
# pgha_decide_thaw (pgha-decide.sh): a primary that stood still for PGHA_THAW_CHECK_SECONDS
# (frozen) keeps postgres stopped while pgpool is asked who the primary is. thaw.bats runs
# pgha_node_thaw_check, which acts on the verdict.

load decide_helper

@test "the thaw verdict, row by row" {
  decide_table pgha_decide_thaw <<'TABLE'
# ROLE STILL_MS BOUND => VERDICT
# off: never holds, however long the freeze
primary 600000 0 => ok
# only a primary takes commits another node may also take
standby 60000 3 => ok
stopped 60000 3 => ok
# a primary: a short stall is scheduling, not a freeze pgpool can have acted on
primary 0 3 => ok
primary 2999 3 => ok
primary 3000 3 => hold
primary 41000 3 => hold
TABLE
}
