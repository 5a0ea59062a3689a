#!/bin/sh
# Model-parallel generation under MPI: `mpirun -np 4 plait sample --backend mpi --tp 2
# --pp 2` writes one worker's greedy JSON lines, byte for byte.
# usage: mpi_sample_matches_threads.sh MPIRUN PLAIT MODEL
set -eu
mpirun=$1 plait=$2 model=$3
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
printf 'The \nA much longer prompt that runs past the context of 32 bytes\nx\n' >"$d/p.txt"
args="sample --checkpoint $model --prompts $d/p.txt --tokens 45 --temperature 0 --batch 2"
"$plait" $args >"$d/one"
"$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
  -np 4 "$plait" $args --tp 2 --pp 2 --backend mpi >"$d/mpi"
[ "$(wc -l <"$d/one")" -eq 3 ] || { echo "expected 3 JSON lines"; cat "$d/one"; exit 1; }
cmp "$d/one" "$d/mpi"
echo "mpi tp2 x pp2 sample matches one worker"
