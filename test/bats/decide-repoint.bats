#!/usr/bin/env bats
# pgha_decide_repoint (pgha-decide.sh): a standby that a failover left behind (frozen or cut
# off while follow_primary.sh ran, back without a restart) asks to be rebuilt from pgpool's
# primary once it has been down in pgpool and not streaming from that primary for the grace
# period; a held node, a node pgpool has up, or one streaming from the primary is left alone.
# repoint.bats runs the watch loop's gathering and action.

load decide_helper

@test "the repoint verdict, row by row" {
  decide_table pgha_decide_repoint <<'TABLE'
# ME HELD ROLE SENDER NODES STUCK GRACE => VERDICT
# a held node (a follow or rebuild under way) is left alone, and nothing is asked
pg2 yes ? ? ? 0 30 => ok
pg2 no ? ? ? 0 30 => need role
pg2 no primary ? ? 0 30 => ok
pg2 no stopped ? ? 0 30 => ok
pg2 no standby ? ? 0 30 => need sender
pg2 no standby pg1 ? 0 30 => need pool
# pgpool did not answer: nothing is decided on it
pg2 no standby - - 99 30 => ok
# streaming from pgpool's primary: the attach verdict's case, not this one
pg2 no standby pg0 pg0:up:primary,pg1:up:standby,pg2:down:standby 99 30 => ok
# still following the old primary (a cascade from a rebuilt node, or nothing) while pgpool has it down
pg2 no standby pg1 pg0:up:primary,pg1:up:standby,pg2:down:standby 0 30 => stuck
pg2 no standby - pg0:up:primary,pg1:up:standby,pg2:down:standby 29 30 => stuck
pg2 no standby - pg0:up:primary,pg1:up:standby,pg2:down:standby 30 30 => rebuild pg0
pg2 no standby pg1 pg0:up:primary,pg1:down:standby,pg2:down:standby 45 30 => rebuild pg0
# pgpool has it up, or names no up primary (a failover under way, or none possible)
pg2 no standby pg1 pg0:up:primary,pg1:up:standby,pg2:up:standby 99 30 => ok
pg2 no standby pg1 pg0:down:primary,pg1:up:standby,pg2:down:standby 99 30 => ok
pg2 no standby - pg0:up:standby,pg1:up:standby,pg2:down:standby 99 30 => ok
# a counter or grace that is not a number never rebuilds
pg2 no standby - pg0:up:primary,pg1:up:standby,pg2:down:standby x 30 => stuck
pg2 no standby - pg0:up:primary,pg1:up:standby,pg2:down:standby 99 - => stuck
TABLE
}
