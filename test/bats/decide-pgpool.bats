#!/usr/bin/env bats
# The pgpool side's pure decisions (pgha-decide.sh), row by row: input -> verdict. Sourced
# from the pgpool image's generated context; nothing is stubbed, since they read nothing.
# Every row that disagrees is printed, and the test fails if any does.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/pgpool/bookworm"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-lib.sh"
  FAILED=0
}

# expect ROW GOT EXPECTED: one row's verdict, remembered when it is not the expected one.
expect() {
  [[ "$2" == "$3" ]] && return 0
  echo "row '$1': expected '$3', got '$2'"
  FAILED=1
}

@test "the standby to promote: the most advanced, pgpool's candidate on a tie; strict refuses while one is silent" {
  local row candidate durability backends rest reports
  # CANDIDATE DURABILITY BACKENDS REPORTS... -> VERDICT ('-': no report at all)
  while read -r candidate durability backends rest; do
    [[ -z "$candidate" || "$candidate" == '#'* ]] && continue
    row="$candidate $durability $backends $rest"
    read -ra reports <<<"${rest%% -> *}"
    [[ "${reports[*]}" == - ]] && reports=()
    expect "$row" "$(pgha_decide_promotion "$candidate" "$durability" "$backends" "${reports[@]}")" "${rest#* -> }"
  done <<'ROWS'
# Two backends, available: the candidate is the only standby left, nobody is asked.
pg1 available 2 ?                             -> promote pg1
pg1 available 2 pg1=0/1 pg2=0/9               -> promote pg1
# Three or more, or strict: ask first.
pg1 available 3 ?                             -> need reports
pg1 strict    2 ?                             -> need reports
# The most advanced wins; positions compare as numbers (a higher segment beats a higher offset).
pg1 available 3 pg1=0/5000000 pg2=0/6000000   -> promote pg2
pg1 available 3 pg1=0/FFFFFFFF pg2=1/0        -> promote pg2
pg1 available 3 pg1=1/0 pg2=0/FFFFFFFF        -> promote pg1
# A tie keeps pgpool's candidate, in whatever order the reports come.
pg1 available 3 pg2=0/6000000 pg1=0/6000000   -> promote pg1
pg1 available 3 pg1=0/6000000 pg2=0/6000000   -> promote pg1
# A standby that did not answer (or answered something else) is no candidate...
pg1 available 3 pg1= pg2=0/6000000            -> promote pg2
pg1 available 3 pg1=0/7000000 pg2=garbage     -> promote pg1
pg1 available 4 pg1= pg2= pg3=                -> promote pg1
# ...and with durability strict nothing is promoted while one is silent (it may hold commits).
pg1 strict    3 pg1=0/7000000 pg2=            -> refuse pg2
pg1 strict    4 pg1= pg2=0/1 pg3=x            -> refuse pg1 pg3
pg1 strict    2 pg1=0/3000000                 -> promote pg1
pg1 strict    2 pg1=                          -> refuse pg1
# No other backend to ask: the candidate.
pg1 strict    1 -                             -> promote pg1
ROWS
  ((FAILED == 0))
}

@test "the pool's primary: the first backend pcp reports up as primary, else nothing" {
  local nodes expected
  # NODES ("id|host|status|role" lines, with "," between them) PRIMARY ('-': none)
  while read -r nodes expected; do
    [[ -z "$nodes" || "$nodes" == '#'* ]] && continue
    nodes=${nodes//,/$'\n'}
    [[ "$nodes" == - ]] && nodes=
    [[ "$expected" == - ]] && expected=
    expect "$nodes" "$(_pgha_decide_pool_primary "$nodes")" "$expected"
  done <<'ROWS'
0|pg0|up|primary,1|pg1|up|standby                  pg0
0|pg0|down|primary,1|pg1|up|primary                pg1
0|pg0|down|primary,1|pg1|up|standby                -
0|pg0|up|standby,1|pg1|up|standby,2|pg2|up|primary pg2
0|pg0|up|primary,1|pg1|up|primary                  pg0
# pgpool did not answer.
-                                                  -
ROWS
  ((FAILED == 0))
}
