#!/bin/sh
# Chaos test of automatic recovery (docs/FAULT_TOLERANCE.md): TRIALS runs of a small
# model under the supervisor, each with kill -9 of a random rank at a random step
# (PLAIT_TEST_KILL, one or two kills per run), must all finish with final weights
# byte-identical to an uninterrupted run of the same layout, and every committed
# checkpoint left behind must load (plait inspect).
# usage: tools/chaos.sh PLAIT TRIALS [threads|mpi|threads-shrink|mpi-shrink] [MPIRUN] [SEED]
#   threads: plait train --workers 2 --max-restarts 3
#   mpi:     plait launch --np 2 --max-restarts 3 -- train ... (mpirun from PATH or MPIRUN)
#   *-shrink: 3 workers (ranks) with --min-workers 2; in about half the trials rank 2's
#            node is also lost at a random step S: rank 2 is killed there and fails at
#            every later start (PLAIT_TEST_KILL=2:S, PLAIT_TEST_FAIL_AT_START=2@C, C the
#            checkpoint before S), so the supervisor must shrink to 2 workers (a run
#            that fails twice in a row with no new checkpoint shrinks as well); a shrunk
#            run's final weights must
#            equal the uninterrupted 3-worker run's within 1e-5 (tools/weights_diff.py),
#            the others byte for byte.
set -eu
plait=$1 trials=$2 mode=${3:-threads} mpirun=${4:-mpirun} seed=${5:-$$} seeded=${5:+1}
backend=${mode%-shrink}
here=$(cd "$(dirname "$0")" && pwd)
n=2 elastic="" restarts=3 lost=0
if [ "$mode" != "$backend" ]; then n=3 elastic="--min-workers 2" restarts=5 lost=1; fi
d=$(mktemp -d /tmp/plait-chaos-XXXXXX)
trap 'rm -rf "$d"' EXIT
i=0
while [ $i -lt 300 ]; do
  echo "The quick brown fox jumps over the lazy dog number $i." >>"$d/c.txt"
  i=$((i + 1))
done
steps=16
args="--data $d/c.txt --layers 1 --dim 32 --heads 4 --ctx 16 --batch 6 --steps $steps
      --eval-every 0 --checkpoint-every 3 --no-progress"
run() {  # run NAME [env...]: a supervised run into $d/NAME
  name=$1
  shift
  if [ "$backend" = mpi ]; then
    env "$@" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
      OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none \
      "$plait" launch --np $n --mpirun "$mpirun" --max-restarts $restarts $elastic -- \
      train $args --checkpoint-dir "$d/$name"
  else
    env "$@" "$plait" train $args --workers $n --max-restarts $restarts $elastic \
      --checkpoint-dir "$d/$name"
  fi
}
run ref 2>"$d/ref.err" || { cat "$d/ref.err"; exit 1; }
final=$(printf "step-%08d" $steps)
# A small deterministic generator (awk's rand with the seed), so a failing trial repeats:
# per trial the kills R:S[,R:S] and (shrink modes) the step a node is lost from, or -.
faults=$(awk -v n="$trials" -v s="$seed" -v steps=$steps -v ranks=$n -v lost=$lost 'BEGIN {
  srand(s);
  for (t = 0; t < n; t++) { k = 1 + int(rand() * 2); f = "";
    for (j = 0; j < k; j++) f = f (j ? "," : "") int(rand() * ranks) ":" 1 + int(rand() * (steps - 1));
    g = (lost && rand() < 0.5) ? 3 + int(rand() * (steps - 4)) : "-";
    print f "/" g } }')
t=0 failed=0 shrunk_trials=0
for fg in $faults; do
  t=$((t + 1))
  f=${fg%/*} g=${fg#*/}
  set -- PLAIT_TEST_KILL="$f"
  [ "$g" = - ] || set -- PLAIT_TEST_KILL="$f,2:$g" PLAIT_TEST_FAIL_AT_START="2@$((g - g % 3))"
  if ! run "t$t" "$@" 2>"$d/t$t.err"; then
    echo "FAIL trial $t (kills $f, node lost from $g): the run did not finish"; cat "$d/t$t.err"
    failed=1; continue
  fi
  kills=$(grep -c "restart .* of $restarts" "$d/t$t.err" || true)
  if grep -q "elastic shrink" "$d/t$t.err"; then
    shrunk_trials=$((shrunk_trials + 1))
    diff=$(python3 "$here/weights_diff.py" "$d/t$t/$final" "$d/ref/$final" --max 1e-5) ||
      { echo "FAIL trial $t (kills $f, node lost from $g): shrunk run differs by $diff"; failed=1; }
    what="shrunk to $(grep -o 'from [0-9]* to [0-9]* workers' "$d/t$t.err" | tail -1 | cut -d' ' -f4) workers, weights within $diff"
  else
    for file in "$d/ref/$final"/*.safetensors; do
      cmp -s "$file" "$d/t$t/$final/$(basename "$file")" ||
        { echo "FAIL trial $t (kills $f): $(basename "$file") differs"; failed=1; }
    done
    what="final weights identical"
  fi
  for c in "$d/t$t"/step-*; do
    "$plait" inspect "$c" >/dev/null 2>&1 || { echo "FAIL trial $t: $c does not load"; failed=1; }
  done
  echo "trial $t: kills $f, node lost from step $g, $kills restarts, $what"
done
[ $failed -eq 0 ] || exit 1
# A shrink mode with a given seed (ctest) must have exercised the shrink.
if [ "$lost" = 1 ] && [ -n "$seeded" ] && [ $shrunk_trials -eq 0 ]; then
  echo "FAIL: no trial of seed $seed shrank the run"; exit 1
fi
echo "ok: $t chaos trials ($mode, seed $seed) recovered; $shrunk_trials shrunk (within 1e-5), the others byte-identical"
