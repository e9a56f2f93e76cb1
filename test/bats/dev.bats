#!/usr/bin/env bats
# ./dev: the newcomer's two commands. What it decides: which packages are missing, whether to ask
# before installing an engine, whether npm dependencies need installing, which command runs.

setup() {
  # shellcheck source=/dev/null
  . "$BATS_TEST_DIRNAME/../../dev"
  set +e
  unset CI DEV_YES
}

@test "missing packages: only those whose command is absent, a pair may name two packages" {
  # Each row: COMMAND=PACKAGE pairs separated by ';', then '>' and the expected packages.
  local -a rows=(
    "bash=bash>"
    "no-such-cmd-pgha=pkg-a>pkg-a"
    "bash=bash;no-such-cmd-pgha=pkg-b>pkg-b"
    "no-such-cc-pgha=gcc libc6-dev;bash=bash>gcc libc6-dev"
  )
  local row expected got
  local -a pairs
  for row in "${rows[@]}"; do
    IFS=';' read -r -a pairs <<<"${row%%>*}"
    expected=${row#*>}
    got=$(dev_missing_packages "${pairs[@]}" | paste -sd ' ')
    [[ "$got" == "$expected" ]] || { echo "row '$row': got '$got'"; false; }
  done
}

@test "confirm: never asks without a terminal, under CI or with --yes (and then says yes)" {
  # bats runs without a terminal on stdin: no question, the answer is yes.
  dev_confirm "install?" </dev/null
  CI=true dev_confirm "install?" </dev/null
  DEV_YES=1 dev_confirm "install?" </dev/null
  ! dev_interactive </dev/null || false
}

@test "npm dependencies: installed when node_modules is missing or older than the lock file" {
  cd "$BATS_TEST_TMPDIR"
  npm() { echo "npm $*"; }
  touch package-lock.json
  run dev_npm_deps
  [[ "$output" == "npm ci --no-audit --no-fund" ]]
  mkdir node_modules
  touch -d '2 hours ago' package-lock.json
  touch node_modules/.package-lock.json
  run dev_npm_deps
  [[ "$output" == "node_modules is current" ]]
  run dev_npm_deps always
  [[ "$output" == "npm ci --no-audit --no-fund" ]]
  touch package-lock.json
  run dev_npm_deps
  [[ "$output" == "npm ci --no-audit --no-fund" ]]
}

@test "an unknown command is one line naming it, the usage, exit 2" {
  run bash "$BATS_TEST_DIRNAME/../../dev" frobnicate
  [[ "$status" -eq 2 ]]
  [[ "${lines[0]}" == "dev: unknown command 'frobnicate': expected up, test, down or stop-engine" ]]
  [[ "${lines[1]}" == "The two commands a newcomer runs"* ]]
}

@test "a step that needs root names the command to run with sudo" {
  id() { echo 1000; }
  DEV_COMMAND=up
  run dev_require_root "starting a Docker engine"
  [[ "$status" -eq 1 ]]
  [[ "$output" == "dev: starting a Docker engine needs root: run 'sudo ./dev up' (or as root)" ]]
}

@test "phases print their name and, when the next opens, how long they took" {
  DEV_PHASE=
  DEV_PHASE_START=$(date +%s)
  run bash -c ". '$BATS_TEST_DIRNAME/../../dev'; dev_phase one; dev_phase two; dev_phase done"
  [[ "${lines[0]}" == "::phase one" ]]
  [[ "${lines[1]}" =~ ^::phase\ one\ took\ [0-9]+s$ ]]
  [[ "${lines[2]}" == "::phase two" ]]
  [[ "${lines[3]}" =~ ^::phase\ two\ took\ [0-9]+s$ ]]
  [[ "${#lines[@]}" -eq 4 ]]
}
