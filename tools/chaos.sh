#!/bin/sh
# Chaos test of automatic recovery (docs/FAULT_TOLERANCE.md): TRIALS runs of a small
# model under the supervisor, each with kill -9 of a random rank at a random step
# (PLAIT_TEST_KILL, one or two kills per run), must all finish with final weights
# byte-identical to an uninterrupted run of the same layout, and every committed
# checkpoint left behind must load (plait inspect).
# usage: tools/chaos.sh PLAIT TRIALS [threads|mpi] [MPIRUN] [SEED]
#   threads: plait train --workers 2 --max-restarts 3
#   mpi:     plait launch --np 2 --max-restarts 3 -- train ... (mpirun from PATH or MPIRUN)
set -eu
plait=$1 trials=$2 backend=${3:-threads} mpirun=${4:-mpirun} seed=${5:-$$}
d=$(mktemp -d /tmp/plait-chaos-XXXXXX)
trap 'rm -rf "$d"' EXIT
i=0
while [ $i -lt 300 ]; do
  echo "The quick brown fox jumps over the lazy dog number $i." >>"$d/c.txt"
  i=$((i + 1))
done
steps=16
args="--data $d/c.txt --layers 1 --dim 32 --heads 4 --ctx 16 --batch 4 --steps $steps
      --eval-every 0 --checkpoint-every 3 --no-progress"
run() {  # run NAME [env...]: a supervised run into $d/NAME
  name=$1
  shift
  if [ "$backend" = mpi ]; then
    env "$@" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
      OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none \
      "$plait" launch --np 2 --mpirun "$mpirun" --max-restarts 3 -- \
      train $args --checkpoint-dir "$d/$name"
  else
    env "$@" "$plait" train $args --workers 2 --max-restarts 3 --checkpoint-dir "$d/$name"
  fi
}
run ref 2>"$d/ref.err" || { cat "$d/ref.err"; exit 1; }
final=$(printf "step-%08d" $steps)
# A small deterministic generator (awk's rand with the seed), so a failing trial repeats.
faults=$(awk -v n="$trials" -v s="$seed" -v steps=$steps 'BEGIN { srand(s);
  for (t = 0; t < n; t++) { k = 1 + int(rand() * 2); f = "";
    for (j = 0; j < k; j++) f = f (j ? "," : "") int(rand() * 2) ":" 1 + int(rand() * (steps - 1));
    print f } }')
t=0 failed=0
for f in $faults; do
  t=$((t + 1))
  if ! run "t$t" PLAIT_TEST_KILL="$f" 2>"$d/t$t.err"; then
    echo "FAIL trial $t (kills $f): the run did not finish"; cat "$d/t$t.err"; failed=1; continue
  fi
  kills=$(grep -c "restart .* of 3" "$d/t$t.err" || true)
  for file in "$d/ref/$final"/*.safetensors; do
    cmp -s "$file" "$d/t$t/$final/$(basename "$file")" ||
      { echo "FAIL trial $t (kills $f): $(basename "$file") differs"; failed=1; }
  done
  for c in "$d/t$t"/step-*; do
    "$plait" inspect "$c" >/dev/null 2>&1 || { echo "FAIL trial $t: $c does not load"; failed=1; }
  done
  echo "trial $t: kills $f, $kills restarts, final weights identical"
done
[ $failed -eq 0 ] || exit 1
echo "ok: $t chaos trials ($backend, seed $seed) recovered with byte-identical weights"
