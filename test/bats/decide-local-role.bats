#!/usr/bin/env bats
# pgha_decide_local_role (pgha-decide.sh): what this node's postgres is, from whether it runs
# and its answer to pg_is_in_recovery() (pgha_node_local_role asks; this decides).

load decide_helper

@test "the local role, row by row" {
  decide_table pgha_decide_local_role <<'TABLE'
# RUNNING IN_RECOVERY => ROLE
yes f => primary
yes t => standby
# running but no answer (starting, out of connections), or an answer that is neither
yes - => unknown
yes error => unknown
# not running: its answer, if any, is not asked
no - => stopped
no f => stopped
no t => stopped
TABLE
}
