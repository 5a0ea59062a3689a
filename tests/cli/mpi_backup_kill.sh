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
# dropped all the same, and the launcher ends the job its process keeps alive; stopped
# and resumed once dropped (3b), it learns it was dropped and ends by itself. Then the
# parameter server's cases (5-7, below). A usage error (exit 2 on every rank) is not
# retried. Each job is bounded by `timeout 120` so that a hang fails with its output
# rather than ctest's bare timeout (a bound on a hang, not a timing assertion: each job
# takes seconds; so is resume_after_drop's bound).
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
# resume_after_drop RUN_DIR RANK JOB_PID: once a peer has dropped the stopped RANK (the
# marker it leaves, backup_sync.h), SIGCONT its process; gives up when the job ends.
resume_after_drop() {
  while [ ! -f "$1/heartbeat/dropped-rank-$2.json" ]; do
    kill -0 "$3" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -CONT "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['pid'])" \
    "$1/heartbeat/dropped-rank-$2.json")"
}
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

# 3b. rank 2 stopped as in 3, then resumed once rank 0 has dropped it: its wait for rank
# 0's reply finds the marker rank 0 left and it ends by itself (exit code 0, one line
# naming the step), the others unaffected
PLAIT_TEST_SLOW_RANK=2 PLAIT_TEST_SIGSTOP=2:4 timeout 120 "$plait" launch --np 3 --mpirun "$mpirun" \
  --max-restarts 0 -- $args --batch 12 --backup-workers 1 --checkpoint-dir "$d/t" \
  2>"$d/err" & job=$!
resume_after_drop "$d/t" 2 $job
rc=0; wait $job || rc=$?
[ "$rc" = 0 ] || fail "the job with a stopped and resumed rank 2 ended with $rc"
[ "$(grep -c "plait: backup workers: rank 2 was dropped at step 5 by rank 0 ([0-9]* steps closed there): its heartbeat stopped" "$d/err")" = 1 ] ||
  fail "the resumed rank 2 did not say once that it was dropped"
[ "$(cat "$d/t/heartbeat/exit-rank-2")" = 0 ] || fail "the resumed rank 2 did not end with exit code 0"
grep -q '"phase":"dropped"' "$d/t/heartbeat/rank-2.json" || fail "rank 2's last heartbeat is not 'dropped'"
grep -q '"restarts": 0' "$d/t/supervisor.json" || fail "the job was restarted"
python3 "$diff" "$d/t/step-00000008" "$d/one/step-00000008" --max 1e-5 || fail "weights (resumed rank)"

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

# 6. parameter server, worker 0 dies as it starts step 5 (0-based; workers 0 and 1 take
# every step: PLAIT_TEST_SLOW_RANK=2): the server fails (worker 0 contributes to every
# step), and workers 1 and 2, whose waits for its reply read the heartbeat files, end as
# well, each with one line naming worker 0 and the step, not after --timeout; the
# supervisor restarts the job from step 4, and it ends equal to case 5's byte for byte
PLAIT_TEST_SLOW_RANK=2 PLAIT_TEST_KILL=0:5 timeout 120 "$plait" launch --np 4 --mpirun "$mpirun" \
  --max-restarts 1 -- $args --batch 12 --servers 1 --backup-workers 1 --checkpoint-dir "$d/q" \
  2>"$d/err" || fail "the parameter-server job with a dead worker 0 was not recovered"
grep -q "ended with no exit code from rank 0 (killed); restart 1 of 1 from step-00000004" "$d/err" ||
  fail "no restart after worker 0's death"
[ "$(grep -c "parameter server 0 (rank 3): worker 0 (rank 0), which every step needs, is gone in step 6" "$d/err")" = 1 ] ||
  fail "the server did not say once that worker 0 is gone"
for w in 1 2; do
  [ "$(grep -c "plait: error: parameter server: worker $w (rank $w) stopped receiving the reply to step 6 from parameter server 0 (rank 3): worker 0 (rank 0) is gone" "$d/err")" = 1 ] ||
    fail "worker $w did not say once that worker 0 is gone"
done
for f in model optimizer; do
  cmp "$d/q/step-00000008/$f.safetensors" "$d/p/step-00000008/$f.safetensors" || fail "weights (dead worker 0)"
done

# 7. parameter server, worker 2 stopped before its first push and resumed once the server
# has dropped it: it ends by itself with one line (exit code 0), the job is unaffected
PLAIT_TEST_SIGSTOP=2:0 timeout 120 "$plait" launch --np 4 --mpirun "$mpirun" \
  --max-restarts 0 -- $args --batch 12 --servers 1 --backup-workers 1 --checkpoint-dir "$d/u" \
  2>"$d/err" & job=$!
resume_after_drop "$d/u" 2 $job
rc=0; wait $job || rc=$?
[ "$rc" = 0 ] || fail "the parameter-server job with a stopped and resumed worker 2 ended with $rc"
grep -q "parameter server 0 (rank 3): backup workers: worker 2 dropped after [0-9]* steps (its heartbeat stopped" \
  "$d/err" || fail "the server did not drop the stopped worker 2"
[ "$(grep -c "plait: parameter server: worker 2 (rank 2) was dropped at step 1 by rank 3 ([0-9]* steps closed there): its heartbeat stopped" "$d/err")" = 1 ] ||
  fail "the resumed worker 2 did not say once that it was dropped"
[ "$(cat "$d/u/heartbeat/exit-rank-2")" = 0 ] || fail "the resumed worker 2 did not end with exit code 0"
grep -q '"restarts": 0' "$d/u/supervisor.json" || fail "the job was restarted"
for f in model optimizer; do
  cmp "$d/u/step-00000008/$f.safetensors" "$d/p/step-00000008/$f.safetensors" || fail "weights (resumed worker 2)"
done

# 4. bad usage on every rank: exit 2, no restart
rc=0
timeout 120 "$plait" launch --np 3 --mpirun "$mpirun" --max-restarts 2 -- $args --batch 12 \
  --backup-workers 3 --checkpoint-dir "$d/c" 2>"$d/err" || rc=$?
[ "$rc" = 2 ] || fail "a usage error ended with $rc, not 2"
grep -q '"restarts": 0' "$d/c/supervisor.json" || fail "a usage error was retried"
echo "ok: a dead rank 2 was dropped (equal to one worker on batch 8), a dead rank 0 restarted, a stopped rank 2 dropped and ended (resumed: ended by itself), a dead parameter-server worker dropped, a dead worker 0 restarted, a resumed dropped worker ended by itself"
