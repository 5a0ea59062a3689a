#!/bin/sh
# A model-parallel layout under MPI equals the same layout on threads bit for bit:
# mpirun -np N plait train --backend mpi LAYOUT against plait train LAYOUT, every
# rank's checkpoint shard compared byte for byte.
# usage: mpi_mesh_matches_threads.sh MPIRUN PLAIT CORPUS NP LAYOUT...
set -eu
mpirun=$1 plait=$2 corpus=$3 np=$4
shift 4
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 4 --dim 32 --heads 4 --ctx 16 --batch 8 --steps 4
      --eval-every 0 --no-progress $*"
"$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
  -np "$np" "$plait" $args --backend mpi --checkpoint-dir "$d/mpi"
"$plait" $args --checkpoint-dir "$d/threads"
n=0
for f in "$d"/threads/step-00000004/*.safetensors; do
  cmp "$f" "$d/mpi/step-00000004/$(basename "$f")"
  n=$((n + 1))
done
[ "$n" -gt 1 ] || { echo "expected a sharded checkpoint, found $n files"; exit 1; }
echo "mpi matches threads: np $np $* ($n shard files)"
