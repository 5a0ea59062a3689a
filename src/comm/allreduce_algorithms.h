// The allreduce algorithms, one per file (allreduce_<name>.cpp); make_allreduce
// (allreduce.cpp) picks one by name.
#pragma once
#include <memory>

#include "comm/collectives.h"

namespace plait::comm {

std::unique_ptr<Allreduce> make_allreduce_ps(Group& group, int servers);
std::unique_ptr<Allreduce> make_allreduce_direct(Group& group);
std::unique_ptr<Allreduce> make_allreduce_ring(Group& group);
std::unique_ptr<Allreduce> make_allreduce_hierarchical(Group& group);
std::unique_ptr<Allreduce> make_allreduce_halving_doubling(Group& group);
std::unique_ptr<Allreduce> make_allreduce_mpi(Group& group);

}  // namespace plait::comm
