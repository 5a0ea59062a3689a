#include "parallel/peer_snapshot.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "comm/collectives.h"
#include "fault/checkpoint.h"
#include "fault/checkpoint_names.h"
#include "fault/mapped_checkpoint.h"
#include "fault/memory_snapshot.h"
#include "parallel/shard_snapshot.h"
#include "parallel/train_state.h"
#include "util/error.h"

namespace plait {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

// PLAIT_TEST_LOSE_SNAPSHOT=primary|all: rank 0's copy (and the peer's) deleted, once per
// run directory (marker RUN/test-lost-snapshot).
void lose_snapshot_for_test(const std::string& dir, const std::string& run_dir) {
  const char* env = std::getenv("PLAIT_TEST_LOSE_SNAPSHOT");
  if (!env || run_dir.empty() || dir.empty()) return;
  if (std::strcmp(env, "primary") != 0 && std::strcmp(env, "all") != 0) return;  // node:R: shard_snapshot.h
  const fs::path mark = fs::path(run_dir) / "test-lost-snapshot";
  std::error_code ec;
  if (fs::exists(mark, ec)) return;
  if (std::FILE* f = std::fopen(mark.c_str(), "w")) std::fclose(f);
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename() != "peer") fs::remove_all(e.path(), ec);
  if (std::strcmp(env, "all") == 0) fs::remove_all(peer_snapshot_dir(dir), ec);
}

namespace {

// The snapshot this rank can read on its own node: rank 0's node holds the primary
// copy, the peer's node the peer's. {-1, ""} when none.
std::pair<int64_t, std::string> local_snapshot(const comm::Group& world, const std::string& dir) {
  std::pair<int64_t, std::string> best{-1, ""};
  const int me = world.node(world.rank());
  const int peer = snapshot_peer(world);
  if (me == world.node(0)) best = {fault::latest_step(dir), dir};
  if (peer >= 0 && me == world.node(peer)) {
    const std::string p = peer_snapshot_dir(dir);
    const int64_t s = fault::latest_step(p);
    if (s > best.first) best = {s, p};
  }
  return best;
}

struct Loaded {
  int64_t step = 0;
  nlohmann::json extra;
};

// Every rank takes `src`'s step and extra.
void send_head(comm::Group& world, int src, Loaded& got) {
  std::string extra = world.rank() == src ? got.extra.dump() : std::string();
  int64_t head[2] = {got.step, static_cast<int64_t>(extra.size())};
  comm::broadcast(world, std::as_writable_bytes(std::span<int64_t>(head, 2)), src);
  extra.resize(static_cast<size_t>(head[1]));
  comm::broadcast(world, std::as_writable_bytes(std::span<char>(extra.data(), extra.size())), src);
  got.step = head[0];
  got.extra = nlohmann::json::parse(extra);
}

// Every rank takes `src`'s state: parameters, both moments, the step and the extra.
void send_state(comm::Group& world, int src, Replica& r, Loaded& got) {
  comm::broadcast(world, std::as_writable_bytes(std::span<float>(r.model.params)), src);
  comm::broadcast(world, std::as_writable_bytes(std::span<float>(r.adam.m)), src);
  comm::broadcast(world, std::as_writable_bytes(std::span<float>(r.adam.v)), src);
  send_head(world, src, got);
}

// The arrays of the state, each with its tensors' name prefix in a checkpoint.
std::array<std::pair<const char*, std::span<float>>, 3> state_arrays(Replica& r) {
  return {{{"", r.model.params}, {"m.", r.adam.m}, {"v.", r.adam.v}}};
}

// Where each tensor of the state lies in the mapped snapshot, in the order of the
// arrays and the model's table: {bytes, array index, offset in it}; empty unless every
// tensor is stored whole with the model's shape (a data-parallel snapshot always is).
struct Part {
  std::span<const float> from;
  size_t array = 0, at = 0;
};
std::vector<Part> mapped_parts(const LoadedCheckpoint& ck, const MappedCheckpoint& mc, Replica& r) {
  std::vector<Part> parts;
  const auto arrays = state_arrays(r);
  for (size_t a = 0; a < arrays.size(); ++a)
    for (const ShardSpec& s : r.model.shards().specs()) {
      const std::string name = arrays[a].first + s.local.name;
      const std::span<const float> from = mc.whole(name);
      const bool whole = s.boxes.size() == 1 && s.boxes[0].shape() == s.full_shape &&
                         s.boxes[0].size() == s.local.size && ck.contains(name) &&
                         ck.shape(name) == s.full_shape;
      if (!whole || from.size() != s.local.size) return {};
      parts.push_back({from, a, s.local.offset});
    }
  return parts;
}

// Every rank takes `src`'s state, sent tensor by tensor straight from the snapshot's
// mapped files (`parts`, on src; the others post the same receives from their own
// table), while src copies them into its own arrays; then the step and the extra.
void send_mapped_state(comm::Group& world, int src, Replica& r, const std::vector<Part>& parts,
                       Loaded& got) {
  comm::Group xfer = world.dup("snapshot-restore");
  constexpr std::uint64_t kTensor = 1;
  const auto arrays = state_arrays(r);
  std::vector<comm::Request> q;
  if (world.rank() == src) {
    for (int k = 0; k < world.size(); ++k)
      for (const Part& p : parts)
        if (k != src) q.push_back(xfer.isend(k, kTensor, std::as_bytes(p.from)));
    for (const Part& p : parts) std::ranges::copy(p.from, arrays[p.array].second.begin() + p.at);
  } else {
    for (const auto& [prefix, arr] : arrays)
      for (const ShardSpec& s : r.model.shards().specs())
        q.push_back(xfer.irecv(src, kTensor, std::as_writable_bytes(arr.subspan(s.local.offset, s.local.size))));
  }
  for (auto& x : q) xfer.wait(x);
  send_head(world, src, got);
}

// The collective resume; returns where it came from, for rank 0's line.
std::string resume_from_peers(Replica& r, comm::Group& world, Loaded& got) {
  const TrainOptions& opt = r.opt;
  const std::string& dir = opt.memory_snapshot_dir;
  const auto fp = r.data.fingerprint(opt);
  const auto [mine, path] = local_snapshot(world, dir);
  std::vector<int64_t> all(world.size());
  comm::allgather_bytes(world, std::as_bytes(std::span<const int64_t>(&mine, 1)),
                        std::as_writable_bytes(std::span<int64_t>(all)));
  int src = 0;
  for (int k = 1; k < world.size(); ++k)
    if (all[k] > all[src]) src = k;
  std::string why;
  if (all[src] > fault::latest_step(opt.checkpoint_dir)) {
    // src opens and verifies the snapshot (sizes, XXH64, fingerprint, config), then
    // `how` it reaches the others: 2, sent from its mapped files (every tensor stored
    // whole); 1, loaded by src and broadcast; 0, unusable (everyone: the disk)
    int64_t how = 0;
    std::unique_ptr<MappedCheckpoint> mapped;
    std::vector<Part> parts;
    if (world.rank() == src) {
      try {
        const LoadedCheckpoint ck = load_checkpoint(path);
        check_train_state(ck, fp, r.model);
        got.step = ck.step();
        got.extra = ck.extra();
        mapped = std::make_unique<MappedCheckpoint>(ck);
        parts = mapped_parts(ck, *mapped, r);
        if (parts.empty()) {
          mapped.reset();
          got.step = read_train_state(ck, r.model, r.adam, &got.extra);
        }
        how = parts.empty() ? 1 : 2;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "the memory snapshot on rank %d's node is unusable (%s); resuming "
                     "from the disk\n", src, e.what());
      }
    }
    comm::broadcast(world, std::as_writable_bytes(std::span<int64_t>(&how, 1)), src);
    if (how) {
      if (how == 2) send_mapped_state(world, src, r, parts, got);
      else send_state(world, src, r, got);
      const bool peer_copy = src != 0 && world.node(src) != world.node(0);
      return std::string("in the memory snapshot on rank ") + std::to_string(src) + "'s node (" +
             (src == 0 || !peer_copy ? "rank 0's copy" : "the peer's copy") +
             (all[0] < 0 && src != 0 ? "; rank 0's node has none" : "") + ", sent to " +
             std::to_string(world.size() - 1) + " ranks)";
    }
  }
  if (!has_disk_checkpoint(opt.checkpoint_dir)) {
    r.model.init_weights(opt.seed);  // nothing anywhere: a new run (--resume auto)
    got = {};
    return "";
  }
  got.step = load_train_state(opt.checkpoint_dir, fp, r.model, r.adam, &got.extra);
  return "on disk";
}

}  // namespace

