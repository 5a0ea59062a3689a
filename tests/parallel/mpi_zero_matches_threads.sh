#!/bin/sh
# ZeRO under MPI equals the threads backend bit for bit (the same owned buckets reduced
# in the same order, the same shards): mpirun -np N plait train --backend mpi --zero Z
# against plait train --workers N --zero Z, the checkpoints (weights and the gathered
# moments) compared byte for byte. Micro-batches of 2, so stages 2 and 3 reduce each one.
# usage: mpi_zero_matches_threads.sh MPIRUN PLAIT CORPUS NP ZERO
set -eu
mpirun=$1 plait=$2 corpus=$3 np=$4 zero=$5
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 2 --dim 32 --heads 4 --ctx 16 --batch 8 --micro-batch 2
      --steps 6 --eval-every 0 --no-progress --zero $zero --bucket-mb 0.01"
"$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
  -np "$np" "$plait" $args --backend mpi --checkpoint-dir "$d/mpi"
"$plait" $args --workers "$np" --checkpoint-dir "$d/threads"
cmp "$d/mpi/step-00000006/model.safetensors" "$d/threads/step-00000006/model.safetensors"
cmp "$d/mpi/step-00000006/optimizer.safetensors" "$d/threads/step-00000006/optimizer.safetensors"
echo "mpi matches threads: np $np --zero $zero"
