#!/bin/sh
# Detection and recovery times of three MPI failures under plait launch (docs/
# FAULT_TOLERANCE.md), REPS trials each, one line per trial. Each time is measured
# from the moment of the fault: the mtime of the test hook's marker file, written just
# before the hook kills or stops its process (src/parallel/run_loop.cpp).
#   drop    --backup-workers 1, rank 2 of 3 killed (PLAIT_TEST_KILL=2:4): until rank 0
#           has dropped it (the time of the rank's heartbeat file rewritten as dropped)
#   rank0   --backup-workers 1, rank 0 of 3 killed (PLAIT_TEST_KILL=0:5): until the job
#           ended (the survivors found rank 0 gone and exited; supervisor.json's end)
#           and until the restarted job started
#   stopped every rank of 2 SIGSTOPped (PLAIT_TEST_SIGSTOP=0:5,1:5), --heartbeat-timeout
#           2: until plait launch ended the job, and until the restarted job started
# The tiny model of the tests (2 layers, dim 32); the figures are dominated by the 2 s
# limits and the 0.25 s heartbeat period, not by the model.
# usage: tools/mpi_detection_times.sh PLAIT REPS [MPIRUN] [CORPUS]
set -eu
plait=$1 reps=$2 mpirun=${3:-mpirun} corpus=${4:-docs/ARCHITECTURE.md}
d=$(mktemp -d /tmp/plait-detect-XXXXXX)
trap 'rm -rf "$d"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
args="train --data $corpus --layers 2 --dim 32 --heads 4 --ctx 16 --steps 8 --eval-every 0
      --checkpoint-every 4 --no-progress"
# seconds from the marker's mtime to: the first supervisor.json event of kind $3 after
# the marker (index $4 among them), printed with 2 decimals
since_marker() {
  python3 - "$1" "$2" "$3" "${4:-0}" <<'EOF'
import json, os, sys
run, marker, kind, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t0 = os.path.getmtime(os.path.join(run, marker))
if kind == "dropped":
    t = json.load(open(os.path.join(run, "heartbeat", "rank-2.json")))["time"]
else:
    ts = [e["time"] for e in json.load(open(os.path.join(run, "supervisor.json")))["events"]
          if e["event"] == kind and e["time"] >= t0]
    t = ts[nth]
print(f"{t - t0:.2f}")
EOF
}
for i in $(seq "$reps"); do
  r=$d/drop$i
  PLAIT_TEST_SLOW_RANK=2 PLAIT_TEST_KILL=2:4 timeout 120 "$plait" launch --np 3 --mpirun "$mpirun" \
    --max-restarts 0 -- $args --batch 12 --backup-workers 1 --checkpoint-dir "$r" 2>"$r.err"
  drop=$(since_marker "$r" test-killed-2-4 dropped)
  r=$d/rank0$i
  PLAIT_TEST_SLOW_RANK=2 PLAIT_TEST_KILL=0:5 timeout 120 "$plait" launch --np 3 --mpirun "$mpirun" \
    --max-restarts 1 -- $args --batch 12 --backup-workers 1 --checkpoint-dir "$r" 2>"$r.err"
  r0end=$(since_marker "$r" test-killed-0-5 end)
  r0start=$(since_marker "$r" test-killed-0-5 start)
  r=$d/stopped$i
  PLAIT_TEST_SIGSTOP=0:5,1:5 timeout 120 "$plait" launch --np 2 --mpirun "$mpirun" --max-restarts 1 \
    -- $args --batch 8 --heartbeat-timeout 2 --checkpoint-dir "$r" 2>"$r.err"
  stend=$(since_marker "$r" test-sigstopped-1-5 end)
  ststart=$(since_marker "$r" test-sigstopped-1-5 start)
  echo "trial $i: drop ${drop} s; rank 0 killed: job ended ${r0end} s, restarted ${r0start} s;" \
       "all stopped: job ended ${stend} s, restarted ${ststart} s"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
