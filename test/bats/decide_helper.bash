# Loaded by the decide-*.bats files: the pure decisions of pgha-decide.sh, sourced alone (no
# library, no environment), checked against tables of inputs and verdicts.

# shellcheck source=/dev/null
. "$BATS_TEST_DIRNAME/../../images/postgres/bookworm/pgha-decide.sh"

# pool_view SPEC: pgpool's view of the backends from "host:status:role,..." (ids in order), as
# pgha_node_pool_nodes prints it: one "id|host|status|role" line each.
pool_view() {
  local entry id=0 host status role
  local -a entries
  IFS=, read -r -a entries <<<"$1"
  for entry in "${entries[@]}"; do
    IFS=: read -r host status role <<<"$entry"
    printf '%s|%s|%s|%s\n' "$id" "$host" "$status" "$role"
    id=$((id + 1))
  done
}

# decide_table FUNCTION: rows "ARG... => VERDICT" on stdin (blank lines and # comments
# skipped); FUNCTION is called with each row's ARGs and must print its VERDICT. In an ARG, "-"
# is the empty string and anything with a ':' is a pgpool view (pool_view). Every row that
# does not match is listed; the table fails if there is one, or if it has no row.
decide_table() {
  local fn=$1 line args want got arg rows=0 failed=0
  local -a tokens argv
  while IFS= read -r line; do
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    args=${line%%=>*}
    want=${line#*=>}
    want=${want#"${want%%[![:space:]]*}"}
    read -r -a tokens <<<"$args"
    argv=()
    for arg in "${tokens[@]}"; do
      if [[ "$arg" == - ]]; then
        arg=''
      elif [[ "$arg" == *:* ]]; then
        arg=$(pool_view "$arg")
      fi
      argv+=("$arg")
    done
    got=$("$fn" "${argv[@]}")
    rows=$((rows + 1))
    if [[ "$got" != "$want" ]]; then
      echo "$fn ${tokens[*]}: expected '$want', got '$got'" >&2
      failed=$((failed + 1))
    fi
  done
  echo "$rows rows, $failed not as expected" >&2
  ((rows > 0 && failed == 0))
}
