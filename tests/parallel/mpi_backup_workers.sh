#!/bin/sh
# Backup workers under MPI (--backup-workers without --servers, parallel/backup_sync.h):
# mpirun -np 3 with rank 2 held back by the test hook PLAIT_TEST_SLOW_RANK=2 takes ranks 0
# and 1's gradients every step, so the run equals one worker training on their
# sequences (batch 8 of 12) within 1e-5 (relative L2 of the final weights).
# usage: mpi_backup_workers.sh MPIRUN PLAIT CORPUS WEIGHTS_DIFF_PY
set -eu
mpirun=$1 plait=$2 corpus=$3 diff=$4
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 2 --dim 32 --heads 4 --ctx 16 --steps 6
      --eval-every 0 --no-progress"
PLAIT_TEST_SLOW_RANK=2 "$mpirun" --allow-run-as-root --oversubscribe \
  --mca btl_vader_single_copy_mechanism none -x PLAIT_TEST_SLOW_RANK \
  -np 3 "$plait" $args --batch 12 --backend mpi --backup-workers 1 \
  --checkpoint-dir "$d/mpi" --log "$d/mpi.jsonl"
"$plait" $args --batch 8 --workers 1 --checkpoint-dir "$d/one"
grep -q '"contributed":\[0,1\],"dropped":\[2\]' "$d/mpi.jsonl"
if grep '"event":"backup_step"' "$d/mpi.jsonl" | grep -v '"contributed":\[0,1\]'; then
  echo "a step did not take exactly ranks 0 and 1"; exit 1
fi
python3 "$diff" "$d/mpi/step-00000006" "$d/one/step-00000006" --max 1e-5
echo "mpi backup workers: rank 2 dropped every step, equal to one worker on batch 8"
