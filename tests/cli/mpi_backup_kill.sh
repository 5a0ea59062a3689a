#!/bin/sh
# Backup workers outlive a dead MPI process (docs/DATA_PARALLEL.md, "Backup workers").
# plait launch runs mpirun with OpenMPI's recovery flags; rank 2 is held back every step
# (PLAIT_TEST_SLOW_RANK=2, so ranks 0 and 1 contribute whatever the timing) and kills
# itself with SIGKILL as it starts step 4 (PLAIT_TEST_KILL=2:4). Rank 0 finds its
# heartbeat file still, drops it, and the job finishes with no restart; the final weights
# equal one worker training on ranks 0 and 1's sequences (batch 8 of 12) within 1e-5.
# Then rank 0 is killed (PLAIT_TEST_KILL=0:5): the others find it gone and end, mpirun
# exits 0 but rank 0 left no exit code, so the supervisor restarts the job from step 4,
# with the same result. Then rank 2 is stopped (PLAIT_TEST_SIGSTOP=2:4), not killed:
# dropped all the same, and the launcher ends the job its process keeps alive. Then the
# parameter server's case (5, below). A usage error (exit 2 on every rank) is not retried. Each job is
# bounded by `timeout 120` so that a hang fails with its output rather than ctest's
# bare timeout (a bound on a hang, not a timing assertion: each job takes seconds).
# usage: mpi_backup_kill.sh MPIRUN PLAIT CORPUS WEIGHTS_DIFF_PY
set -eu
mpirun=$1 plait=$2 corpus=$3 diff=$4
d=$(mktemp -d /tmp/plait-backup-kill-XXXXXX)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 2 --dim 32 --heads 4 --ctx 16 --steps 8 --eval-every 0
      --checkpoint-every 4 --no-progress"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
fail() { echo "FAIL: $1"; cat "$d/err"; exit 1; }
"$plait" $args --batch 8 --workers 1 --checkpoint-dir "$d/one"

# 1. rank 2 dies: dropped, the run goes on
PLAIT_TEST_SLOW_RANK=2 PLAIT_TEST_KILL=2:4 timeout 120 "$plait" launch --np 3 --mpirun "$mpirun" \
  --max-restarts 0 -- $args --batch 12 --backup-workers 1 --checkpoint-dir "$d/a" \
  --log "$d/a.jsonl" 2>"$d/err" || fail "the job with a dead rank 2 did not finish"
grep -q "backup workers: rank 2 left at step [0-9]* (its heartbeat stopped" "$d/err" || fail "no drop line"
grep '"event":"worker_dropped"' "$d/a.jsonl" | grep -q '"rank":2' || fail "no worker_dropped event"
grep -q '"phase":"dropped"' "$d/a/heartbeat/rank-2.json" || fail "rank 2's heartbeat not marked"
grep -q '"restarts": 0' "$d/a/supervisor.json" || fail "the job was restarted"
if grep '"event":"backup_step"' "$d/a.jsonl" | grep -v '"contributed":\[0,1\]'; then
  fail "a step did not take exactly ranks 0 and 1"
fi
python3 "$diff" "$d/a/step-00000008" "$d/one/step-00000008" --max 1e-5 || fail "weights"

# 2. rank 0 dies: the others end, the supervisor restarts the job
PLAIT_TEST_SLOW_RANK=2 PLAIT_TEST_KILL=0:5 timeout 120 "$plait" launch --np 3 --mpirun "$mpirun" \
  --max-restarts 1 -- $args --batch 12 --backup-workers 1 --checkpoint-dir "$d/b" \
  2>"$d/err" || fail "the job with a dead rank 0 was not recovered"
grep -q "ended with no exit code from rank 0 (killed); restart 1 of 1 from step-00000004" "$d/err" ||
  fail "no restart after rank 0's death"
grep -q "and rank 0 is gone" "$d/err" || fail "the survivors did not say rank 0 is gone"
python3 "$diff" "$d/b/step-00000008" "$d/one/step-00000008" --max 1e-5 || fail "weights after restart"

