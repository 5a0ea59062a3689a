#!/bin/sh
# A parameter server that dies in the servers' gradient-norm allreduce (docs/
# FAULT_TOLERANCE.md, backup workers under MPI): 3 workers + 2 servers (--servers 2
# --backup-workers 1, plait launch, --checkpoint-dir), workers 0 and 1 taking every step
# (PLAIT_TEST_SLOW_RANK=2). Server 1 (rank 4) SIGKILLs itself as it starts the norm
# reduction of step 5 (0-based; PLAIT_TEST_KILL=4:5, a server meets the hooks there).
# Server 0, whose part of that allreduce reads the other server's heartbeat file
# (PeerWatch), ends with one line naming rank 4 and the operation (its heartbeat
# stopped: not the --timeout error), the workers end too, and the supervisor restarts
# the job from step 4; it ends equal to a run without the fault byte for byte. Each job
# is bounded by `timeout 120` so that a hang fails with its output rather than ctest's
# bare timeout (a bound on a hang, not a timing assertion: each job takes seconds).
# usage: mpi_ps_server_kill.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d /tmp/plait-ps-server-kill-XXXXXX)
trap 'rm -rf "$d"' EXIT
args="train --data $corpus --layers 2 --dim 32 --heads 4 --ctx 16 --steps 8 --eval-every 0
      --checkpoint-every 4 --no-progress --batch 12 --servers 2 --backup-workers 1"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export PLAIT_TEST_SLOW_RANK=2
fail() { echo "FAIL: $1"; cat "$d/err"; exit 1; }

timeout 120 "$plait" launch --np 5 --mpirun "$mpirun" --max-restarts 0 -- $args \
  --checkpoint-dir "$d/p" 2>"$d/err" || fail "the run without a fault failed"

PLAIT_TEST_KILL=4:5 timeout 120 "$plait" launch --np 5 --mpirun "$mpirun" --max-restarts 1 -- \
  $args --checkpoint-dir "$d/q" 2>"$d/err" || fail "the job with a dead server 1 was not recovered"
[ -f "$d/q/test-killed-4-5" ] || fail "server 1 (rank 4) did not meet the kill hook"
grep -q "restart 1 of 1 from step-00000004" "$d/err" || fail "no restart from step 4"
[ "$(grep -c "parameter server 0 (rank 3): parameter server 1 (rank 4) is gone in the servers' gradient-norm allreduce of step 6: its heartbeat stopped" "$d/err")" = 1 ] ||
  fail "server 0 did not say once that server 1 is gone in the norm allreduce"
if grep -q -- "--timeout" "$d/err"; then fail "a wait ran until --timeout"; fi
for f in model optimizer; do
  cmp "$d/q/step-00000008/$f.safetensors" "$d/p/step-00000008/$f.safetensors" || fail "weights ($f)"
done
echo "ok: a server killed in the servers' norm allreduce ended the other with one line naming it; the job restarted from step 4 and matched the run without the fault"
