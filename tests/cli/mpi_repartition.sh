#!/bin/sh
# Repartitioning under MPI (docs/BALANCE.md, "Repartitioning during a run"): plait
# launch starts `mpirun -np 2 plait train --pp 2 --stages 2,2 --repartition-threshold`;
# the PLAIT_TEST_REPARTITION_AT hook makes the run repartition after step 3 (every rank
# commits the checkpoint of step 3, rank 0 writes RUN_DIR/repartition, each rank exits
# 3, so mpirun does), and the supervisor restarts the job with --resume auto --stages
# 3,1. The final checkpoint equals, byte for byte, a hand stop (--stop-after 3) and
# resume with --stages 3,1 under mpirun (checkpoints are layout-free).
# usage: mpi_repartition.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d /tmp/plait-repartition-XXXXXX)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 4 --dim 16 --heads 2 --ctx 8 --batch 4 --steps 6
      --eval-every 0 --pp 2 --no-progress --backend mpi"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
PLAIT_TEST_REPARTITION_AT=3:3,1 "$plait" launch --np 2 --mpirun "$mpirun" --max-restarts 2 -- \
  $args --stages 2,2 --repartition-threshold 0.15 --checkpoint-dir "$d/sup" 2>"$d/err" ||
  { cat "$d/err"; exit 1; }
grep -q "repartition: after step 3 stages 2,2 -> 3,1" "$d/err" ||
  { echo "FAIL: no repartition line"; cat "$d/err"; exit 1; }
grep -q "asked for new pipeline stages; restart 1 of 2 from step-00000003 with --stages 3,1" "$d/err" ||
  { echo "FAIL: the supervisor did not restart with the new stages"; cat "$d/err"; exit 1; }
tr -d ' \n' <"$d/sup/supervisor.json" | grep -q '"event":"repartition","stages":"3,1"' ||
  { echo "FAIL: no repartition event in supervisor.json"; cat "$d/sup/supervisor.json"; exit 1; }
# By hand: stop after step 3 with 2,2, resume with 3,1.
"$mpirun" -np 2 "$plait" $args --stages 2,2 --stop-after 3 --checkpoint-dir "$d/ref" 2>"$d/err1" ||
  { cat "$d/err1"; exit 1; }
"$mpirun" -np 2 "$plait" $args --stages 3,1 --resume auto --checkpoint-dir "$d/ref" 2>"$d/err2" ||
  { cat "$d/err2"; exit 1; }
n=0
for f in "$d/ref/step-00000006/"*.safetensors; do
  cmp "$f" "$d/sup/step-00000006/$(basename "$f")"
  n=$((n + 1))
done
[ "$n" -ge 2 ] || { echo "FAIL: only $n checkpoint files compared"; exit 1; }
echo "ok: plait launch restarted the MPI pipeline with --stages 3,1 and matched the hand stop+resume ($n files)"
