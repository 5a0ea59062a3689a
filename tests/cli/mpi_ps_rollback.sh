#!/bin/sh
# --on-nonfinite rollback with parameter servers under MPI: 2 workers + 2 servers
# (mpirun -np 4), a NaN put into a gradient at step 4 (PLAIT_TEST_NAN_AT): every rank
# rolls back to the step-2 checkpoint (worker 0 sends the servers their shards of it),
# the data order is shifted, and the step-6 checkpoint equals the threads backend's
# 2-worker data-parallel rollback run (within 1e-5; measured: bit for bit).
# usage: mpi_ps_rollback.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
here=$(dirname "$0")
d=$(mktemp -d /tmp/plait-ps-rollback-XXXXXX)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 2 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 6
      --eval-every 0 --checkpoint-every 2 --keep-checkpoints 20 --no-progress
      --on-nonfinite rollback"
export PLAIT_TEST_NAN_AT=3:transformer.h.0.attn.c_attn.weight
"$plait" $args --workers 2 --checkpoint-dir "$d/dp"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
"$mpirun" -np 4 -x PLAIT_TEST_NAN_AT "$plait" $args --backend mpi --servers 2 \
  --checkpoint-dir "$d/ps" 2>"$d/err" || { cat "$d/err"; exit 1; }
grep -q "step 4 is not finite.*rolled back to step 2" "$d/err" || { echo "FAIL: no rollback"; cat "$d/err"; exit 1; }
grep -q '"data_shift": *2' "$d/ps/step-00000006/manifest.json" ||
  { echo "FAIL: data_shift"; cat "$d/ps/step-00000006/manifest.json"; exit 1; }
python3 "$here/../../tools/weights_diff.py" "$d/dp/step-00000006" "$d/ps/step-00000006" --max 1e-5
# without the rollback the result differs: the comparison above can fail
unset PLAIT_TEST_NAN_AT
"$plait" $args --workers 2 --checkpoint-dir "$d/plain"
if python3 "$here/../../tools/weights_diff.py" "$d/plain/step-00000006" "$d/ps/step-00000006" --max 1e-4 >/dev/null; then
  echo "FAIL: the run without a rollback is as close"; exit 1
fi
echo "ok: the MPI parameter-server rollback matched the threads data-parallel rollback"
