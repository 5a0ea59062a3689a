#!/bin/sh
# SIGSTOP of an MPI rank under plait launch: rank 1 stops its whole process with
# SIGSTOP at step 5 (the PLAIT_TEST_SIGSTOP hook: a real stop, its heartbeat thread
# included). Rank 0's watchdog must report rank 1 as making no progress (its file
# stopped changing) past the 2 s heartbeat timeout, end the job, and the supervisor must restart it from
# step-00000004; the final weights equal the threads run of the same layout byte for
# byte. Asserts what happened, not how fast (the report's figures are in the log).
# usage: mpi_sigstop_recovery.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d /tmp/plait-sigstop-XXXXXX)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 1 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 8
      --eval-every 0 --checkpoint-every 2 --no-progress --heartbeat-timeout 2"
"$plait" $args --workers 2 --checkpoint-dir "$d/threads"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
PLAIT_TEST_SIGSTOP=1:5 "$plait" launch --np 2 --mpirun "$mpirun" --max-restarts 2 -- \
  $args --checkpoint-dir "$d/mpi" 2>"$d/err" || { cat "$d/err"; exit 1; }
# The report names rank 1: as the stopped rank, or as the rank the others wait for.
# The second happens on a quiet machine, where the run reaches step 5 before rank 1's
# heartbeat thread first publishes (every 0.25 s): a rank with no file yet is unknown
# to the watchdog, which then reports rank 0 waiting in allreduce #5 "for rank 1".
grep -Eq "heartbeat: (rank 1 on host .* made no progress for .* \(limit 2.0 s\)|rank [0-9]+ on host .* made no progress for .* \(limit 2.0 s\).* for rank 1)" "$d/err" ||
  { echo "FAIL: no report of the stopped rank"; cat "$d/err"; exit 1; }
grep -q "restart 1 of 2 from step-00000004" "$d/err" || { echo "FAIL: no restart"; cat "$d/err"; exit 1; }
cmp "$d/mpi/step-00000008/model.safetensors" "$d/threads/step-00000008/model.safetensors"
cmp "$d/mpi/step-00000008/optimizer.safetensors" "$d/threads/step-00000008/optimizer.safetensors"
grep -o "heartbeat: rank .*limit [0-9.]* s)" "$d/err" | head -1
echo "ok: the SIGSTOPped MPI rank was detected, the job restarted and matched the threads run"
