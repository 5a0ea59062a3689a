#!/bin/sh
# Growing back under plait launch (docs/FAULT_TOLERANCE.md, "Growing back"): 3 ranks,
# rank 2 killed at step 6 and its node gone for the next two starts
# (PLAIT_TEST_FAIL_AT_START=2@1 with PLAIT_TEST_FAIL_AT_START_RUNS=2): the job shrinks to
# mpirun -np 2 from step 4, stops at the step-8 boundary and tries -np 3 (fails: back to
# 2 until step 16), then grows back to 3 ranks at step 16 and ends within 1e-5 of the
# uninterrupted 3-worker run; supervisor.json and the metrics log say what changed.
# usage: mpi_launch_grow.sh MPIRUN PLAIT CORPUS WEIGHTS_DIFF_PY
set -eu
mpirun=$1 plait=$2 corpus=$3 diff=$4
d=$(mktemp -d /tmp/plait-grow-XXXXXX)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 1 --dim 32 --heads 4 --ctx 16 --batch 6 --steps 20
      --eval-every 0 --checkpoint-every 4 --no-progress"
fail() { echo "FAIL: $1"; cat "$d/err"; exit 1; }
"$plait" $args --workers 3 --checkpoint-dir "$d/ref" 2>"$d/err" || fail "reference run"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
PLAIT_TEST_KILL=2:6 PLAIT_TEST_FAIL_AT_START=2@1 PLAIT_TEST_FAIL_AT_START_RUNS=2 \
  "$plait" launch --np 3 --mpirun "$mpirun" --max-restarts 3 --min-workers 2 -- \
  $args --checkpoint-dir "$d/mpi" --log "$d/log" 2>"$d/err" || fail "the job did not finish"
grep -q "elastic shrink from 3 to 2 workers" "$d/err" || fail "no shrink"
grep -q "stopped at step-00000008, a checkpoint boundary; growing back to 3 workers" "$d/err" ||
  fail "no try at step 8"
grep -q "growing back to 3 workers failed (rank 2 failed at the start of step 8" "$d/err" ||
  fail "the try at step 8 did not fail"
grep -q "stopped at step-00000016, a checkpoint boundary; growing back to 3 workers" "$d/err" ||
  fail "no try at step 16"
python3 - "$d/mpi/supervisor.json" <<'PY' || fail "supervisor.json"
import json, sys
j = json.load(open(sys.argv[1]))
starts = [e["workers"] for e in j["events"] if e["event"] == "start"]
assert starts == [3, 3, 2, 3, 2, 3], starts
assert j["workers"] == 3 and j["restarts"] == 2, j
PY
[ "$(grep -c '"event":"grow"' "$d/log")" = 2 ] || fail "two grow events in the log"
python3 "$diff" "$d/mpi/step-00000020" "$d/ref/step-00000020" --max 1e-5 || fail "weights"
echo "ok: plait launch shrank to 2 ranks, failed one try, grew back to 3, within 1e-5"
