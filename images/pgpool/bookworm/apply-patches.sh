#!/usr/bin/env bash
# source: shell/lib/apply-patches.sh of pgha, copied verbatim into every build context that
# compiles pgpool by `npm run generate`; edit the source, not the copy.
#
# Applies the pgpool patch set listed in patches/series to an unpacked source tree, and
# proves each one took: a patch that applied nothing (or half) fails the build.
# Usage: apply-patches.sh SOURCE_DIR PATCH_DIR [SKIP_NAMES]
# SKIP_NAMES (comma-separated) exists for the smoke test that builds an unpatched
# control image; release builds never set it.
set -euo pipefail

src=$1
patch_dir=$2
skip=",${3:-},"

applied=0
while IFS=$'\t' read -r name file target marker; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  if [[ "$skip" == *",$name,"* ]]; then
    echo "pgha-patches: SKIPPING $name (requested by build argument)" >&2
    continue
  fi
  echo "pgha-patches: applying $name ($file)" >&2
  patch -d "$src" -p1 --forward --batch < "$patch_dir/$file"
  if ! grep -qF -- "$marker" "$src/$target"; then
    echo "pgha-patches: $name applied but its change is missing from $target" >&2
    exit 1
  fi
  applied=$((applied + 1))
done < "$patch_dir/series"
echo "pgha-patches: $applied patch(es) applied and verified" >&2
