#!/bin/sh
# Balancing under MPI: `mpirun -np 2 plait train --backend mpi --slowdown 1:4 --balance
# auto` re-splits the batch (a rebalance event in the metrics log) and still trains the
# model of the equal split on threads: every step's loss and the final validation loss
# within 1e-5 (relative; the split changes only the order of float additions).
# Then again with OpenMPI kept from making the work-stealing counter's RMA window
# (--mca osc rdma,pt2pt: neither works here): the run says it re-splits without stealing
# and trains the same model (with progress: the balance lines are progress output).
# usage: mpi_balance.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
model="train --data $corpus --layers 1 --dim 32 --heads 4 --ctx 16 --batch 8 --steps 12
       --eval-every 0"
args="$model --no-progress"
"$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
  -np 2 "$plait" $args --backend mpi --slowdown 1:4 --balance auto --balance-every 2 \
  --log "$d/mpi.jsonl"
"$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
  --mca osc rdma,pt2pt -np 2 "$plait" $model --backend mpi --slowdown 1:4 --balance auto \
  --balance-every 2 --log "$d/noosc.jsonl" >"$d/noosc.out" 2>&1 ||
  { cat "$d/noosc.out"; echo "--balance auto failed without an RMA window"; exit 1; }
grep -q "no work stealing" "$d/noosc.out" ||
  { cat "$d/noosc.out"; echo "no 'no work stealing' line without an RMA window"; exit 1; }
"$plait" $args --workers 2 --balance off --log "$d/threads.jsonl"
grep -q '"event":"rebalance"' "$d/mpi.jsonl" ||
  { echo "no rebalance event under MPI with rank 1 4x slower"; exit 1; }
# "loss" and "val_loss" of every line (steps and the end event), in order.
values() { grep -o '"\(val_\)\{0,1\}loss":[-0-9.e]*' "$1" | cut -d: -f2; }
values "$d/mpi.jsonl" >"$d/a"
values "$d/threads.jsonl" >"$d/b"
[ "$(wc -l <"$d/a")" -eq "$(wc -l <"$d/b")" ] && [ "$(wc -l <"$d/a")" -ge 13 ] ||
  { echo "the runs logged different numbers of losses"; exit 1; }
same() {
  paste "$1" "$d/b" | awk '{ d = $1 - $2; if (d < 0) d = -d;
    if (d > 1e-5 * ($2 < 0 ? -$2 : $2)) { print "loss " NR ": mpi " $1 " threads " $2; bad = 1 } }
    END { exit bad }'
}
same "$d/a"
values "$d/noosc.jsonl" >"$d/c"
[ "$(wc -l <"$d/c")" -eq "$(wc -l <"$d/b")" ] || { echo "the no-window run logged other losses"; exit 1; }
same "$d/c"
echo "mpi --balance auto re-split and matches the equal split on threads"
