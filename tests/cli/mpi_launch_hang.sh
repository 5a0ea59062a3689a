#!/bin/sh
# plait launch finds an MPI job stopped whole from its ranks' heartbeat files
# (fault/hang_watch.h): every rank stops its own process with SIGSTOP at step 5
# (PLAIT_TEST_SIGSTOP=0:5,1:5, a real stop: heartbeat threads and rank 0's watchdog
# included, so nothing inside the job notices). The launcher must report the job hung
# with each rank's last step, kill the stopped ranks (none is left behind) and mpirun,
# and restart from the newest checkpoint; the final weights equal the threads run of
# the same layout byte for byte. Asserts what happened, not how fast.
# usage: mpi_launch_hang.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d /tmp/plait-launch-hang-XXXXXX)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 1 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 8
      --eval-every 0 --checkpoint-every 2 --no-progress --heartbeat-timeout 2"
fail() { echo "FAIL: $1"; cat "$d/err"; exit 1; }
"$plait" $args --workers 2 --checkpoint-dir "$d/threads"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
PLAIT_TEST_SIGSTOP=0:5,1:5 "$plait" launch --np 2 --mpirun "$mpirun" --max-restarts 2 -- \
  $args --checkpoint-dir "$d/mpi" 2>"$d/err" || fail "the stopped job was not recovered"
[ -e "$d/mpi/test-sigstopped-0-5" ] && [ -e "$d/mpi/test-sigstopped-1-5" ] ||
  fail "the hook did not stop both ranks"
grep -Eq "supervisor: the mpirun job \(pid [0-9]+\) is hung: none of its 2 ranks' heartbeats changed for [0-9.]+ s \(limit 2.0 s;" "$d/err" ||
  fail "no hang report"
# the last PUBLISHED step (every 0.25 s): the tiny model may stop before the first
at='(in step [0-9]+|in the [a-z]+ after step [0-9]+|before its first step)'
grep -Eq "their last heartbeats: rank 0 $at.*; rank 1 $at" "$d/err" ||
  fail "the report does not give each rank's last step"
pids=$(sed -n 's/^supervisor: killed the ranks on this host (pids \([0-9, ]*\)) with SIGKILL.*/\1/p' "$d/err" | tr -d ,)
[ "$(echo $pids | wc -w)" = 2 ] || fail "the launcher did not kill both stopped ranks ($pids)"
for p in $pids; do  # gone, or a zombie its new parent has not reaped yet
  state=$(ps -o stat= -p "$p" || true)
  case "$state" in ""|Z*) ;; *) fail "rank process $p is still there ($state)" ;; esac
done
grep -Eq "ended with a hang \(heartbeats stopped; its ranks killed\); restart 1 of 2 from step-0000000[24]" "$d/err" ||
  fail "no restart from a checkpoint"
grep -q '"event": "hung"' "$d/mpi/supervisor.json" || fail "no hung event in supervisor.json"
cmp "$d/mpi/step-00000008/model.safetensors" "$d/threads/step-00000008/model.safetensors"
cmp "$d/mpi/step-00000008/optimizer.safetensors" "$d/threads/step-00000008/optimizer.safetensors"
grep -o "is hung: none of its .*limit [0-9.]* s" "$d/err" | head -1
echo "ok: the MPI job stopped whole was found by plait launch, ended and restarted; weights byte-identical"
