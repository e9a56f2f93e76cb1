#!/usr/bin/env bats
# pgha_decide_empty_volume (pgha-decide.sh): a node with an empty data directory and no primary
# known. Only the cluster's first primary runs initdb, and only when no other node of the
# cluster answers; empty-volume.bats runs pgha_postgres_init_empty, which gathers the input.

load decide_helper

@test "the empty-volume verdict, row by row" {
  decide_table pgha_decide_empty_volume <<'TABLE'
# ROLE PEER => VERDICT
# a standby clones the primary; no peer is asked
standby ? => clone
standby - => clone
# the first primary asks the others first
primary ? => need peer
# nobody answers: the cluster's first start (the standbys wait for it), or every node is down
primary - => initdb
# one answers: the cluster exists; a new database would replace its data
primary pg1 => hold pg1
primary pg2 => hold pg2
TABLE
}
