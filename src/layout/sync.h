// The data-parallel sync vocabulary, shared by the runtime (comm/ runs the
// algorithms, parallel/ chooses one) and the planner (plan/ costs them): ONE enum,
// its names, and the choice a run makes when --sync is not given.
//
// Adding an allreduce algorithm: a value here (and its name in sync.cpp), its file
// comm/allreduce_<name>.cpp (registered in comm/allreduce.cpp), its cost in
// plan/collective_cost.cpp. -Werror=switch finds every switch that lacks it.
#pragma once
#include <array>
#include <optional>
#include <string>

namespace plait {

enum class SyncAlgorithm { ps, direct, ring, hierarchical, halving_doubling, mpi };
inline constexpr std::array<SyncAlgorithm, 6> kAlgorithms = {
    SyncAlgorithm::ps,           SyncAlgorithm::direct,           SyncAlgorithm::ring,
    SyncAlgorithm::hierarchical, SyncAlgorithm::halving_doubling, SyncAlgorithm::mpi};

// "ps", "direct", "ring", "hierarchical", "halving-doubling" (also "hd", "tree"),
// "mpi"; UsageError otherwise.
SyncAlgorithm parse_algorithm(const std::string& name);
const char* to_string(SyncAlgorithm a);

struct SyncChoice {
  SyncAlgorithm algorithm = SyncAlgorithm::ring;
  std::string why;  // one line for the log
};

// The sync of a data-parallel group of `world` ranks on `nodes` nodes of equal size:
// `chosen` (--sync) if given, otherwise hierarchical across nodes of more than one
// rank, direct for 2 ranks, ring otherwise.
SyncChoice choose_sync(std::optional<SyncAlgorithm> chosen, int world, int nodes);

}  // namespace plait
