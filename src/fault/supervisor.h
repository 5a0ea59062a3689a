// The supervisor (torchrun's elastic agent, in spirit): it starts the training as a
// child process, waits for it, and when the child dies (kill -9, the OOM killer, a
// crash) or ends itself because the heartbeat watchdog found a hang (exit 1), starts
// it again from the newest committed checkpoint, at most `max_restarts` times. It
// outlives its workers: with the threads backend the child is `plait train` itself;
// under MPI it is `mpirun ... plait train --backend mpi`, so a dead rank ends the job
// (mpirun's rule) and the whole job restarts.
//
// Restarts run `restart_argv` (the first run's argv with --resume auto): the
// checkpoints are exact, so the final weights equal an uninterrupted run's byte for
// byte. Exit code 2 (bad flags or input) is never retried. Every start and end is
// recorded in RUN_DIR/supervisor.json (read by `plait status`).
#pragma once
#include <string>
#include <vector>

namespace plait::fault {

struct SuperviseOptions {
  std::vector<std::string> argv;          // the first start
  std::vector<std::string> restart_argv;  // every later start
  int max_restarts = 0;
  std::string run_dir;                    // the checkpoint directory
  std::string what = "training process";  // for messages ("mpirun")
};

// Runs the child until it succeeds, fails with exit code 2, or has failed
// max_restarts + 1 times; returns the exit code to end with (0, 1 or 2).
int supervise(const SuperviseOptions& o);

// RUN_DIR/supervisor.json's restart count (0 when there is none).
int recorded_restarts(const std::string& run_dir);

}  // namespace plait::fault
