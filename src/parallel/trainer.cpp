#include "parallel/trainer.h"

#include "parallel/data_parallel.h"
#include "parallel/launch.h"
#include "parallel/mesh_trainer.h"
#include "parallel/param_server.h"
#include "parallel/replica.h"
#include "parallel/run_output.h"
#include "tensor/blas.h"

namespace plait {
namespace {

// One rank's run: the architecture the options name (threads or MPI alike).
TrainSummary run_rank(comm::Comm& c, const TrainOptions& opt, const RunData* data,
                      RunOutput& out) {
  if (opt.servers > 0) return run_ps_rank(c, opt, data, out);
  if (opt.model_parallel()) return run_mesh_rank(c, opt, *data, out);
  return run_dp_rank(c, opt, *data, out);
}

// One worker runs the replica directly (no communication at all, so a resumed run
// repeats the uninterrupted one bit for bit).
TrainSummary train_one_worker(const TrainOptions& opt) {
  set_blas_threads(opt.effective_blas_threads());
  const RunData data(opt);
  RunOutput out(opt);
  Replica r(opt, data, 0, 0, opt.batch);
  r.out = &out;
  r.trace = &out.trace();
  r.start();
  const TrainSummary sum = run_replica(r);
  out.end(sum);
  return sum;
}

}  // namespace

TrainSummary train(const TrainOptions& given) {
  given.validate();
  TrainOptions opt = given;
  resolve_tokenizer(opt);  // the tokenizer, and the model's vocabulary from it
  if (opt.backend == comm::Backend::mpi) return launch_mpi(opt, run_rank);
  if (opt.workers == 1 && opt.servers == 0 && !opt.model_parallel()) return train_one_worker(opt);
  return launch_threads(opt, run_rank);
}

}  // namespace plait
