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

@test "what the guard does with the primary it holds, row by row" {
  decide_table pgha_decide_thaw_fence <<'TABLE'
# ME NODES PEER => VERDICT
pg0 ? ? => need pool
# pgpool silent (cut off, or the whole cluster starting): no evidence, postgres goes on
pg0 - ? => go
# pgpool routes writes here: the freeze was waited out
pg0 pg0:up:primary,pg1:up:standby ? => go
# another primary named: asked whether it is one, fenced only when it says so
pg0 pg0:down:standby,pg1:up:primary ? => need peer pg1
pg0 pg0:down:standby,pg1:up:primary primary => fence pg1
# named but not promoted yet (pgpool's view ahead of the promotion): held, asked again
pg0 pg0:down:standby,pg1:up:primary standby => wait
# this node down and no primary yet: a failover under way, held, asked again
pg0 pg0:down:primary,pg1:up:standby ? => wait
# this node up and no primary (pgpool has not found one): nothing says another took over
pg0 pg0:up:standby,pg1:up:standby ? => go
TABLE
}
