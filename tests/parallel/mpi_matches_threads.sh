#!/bin/sh
# Data parallelism under MPI equals the threads backend bit for bit (same algorithm,
# same global batches): mpirun -np N plait train --backend mpi against
# plait train --workers N, final weights compared byte for byte.
# usage: mpi_matches_threads.sh MPIRUN PLAIT CORPUS NP SYNC [RANKS_PER_NODE]
set -eu
mpirun=$1 plait=$2 corpus=$3 np=$4 sync=$5 rpn=${6:-0}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 2 --dim 32 --heads 4 --ctx 16 --batch 6 --steps 6
      --eval-every 0 --no-progress --sync $sync --ranks-per-node $rpn --bucket-mb 0.01"
"$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
  -np "$np" "$plait" $args --backend mpi --checkpoint-dir "$d/mpi"
"$plait" $args --workers "$np" --checkpoint-dir "$d/threads"
cmp "$d/mpi/step-00000006/model.safetensors" "$d/threads/step-00000006/model.safetensors"
cmp "$d/mpi/step-00000006/optimizer.safetensors" "$d/threads/step-00000006/optimizer.safetensors"
echo "mpi matches threads: np $np sync $sync"