int snapshot_peer(const comm::Group& world) {
  if (world.size() < 2) return -1;
  for (int k = 1; k < world.size(); ++k)
    if (world.node(k) != world.node(0)) return k;
  return 1;
}

std::string peer_snapshot_dir(const std::string& dir) { return (fs::path(dir) / "peer").string(); }

void start_replica(Replica& r, comm::Group& world) {
  const TrainOptions& opt = r.opt;
  if (r.pieces && opt.resume) {  // ZeRO: the ranks' pieces (shard_snapshot.h), else the disk
    nlohmann::json extra;
    const int64_t step = restore_pieces(*r.pieces, opt, r.data.fingerprint(opt), r.model, r.adam,
                                        extra, world.rank() == 0);
    if (step >= 0) {
      r.step = step;
      r.resumed_extra = extra;
      r.data_shift = extra.value("data_shift", int64_t{0});
      return;
    }
  }
  if (!opt.resume || opt.memory_snapshot_dir.empty() || world.size() < 2) {
    r.start();
    return;
  }
  const auto t0 = Clock::now();
  Loaded got;
  const std::string from = resume_from_peers(r, world, got);
  if (world.rank() == 0 && from.empty())
    std::fprintf(stderr, "--resume auto: no memory snapshot on any node and no checkpoint in %s: "
                 "starting a new run\n", opt.checkpoint_dir.c_str());
  else if (world.rank() == 0)
    std::fprintf(stderr, "resumed from step %lld %s in %.1f ms\n", static_cast<long long>(got.step),
                 from.c_str(), ms_since(t0));
  check_resumable(opt, got.step);
  r.step = got.step;
  r.resumed_extra = got.extra;
  if (got.extra.is_object()) r.data_shift = got.extra.value("data_shift", int64_t{0});
}

}  // namespace plait
