#!/bin/sh
# plait launch: the supervisor starts mpirun; rank 1 kills itself (kill -9, the
# PLAIT_TEST_KILL hook) at step 5, mpirun ends the job, the supervisor restarts it
# with --resume auto from step-00000004, and the final weights equal the threads run
# of the same layout (--workers 2) byte for byte.
# usage: mpi_launch_restart.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d /tmp/plait-launch-XXXXXX)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 1 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 8
      --eval-every 0 --checkpoint-every 2 --no-progress"
"$plait" $args --workers 2 --checkpoint-dir "$d/threads"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
PLAIT_TEST_KILL=1:5 "$plait" launch --np 2 --mpirun "$mpirun" --max-restarts 2 -- \
  $args --checkpoint-dir "$d/mpi" 2>"$d/err" || { cat "$d/err"; exit 1; }
grep -q "restart 1 of 2 from step-00000004" "$d/err" || { echo "FAIL: no restart"; cat "$d/err"; exit 1; }
for f in model optimizer; do
  cmp "$d/mpi/step-00000008/$f-rank00000.safetensors" "$d/threads/step-00000008/$f-rank00000.safetensors" 2>/dev/null ||
    cmp "$d/mpi/step-00000008/$f.safetensors" "$d/threads/step-00000008/$f.safetensors"
done
"$plait" status --json "$d/mpi" | grep -q '"restarts":1' || { echo "FAIL: status"; exit 1; }
echo "ok: plait launch restarted the killed MPI job and matched the threads run"
