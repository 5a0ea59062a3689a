// The factory: each algorithm's file (allreduce_<name>.cpp) defines its make_allreduce_<name>;
// the names are layout/sync.h's.
#include <memory>

#include "comm/collectives.h"
#include "util/error.h"

namespace plait::comm {

std::unique_ptr<Allreduce> make_allreduce_ps(Group& group, int servers);
std::unique_ptr<Allreduce> make_allreduce_direct(Group& group);
std::unique_ptr<Allreduce> make_allreduce_ring(Group& group);
std::unique_ptr<Allreduce> make_allreduce_hierarchical(Group& group);
std::unique_ptr<Allreduce> make_allreduce_halving_doubling(Group& group);
std::unique_ptr<Allreduce> make_allreduce_mpi(Group& group);

std::unique_ptr<Allreduce> make_allreduce(Group& group, const AllreduceOptions& o) {
  switch (o.algorithm) {
    case Algorithm::ps:
      return make_allreduce_ps(group, o.servers);
    case Algorithm::direct:
      return make_allreduce_direct(group);
    case Algorithm::ring:
      return make_allreduce_ring(group);
    case Algorithm::hierarchical:
      return make_allreduce_hierarchical(group);
    case Algorithm::halving_doubling:
      return make_allreduce_halving_doubling(group);
    case Algorithm::mpi:
      return make_allreduce_mpi(group);
  }
  throw UsageError("unknown allreduce algorithm");
}

void allreduce(Group& group, std::span<float> data, const AllreduceOptions& options) {
  make_allreduce(group, options)->run(data);
}

void allreduce(Group& group, std::span<double> data, const AllreduceOptions& options) {
  make_allreduce(group, options)->run(data);
}

}  // namespace plait::comm
