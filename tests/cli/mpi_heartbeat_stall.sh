#!/bin/sh
# Under mpirun, a rank that stops making progress (the PLAIT_TEST_STALL hook: rank 1
# sleeps for good as it starts step 3, its heartbeat thread still publishing) is
# reported by rank 0's watchdog from the heartbeat files, naming rank 1, its step and
# that rank 0 waits for it; the job ends with a non-zero code instead of hanging until
# the collective timeout (600 s here, well beyond the test's).
# usage: mpi_heartbeat_stall.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d /tmp/plait-hbstall-XXXXXX)
trap 'rm -rf "$d"' EXIT
if PLAIT_TEST_STALL=1:3 "$mpirun" --allow-run-as-root --oversubscribe \
     --mca btl_vader_single_copy_mechanism none -x PLAIT_TEST_STALL -np 2 \
     "$plait" train --data "$corpus" --layers 1 --dim 32 --heads 4 --ctx 16 --batch 4 \
     --steps 8 --eval-every 0 --no-progress --backend mpi --heartbeat-timeout 2 \
     --checkpoint-dir "$d/run" >"$d/out" 2>&1; then
  echo "FAIL: the stalled job exited 0"; cat "$d/out"; exit 1
fi
grep -q "heartbeat: rank 1 on host .* in step 3: not communicating; rank 0 waiting in" "$d/out" ||
  { echo "FAIL: no heartbeat report naming rank 1"; cat "$d/out"; exit 1; }
test -f "$d/run/heartbeat/rank-0.json" && test -f "$d/run/heartbeat/rank-1.json"
echo "ok: the stalled MPI rank was reported and the job ended"
