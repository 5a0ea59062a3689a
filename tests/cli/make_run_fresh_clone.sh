#!/bin/sh
# The README's run path on a fresh clone: clone the repository into a temporary
# directory (so no runs/ exists) and run its `make demo` (what `make run` does once
# the build is done) with the built binary and a few steps. It must exit 0, commit
# a checkpoint and print a sample.
# usage: make_run_fresh_clone.sh SOURCE_DIR PLAIT_BINARY
set -eu
src=$1 plait=$2
tmp=$(mktemp -d /tmp/plait-fresh-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
git clone --quiet "$src" "$tmp/clone"
# The Makefile of the tree under test (a developer's uncommitted edit counts too).
cp "$src/Makefile" "$tmp/clone/Makefile"
cd "$tmp/clone"
test ! -e runs || { echo "FAIL: a fresh clone already has runs/"; exit 1; }
make --no-print-directory demo PLAIT="$plait" STEPS=5 >"$tmp/out" 2>"$tmp/err" || {
  echo "FAIL: make demo exited $?"; cat "$tmp/out" "$tmp/err"; exit 1; }
test -f runs/demo/step-00000005/model.safetensors ||
  { echo "FAIL: no checkpoint runs/demo/step-00000005"; ls -R runs; exit 1; }
test -s runs/demo.jsonl || { echo "FAIL: no metrics log runs/demo.jsonl"; exit 1; }
sample=$(sed -n '/^--- a sample from the trained model:/,$p' "$tmp/out" | grep -a '^The ' || true)
test -n "$sample" || { echo "FAIL: no sample after the training"; cat "$tmp/out"; exit 1; }
echo "ok: make demo on a fresh clone trained 5 steps, committed a checkpoint, sampled"
