#!/usr/bin/env bats
# pgha_decide_fence (pgha-decide.sh): a primary that pgpool no longer routes to, confirmed by
# the node pgpool names, is fenced; anything less is no evidence. fence.bats runs
# pgha_node_fence_verdict, which gathers the inputs.

load decide_helper

@test "the fence verdict, row by row" {
  decide_table pgha_decide_fence <<'TABLE'
# ME ROLE NODES PEER_ROLE => VERDICT
pg0 ? ? ? => need role
# only a primary is ever fenced; pgpool is not asked otherwise
pg0 standby ? ? => ok
pg0 stopped ? ? => ok
pg0 unknown ? ? => ok
pg0 primary ? ? => need pool
# pgpool silent, routing to this node, or with no up primary (a failover under way)
pg0 primary - ? => ok
pg0 primary pg0:up:primary,pg1:up:standby ? => ok
pg0 primary pg0:down:primary,pg1:up:standby ? => ok
# pgpool routes to another node: fenced only once that node says itself it is a primary
pg0 primary pg0:down:standby,pg1:up:primary ? => need peer pg1
pg0 primary pg0:down:standby,pg1:up:primary primary => fence pg1
pg0 primary pg0:down:standby,pg1:up:primary standby => ok
pg0 primary pg0:down:standby,pg1:up:primary unknown => ok
pg0 primary pg0:down:standby,pg1:up:primary,pg2:up:primary primary => fence pg1
TABLE
}
