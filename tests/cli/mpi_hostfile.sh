#!/bin/sh
# docs/LAUNCH.md's hostfile launch, with this machine standing in for 2 nodes of 2
# ranks: a hostfile of `localhost slots=4` and --ranks-per-node 2 (OpenMPI sees one
# machine, so the nodes are named by the flag). Checks that
#   1. the run chooses the hierarchical allreduce over 2 nodes of 2 (its log says so);
#   2. its weights equal the threads run's (--workers 4 --ranks-per-node 2) byte for byte;
#   3. the Slurm-style job script (--resume auto) started, stopped by --stop-after,
#      and started again under mpirun ends with the same weights;
#   4. a note printed before MPI starts (no --checkpoint-dir) appears once, not per rank.
# usage: mpi_hostfile.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d /tmp/plait-hostfile-XXXXXX)
trap 'rm -rf "$d"' EXIT
echo "localhost slots=4" >"$d/hosts"
args="train --data $corpus --layers 2 --dim 32 --heads 4 --ctx 16 --batch 8 --steps 6
      --eval-every 0 --ranks-per-node 2 --bucket-mb 0.01"
launch() {
  "$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
    --hostfile "$d/hosts" -np 4 "$plait" $args --backend mpi "$@"
}
launch --checkpoint-dir "$d/mpi" 2>"$d/mpi.err" || { cat "$d/mpi.err"; exit 1; }
grep -q "sync hierarchical: 2 nodes of 2 workers" "$d/mpi.err" ||
  { echo "FAIL: the run did not see 2 nodes of 2"; cat "$d/mpi.err"; exit 1; }
"$plait" $args --no-progress --workers 4 --checkpoint-dir "$d/threads"
for f in model optimizer; do
  cmp "$d/mpi/step-00000006/$f.safetensors" "$d/threads/step-00000006/$f.safetensors"
done
# The job script, run twice as a requeued job would be.
launch --no-progress --checkpoint-dir "$d/job" --resume auto --stop-after 3
test -d "$d/job/step-00000003" && test ! -d "$d/job/step-00000006"
launch --no-progress --checkpoint-dir "$d/job" --resume auto
for f in model optimizer; do
  cmp "$d/job/step-00000006/$f.safetensors" "$d/threads/step-00000006/$f.safetensors"
done
launch 2>"$d/nockpt.err" || { cat "$d/nockpt.err"; exit 1; }
n=$(grep -c "will not be kept" "$d/nockpt.err" || true)
test "$n" -eq 1 || { echo "FAIL: the no-checkpoint note appeared $n times"; exit 1; }
echo "ok: hostfile launch on 2 emulated nodes x 2 ranks matches threads; --resume auto job resumes"
