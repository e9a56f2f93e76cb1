#!/usr/bin/env bats
# pgha_decide_attach (pgha-decide.sh): a standby is attached only while it streams from the
# node pgpool routes writes to and pgpool has it down. attach.bats runs
# pgha_node_attach_verdict, which gathers the inputs.

load decide_helper

@test "the attach verdict, row by row" {
  decide_table pgha_decide_attach <<'TABLE'
# ME HELD ROLE SENDER NODES => VERDICT
# a held node is never attached by this, and nothing is asked
pg2 yes ? ? ? => ok
pg2 no ? ? ? => need role
pg2 no primary ? ? => ok
pg2 no stopped ? ? => ok
pg2 no unknown ? ? => ok
pg2 no standby ? ? => need sender
# not streaming (its walreceiver retrying): pgpool is not asked
pg2 no standby - ? => ok
pg2 no standby pg1 ? => need pool
pg2 no standby pg1 - => ok
# streaming from pgpool's primary while pgpool has it down
pg2 no standby pg1 pg0:down:standby,pg1:up:primary,pg2:down:standby => attach
# right after a failover, still streaming from the dead primary
pg2 no standby pg0 pg0:down:standby,pg1:up:primary,pg2:down:standby => ok
# already up in pgpool's view; no up primary; another node down (matched by host)
pg2 no standby pg1 pg0:down:standby,pg1:up:primary,pg2:up:standby => ok
pg2 no standby pg0 pg0:down:primary,pg1:up:standby,pg2:down:standby => ok
pg2 no standby pg0 pg0:up:primary,pg1:down:standby,pg2:up:standby => ok
TABLE
}
