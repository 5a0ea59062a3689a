#!/bin/sh
# Fine-tuning under MPI: `mpirun -np 4 plait train --backend mpi --init-from HF --tp 2
# --pp 2` equals the same run on threads bit for bit (every rank's checkpoint shard).
# usage: mpi_init_from_matches_threads.sh MPIRUN PLAIT CORPUS HF_DIR
set -eu
mpirun=$1 plait=$2 corpus=$3 hf=$4
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
args="train --init-from $hf --data $corpus --ctx 16 --batch 8 --steps 4 --eval-every 0
      --no-progress --tp 2 --pp 2 --micro-batches 2"
"$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
  -np 4 "$plait" $args --backend mpi --checkpoint-dir "$d/mpi"
"$plait" $args --checkpoint-dir "$d/threads"
n=0
for f in "$d"/threads/step-00000004/*.safetensors; do
  cmp "$f" "$d/mpi/step-00000004/$(basename "$f")"
  n=$((n + 1))
done
[ "$n" -eq 8 ] || { echo "expected 4 ranks x (model, optimizer) shard files, found $n"; exit 1; }
echo "mpi --init-from matches threads ($n shard files)"
