// The data-parallel sync vocabulary, shared by the runtime (comm/ runs the
// algorithms, parallel/ chooses one) and the planner (plan/ costs them): ONE enum,
// its names, and the choice a run makes when --sync is not given.
//
// Adding an allreduce algorithm: its value, place in kAlgorithms and name here; its
// file comm/allreduce_<name>.cpp and its line in comm/allreduce.cpp's factory; its
// cost in plan/collective_cost.cpp. -Werror=switch finds every switch that lacks it.
#pragma once
#include <array>
#include <optional>
#include <string>

namespace plait {

enum class SyncAlgorithm { ps, direct, ring, hierarchical, halving_doubling, mpi };
inline constexpr std::array<SyncAlgorithm, 6> kAlgorithms = {
    SyncAlgorithm::ps,           SyncAlgorithm::direct,           SyncAlgorithm::ring,
    SyncAlgorithm::hierarchical, SyncAlgorithm::halving_doubling, SyncAlgorithm::mpi};

constexpr const char* to_string(SyncAlgorithm a) {
  switch (a) {
    case SyncAlgorithm::ps:
      return "ps";
    case SyncAlgorithm::direct:
      return "direct";
    case SyncAlgorithm::ring:
      return "ring";
    case SyncAlgorithm::hierarchical:
      return "hierarchical";
    case SyncAlgorithm::halving_doubling:
      return "halving-doubling";
    case SyncAlgorithm::mpi:
      return "mpi";
  }
  return "?";
}

// to_string's names (also "hd" and "tree" for halving-doubling); UsageError otherwise.
SyncAlgorithm parse_algorithm(const std::string& name);
// "ps, direct, ..., mpi": every algorithm's name, for help texts and messages; without
// mpi when `in_process` (those that in-process workers run).
std::string algorithm_names(bool in_process = false);

struct SyncChoice {
  SyncAlgorithm algorithm = SyncAlgorithm::ring;
  std::string why;  // one line for the log
};

// The sync of a data-parallel group of `world` ranks on `nodes` nodes of equal size:
// `chosen` (--sync) if given, otherwise hierarchical across nodes of more than one
// rank, direct for 2 ranks, ring otherwise.
SyncChoice choose_sync(std::optional<SyncAlgorithm> chosen, int world, int nodes);

}  // namespace plait
