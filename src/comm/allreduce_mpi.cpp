// The baseline: MPI_Allreduce itself, OpenMPI choosing its own algorithm.
//
// Only under the MPI backend. MPI_Allreduce cannot be interrupted, so its timeout is
// a watchdog: if the call has not returned within the group's timeout, the job ends
// (MPI_Abort) after printing which collective, sequence number and group it was.
#include "comm/collectives.h"
#include "util/error.h"

namespace plait::comm {
namespace {

class AllreduceMpi final : public Allreduce {
 public:
  explicit AllreduceMpi(Group& g) : group_(g) {
    if (g.backend() != Backend::mpi)
      throw UsageError(
          "allreduce algorithm 'mpi' needs the MPI backend (--backend mpi under mpirun)");
  }

  void run(Bytes data, DType dtype) override {
    const OpLabel op{"allreduce(mpi)", group_.next_seq(), true};
    if (group_.size() == 1 || data.empty()) return;
    group_.transport().native_allreduce(data, dtype, op);
  }

 private:
  Group group_;
};

}  // namespace

std::unique_ptr<Allreduce> make_allreduce_mpi(Group& group) {
  return std::make_unique<AllreduceMpi>(group);
}

}  // namespace plait::comm