# 3. rank 2 stopped (SIGSTOP), not dead: dropped as a dead one is; its process never
# ends, so mpirun would wait for it for ever: after rank 0 has ended, the launcher ends
# the job (the stopped process with it), and rank 0's exit code 0 is the job's
PLAIT_TEST_SLOW_RANK=2 PLAIT_TEST_SIGSTOP=2:4 timeout 120 "$plait" launch --np 3 --mpirun "$mpirun" \
  --max-restarts 1 -- $args --batch 12 --backup-workers 1 --checkpoint-dir "$d/s" \
  2>"$d/err" || fail "the job with a stopped rank 2 did not finish"
grep -q "backup workers: rank 2 left at step [0-9]* (its heartbeat stopped" "$d/err" || fail "no drop line"
grep -q "supervisor: rank 0 ended [0-9.]* s ago and the mpirun job (pid [0-9]*) still runs" "$d/err" ||
  fail "the launcher did not end the job left running by the stopped rank"
grep -q '"restarts": 0' "$d/s/supervisor.json" || fail "the job was restarted"
pid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['pid'])" "$d/s/heartbeat/rank-2.json")
state=$(ps -o stat= -p "$pid" || true)
case "$state" in ""|Z*) ;; *) fail "the stopped rank 2 (pid $pid) is still there ($state)" ;; esac
python3 "$diff" "$d/s/step-00000008" "$d/one/step-00000008" --max 1e-5 || fail "weights (stopped rank)"

# 5. parameter server: 3 workers + 1 server (--servers 1 --backup-workers 1); worker 2
# dies as it starts step 1, before its first push (a later step could be skipped: a
# worker behind the servers jumps to their step). The server's handler finds its
# heartbeat still and drops it; worker 0 ends only after the server has (ps_protocol.h,
# kEnd), so the drop is always said and the job needs no help from the launcher. Every
# step takes workers 0 and 1: the result of one worker on the batch-8 sequences
PLAIT_TEST_KILL=2:0 timeout 120 "$plait" launch --np 4 --mpirun "$mpirun" \
  --max-restarts 0 -- $args --batch 12 --servers 1 --backup-workers 1 --checkpoint-dir "$d/p" \
  --log "$d/p.jsonl" 2>"$d/err" || fail "the parameter-server job with a dead worker 2 did not finish"
grep -q "parameter server 0 (rank 3): backup workers: worker 2 dropped after [0-9]* steps (its heartbeat stopped" \
  "$d/err" || fail "the server did not drop worker 2"
grep -q '"phase":"dropped"' "$d/p/heartbeat/rank-2.json" || fail "worker 2's heartbeat not marked"
grep -q '"restarts": 0' "$d/p/supervisor.json" || fail "the parameter-server job was restarted"
if grep "still runs" "$d/err"; then fail "the launcher had to end the parameter-server job"; fi
[ "$(grep -c '"event":"ps_step"' "$d/p.jsonl")" = 8 ] || fail "not 8 ps_step events"
if grep '"event":"ps_step"' "$d/p.jsonl" | grep -v '"contributed":\[0,1\]'; then
  fail "a parameter-server step did not take exactly workers 0 and 1"
fi
python3 "$diff" "$d/p/step-00000008" "$d/one/step-00000008" --max 1e-5 || fail "weights (server)"

# 4. bad usage on every rank: exit 2, no restart
rc=0
timeout 120 "$plait" launch --np 3 --mpirun "$mpirun" --max-restarts 2 -- $args --batch 12 \
  --backup-workers 3 --checkpoint-dir "$d/c" 2>"$d/err" || rc=$?
[ "$rc" = 2 ] || fail "a usage error ended with $rc, not 2"
grep -q '"restarts": 0' "$d/c/supervisor.json" || fail "a usage error was retried"
echo "ok: a dead rank 2 was dropped (equal to one worker on batch 8), a dead rank 0 restarted, a stopped rank 2 dropped and ended, a dead parameter-server worker dropped"
