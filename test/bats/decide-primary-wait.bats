#!/usr/bin/env bats
# pgha_decide_primary_wait (pgha-decide.sh): one look at pgpool's view while a starting node
# waits for the primary: silent, primary HOST, alone, timeout or wait. pgha_node_decide_start
# loops on it (decide-start.bats runs that loop).

load decide_helper

@test "the wait for pgpool's primary, row by row" {
  decide_table pgha_decide_primary_wait <<'TABLE'
# ME NODES WAITED LIMIT => STEP
# pgpool did not answer (or answered nothing): the peers are asked instead
pg0 - 0 60 => silent
# an up primary, this node or another; the first one when pgpool lists two
pg0 pg0:down:standby,pg1:up:primary 0 60 => primary pg1
pg0 pg0:up:primary,pg1:up:standby 0 60 => primary pg0
pg0 pg0:down:standby,pg1:up:primary,pg2:up:primary 0 60 => primary pg1
# a primary pgpool has down does not count
pg0 pg0:down:standby,pg1:down:primary,pg2:up:standby 0 4 => wait
# no other backend up: the whole cluster is starting; no wait, even when this node is up
pg0 pg0:down:primary,pg1:down:standby 0 60 => alone
pg0 pg0:up:standby,pg1:down:primary 0 60 => alone
# another backend up and no primary: a failover may be under way, waited for up to LIMIT
pg0 pg0:down:primary,pg1:up:standby 0 4 => wait
pg0 pg0:down:primary,pg1:up:standby 2 4 => wait
pg0 pg0:down:primary,pg1:up:standby 4 4 => timeout
pg0 pg0:down:primary,pg1:up:standby 6 4 => timeout
TABLE
}
