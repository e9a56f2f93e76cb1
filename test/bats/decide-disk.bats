#!/usr/bin/env bats
# pgha_decide_disk (pgha-decide.sh): a primary whose volume is below the reserve hands over
# when a streaming standby has all its WAL, else keeps running (full). disk.bats runs
# pgha_node_disk_verdict and the watch's count of checks in a row.

load decide_helper

@test "the disk verdict, row by row" {
  decide_table pgha_decide_disk <<'TABLE'
# FREE RESERVE ROLE CAUGHT_UP => VERDICT
# room enough, or df could not tell: nothing else is asked
500 100 ? ? => ok
100 100 ? ? => ok
- 100 ? ? => ok
40 100 ? ? => need role
# only a primary hands over
40 100 standby ? => ok
40 100 stopped ? => ok
40 100 primary ? => need caught-up
40 100 primary 1 => handover
40 100 primary 2 => handover
# no standby has all its WAL (lagging, none, or no answer): it keeps running
40 100 primary 0 => full
40 100 primary - => full
TABLE
}
