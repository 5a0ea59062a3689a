#include "parallel/trainer.h"

#include "parallel/data_parallel.h"
#include "parallel/param_server.h"
#include "parallel/mesh_trainer.h"
#include "parallel/replica.h"
#include "parallel/run_output.h"
#include "tensor/blas.h"

namespace plait {

// One worker runs the replica loop directly (no communication at all, so a resumed
// run repeats the uninterrupted one bit for bit); more run data parallel on threads.
TrainSummary train(const TrainOptions& opt) {
  opt.validate();
  // Dedicated server ranks: their own architecture (docs/DATA_PARALLEL.md).
  if (opt.servers > 0) return train_param_server(opt);
  if (opt.backend == "mpi") return train_mpi(opt);
  set_blas_threads(opt.effective_blas_threads());
  const RunData data(opt);
  RunOutput out(opt);
  TrainSummary sum;
  if (opt.model_parallel()) {
    sum = train_mesh(opt, data, out);
  } else if (opt.workers > 1) {
    sum = train_data_parallel(opt, data, out);
  } else {
    Replica r(opt, data, 0, 0, opt.batch);
    r.out = &out;
    r.trace = &out.trace();
    r.start();
    sum = run_loop(r, end_step(opt, r.step));
  }
  out.end(sum);
  return sum;
}

}  // namespace plait
