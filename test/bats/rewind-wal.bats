#!/usr/bin/env bats
# After pg_rewind, the rewound node replays from the redo point of the last common checkpoint
# (backup_label). When that WAL is gone on the node and on the source, the node could never
# stream: pgha_node_rewind_or_clone clones instead of leaving it waiting forever.

setup() {
  CONTEXT="$BATS_TEST_DIRNAME/../../images/postgres/bookworm"
  export PGHA_LIB="$CONTEXT/pgha-lib.sh" PGHA_NODE=pg0
  export PGDATA="$BATS_TEST_TMPDIR/data" CALLS="$BATS_TEST_TMPDIR/calls" SOURCE_HAS=0
  mkdir -p "$PGDATA/pg_wal" "$BATS_TEST_TMPDIR/bin"
  echo 15 >"$PGDATA/PG_VERSION"
  # shellcheck source=/dev/null
  . "$CONTEXT/pgha-node.sh"
  SEGMENT=000000010000000000000019
  # psql runs under timeout (a program): stubbed on PATH. It answers the checkpoint and the
  # source's pg_wal listing (SOURCE_HAS: 1 when the source still has the segment).
  cat >"$BATS_TEST_TMPDIR/bin/psql" <<'STUB'
#!/usr/bin/env bash
echo "psql $*" >>"$CALLS"
[[ "$*" == *"-c CHECKPOINT"* ]] && exit 0
cat >/dev/null
echo "$SOURCE_HAS"
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/psql"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  pg_rewind() {
    echo pg_rewind >>"$CALLS"
    printf 'START WAL LOCATION: 0/191ACE18 (file %s)\nCHECKPOINT LOCATION: 0/24B12938\n' "$SEGMENT" >"$PGDATA/backup_label"
  }
  pgha_node_basebackup() { echo basebackup >>"$CALLS"; }
}

@test "the start segment still in the node's own pg_wal: rewound, no clone, the source not asked" {
  touch "$PGDATA/pg_wal/$SEGMENT"
  run pgha_node_rewind_or_clone follow pg1 5432
  [[ "$status" -eq 0 && "$output" == *"action=follow: rewound onto pg1:5432"* ]]
  ! grep -q basebackup "$CALLS" || false
  ! grep -q "pg_ls_dir" "$CALLS" || false
}

@test "the start segment gone here but still on the source: rewound, no clone" {
  SOURCE_HAS=1 run pgha_node_rewind_or_clone follow pg1 5432
  [[ "$status" -eq 0 && "$output" == *"action=follow: rewound onto pg1:5432"* ]]
  ! grep -q basebackup "$CALLS" || false
}

@test "the start segment gone here and on the source: the rewound node could never stream, so it is cloned, and the line says why" {
  run pgha_node_rewind_or_clone rebuild pg1 5432
  [[ "$status" -eq 0 ]]
  [[ "$output" == *"action=rebuild: rewound, but the WAL it must replay from ($SEGMENT) is neither here nor on pg1 any more (a long checkpoint under heavy writes): it could never stream; cloning instead"* ]]
  [[ "$(tail -n 1 "$CALLS")" == basebackup ]]
}

@test "the source cannot be asked: cloned rather than trusted" {
  cat >"$BATS_TEST_TMPDIR/bin/psql" <<'STUB'
#!/usr/bin/env bash
[[ "$*" == *"-c CHECKPOINT"* ]] && exit 0
exit 2
STUB
  run pgha_node_rewind_or_clone rebuild pg1 5432
  [[ "$status" -eq 0 && "$(tail -n 1 "$CALLS")" == basebackup ]]
}

@test "no backup_label (pg_rewind found nothing to rewind): nothing to check" {
  pg_rewind() { echo pg_rewind >>"$CALLS"; }
  run pgha_node_rewind_or_clone follow pg1 5432
  [[ "$status" -eq 0 && "$output" == *"rewound onto pg1:5432"* ]]
  ! grep -q basebackup "$CALLS" || false
}
