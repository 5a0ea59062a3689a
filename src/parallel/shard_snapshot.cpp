#include "parallel/shard_snapshot.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include "comm/collectives.h"
#include "fault/checkpoint_names.h"
#include "fault/memory_snapshot.h"
#include "fault/mapped_checkpoint.h"
#include "parallel/group_min.h"
#include "parallel/run_loop.h"
#include "parallel/train_state.h"
#include "util/error.h"

namespace plait {
namespace {

namespace fs = std::filesystem;

// The piece's tensors in a checkpoint: "arena" [n], "m.arena", "v.arena".
constexpr const char* kName = "arena";
// p2p tags on the transfer group: the header, the manifest's JSON, the floats.
constexpr uint64_t kHead = 0, kJson = 1, kData = 2;

std::string own_dir(const std::string& dir, int r) { return dir + "/rank-" + std::to_string(r); }
std::string copy_dir(const std::string& dir, int r) { return dir + "/copy-" + std::to_string(r); }

// A piece's checkpoint: the manifest fields of `meta`, tensors viewing `buf` (3 x n).
CheckpointData piece_data(const CheckpointData& meta, std::span<const float> buf) {
  CheckpointData d = meta;
  const size_t n = buf.size() / 3;
  const std::vector<int64_t> shape{static_cast<int64_t>(n)};
  d.model = {{kName, shape, buf.subspan(0, n), {}, {}}};
  d.opt_m = {{kName, shape, buf.subspan(n, n), {}, {}}};
  d.opt_v = {{kName, shape, buf.subspan(2 * n, n), {}, {}}};
  return d;
}

// The step of the piece in `path` if it is rank r's under `layout`, else -1 (a cheap
// look at the manifest; the load verifies everything).
int64_t piece_step(const std::string& path, const std::string& layout, int r) {
  const int64_t step = fault::latest_step(path);
  if (step < 0) return -1;
  std::ifstream f(fs::path(path) / ckpt::step_dir_name(step) / ckpt::kManifest);
  const auto j = nlohmann::json::parse(f, nullptr, false);
  if (!j.is_object() || !j.contains("extra") || !j["extra"].contains("snapshot")) return -1;
  const auto& s = j["extra"]["snapshot"];
  if (s.value("layout", "") != layout || s.value("rank", -1) != r) return -1;
  return step;
}

// Where a piece of n floats per array goes: its params, m and v (each n floats).
using PieceSpans = std::array<std::span<float>, 3>;

// Rank r's piece of `step` in `path`, opened and verified (sizes, XXH64, the options'
// fingerprint, layout, rank and step); throws what is wrong.
LoadedCheckpoint open_piece(const std::string& path, const nlohmann::json& fingerprint,
                            const std::string& layout, int r, int64_t step) {
  LoadedCheckpoint ck = load_checkpoint(path);
  check_fingerprint(ck, fingerprint);
  const auto& s = ck.extra().at("snapshot");
  if (s.at("layout") != layout || s.at("rank") != r || ck.step() != step)
    throw UsageError("memory snapshot " + ck.dir().string() + " is not rank " + std::to_string(r) +
                     "'s piece of step " + std::to_string(step) + " in this layout");
  return ck;
}

size_t piece_floats(const LoadedCheckpoint& ck) {  // per array
  return ck.extra().at("snapshot").at("count").get<size_t>();
}

const std::array<std::string, 3> kArrays = {kName, std::string("m.") + kName,
                                            std::string("v.") + kName};

// Rank r's piece from `path`, verified, into `into(n)`'s spans (n: the piece's floats
// per array); throws what is wrong. The files are verified (sizes, XXH64) before
// anything is written; a failure after that sends every rank to the disk, whose load
// writes every array whole.
nlohmann::json load_piece(const std::string& path, const nlohmann::json& fingerprint,
                          const std::string& layout, int r, int64_t step,
                          const std::function<PieceSpans(size_t)>& into) {
  const LoadedCheckpoint ck = open_piece(path, fingerprint, layout, r, step);
  const size_t n = piece_floats(ck);
  const PieceSpans out = into(n);
  const std::vector<int64_t> shape{static_cast<int64_t>(n)};
  for (size_t i = 0; i < kArrays.size(); ++i) ck.read(kArrays[i], shape, out[i]);
  return ck.extra();
}

// A verified piece's three arrays as they lie in its snapshot's files (mapped: a piece
// restored for another rank is sent from them without being loaded into a buffer).
struct MappedPiece {
  explicit MappedPiece(const LoadedCheckpoint& ck) : files(ck) {
    const size_t n = piece_floats(ck);
    for (size_t i = 0; i < kArrays.size(); ++i) {
      arrays[i] = files.whole(kArrays[i]);
      if (arrays[i].size() != n)
        throw UsageError("memory snapshot " + ck.dir().string() + ": tensor '" + kArrays[i] +
                         "' is not the piece's " + std::to_string(n) + " floats");
    }
  }
  MappedCheckpoint files;
  std::array<std::span<const float>, 3> arrays;  // params, m, v of the piece's range
};

}  // namespace

int snapshot_keeper(const comm::Group& world, int r) {
  const int w = world.size();
  if (w < 2) return -1;
  const int nodes = world.node_count();
  if (nodes < 2) return (r + 1) % w;
  const std::vector<int> here = world.node_members(world.node(r));
  const size_t at = static_cast<size_t>(std::find(here.begin(), here.end(), r) - here.begin());
  const std::vector<int> next = world.node_members((world.node(r) + 1) % nodes);
  return next[at % next.size()];
}

ShardSnapshots::ShardSnapshots(comm::Group& world, comm::Group replicas, size_t arena,
                               std::string layout, std::string dir)
    : world_(world),
      xfer_(world.dup("snapshot-pieces")),
      replicas_(std::move(replicas)),
      arena_(arena),
      layout_(std::move(layout)),
      dir_(std::move(dir)) {
  const comm::Shard s = comm::shard_of(arena_, replicas_.size(), replicas_.rank());
  offset_ = s.offset;
  count_ = s.count;
  peer_ = snapshot_keeper(world_, world_.rank());
  for (int r = 0; r < world_.size(); ++r)
    if (r != world_.rank() && snapshot_keeper(world_, r) == world_.rank()) keeps_.push_back(r);
}

ShardSnapshots::~ShardSnapshots() {
  if (thread_.joinable()) thread_.join();
}

void ShardSnapshots::wait() {
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ShardSnapshots::submit(CheckpointData meta, std::span<const float> params,
                            std::span<const float> m, std::span<const float> v) {
  wait();
  buf_.resize(3 * count_);
  const auto range = [&](std::span<const float> a) {
    return a.size() == arena_ ? a.subspan(offset_, count_) : a.first(count_);
  };
  std::copy_n(params.data() + offset_, count_, buf_.begin());
  std::ranges::copy(range(m), buf_.begin() + static_cast<ptrdiff_t>(count_));
  std::ranges::copy(range(v), buf_.begin() + static_cast<ptrdiff_t>(2 * count_));
  meta.attachments.clear();  // the tokenizer's files: in the disk's checkpoints
  meta.extra["snapshot"] = {{"layout", layout_}, {"rank", world_.rank()},
                            {"world", world_.size()}, {"offset", offset_}, {"count", count_}};
  meta_ = std::move(meta);
  thread_ = std::thread([this] {
    try {
      exchange();
    } catch (...) {
      error_ = std::current_exception();
    }
  });
}

void ShardSnapshots::exchange() {
  save_checkpoint(own_dir(dir_, world_.rank()), piece_data(meta_, buf_), 1);
  if (peer_ < 0) return;
  const std::string json = nlohmann::json{{"step", meta_.step}, {"config", meta_.config},
                                          {"options", meta_.options}, {"rng", meta_.rng},
                                          {"extra", meta_.extra}, {"tokenizer", meta_.tokenizer}}
                               .dump();
  const int64_t head[2] = {static_cast<int64_t>(json.size()), static_cast<int64_t>(buf_.size())};
  std::vector<comm::Request> sends;
  sends.push_back(xfer_.isend(peer_, kHead, std::as_bytes(std::span<const int64_t>(head, 2))));
  sends.push_back(xfer_.isend(peer_, kJson, std::as_bytes(std::span<const char>(json))));
  sends.push_back(xfer_.isend(peer_, kData, std::as_bytes(std::span<const float>(buf_))));
  for (int r : keeps_) {
    int64_t h[2] = {0, 0};
    xfer_.recv(r, kHead, std::as_writable_bytes(std::span<int64_t>(h, 2)));
    std::string j(static_cast<size_t>(h[0]), '\0');
    xfer_.recv(r, kJson, std::as_writable_bytes(std::span<char>(j)));
    std::vector<float> got(static_cast<size_t>(h[1]));
    xfer_.recv(r, kData, std::as_writable_bytes(std::span<float>(got)));
    const auto mj = nlohmann::json::parse(j);
    CheckpointData meta;
    meta.step = mj.at("step").get<int64_t>();
    meta.config = mj.at("config");
    meta.options = mj.at("options");
    meta.rng = mj.at("rng");
    meta.extra = mj.at("extra");
    meta.tokenizer = mj.at("tokenizer");
    save_checkpoint(copy_dir(dir_, r), piece_data(meta, got), 1);
  }
  for (auto& s : sends) xfer_.wait(s);
}

// PLAIT_TEST_LOSE_SNAPSHOT=node:R: world rank 0 deletes every piece on R's node.
void ShardSnapshots::lose_node_for_test(const std::string& run_dir) {
  const char* env = std::getenv("PLAIT_TEST_LOSE_SNAPSHOT");
  int lost = -1;
  if (!env || std::sscanf(env, "node:%d", &lost) != 1 || lost < 0 || lost >= world_.size()) return;
  const fs::path mark = fs::path(run_dir) / "test-lost-snapshot";
  std::error_code ec;
  const bool first = !fs::exists(mark, ec);
  comm::barrier(world_);  // everyone has looked before rank 0 marks it
  if (world_.rank() == 0 && first) {
    if (std::FILE* f = std::fopen(mark.c_str(), "w")) std::fclose(f);
    const int node = world_.node(lost);
    for (int r = 0; r < world_.size(); ++r) {
      if (world_.node(r) == node) fs::remove_all(own_dir(dir_, r), ec);
      const int k = snapshot_keeper(world_, r);
      if (k >= 0 && world_.node(k) == node) fs::remove_all(copy_dir(dir_, r), ec);
    }
  }
  comm::barrier(world_);
}

namespace {

// Who restores piece r at `step`: (rank, copy?) from every rank's view `all` (rank q's
// entries 2r: r's own piece on q's node, 2r + 1: its copy there); r itself first, then
// the lowest rank, an own piece before a copy. {-1, false} when nobody has it.
std::pair<int, bool> holder(const std::vector<int64_t>& all, int w, int r, int64_t step) {
  const auto at = [&](int q, int kind) { return all[static_cast<size_t>(q) * 2 * w + 2 * r + kind]; };
  for (int kind : {0, 1})
    if (at(r, kind) == step) return {r, kind == 1};
  for (int kind : {0, 1})
    for (int q = 0; q < w; ++q)
      if (at(q, kind) == step) return {q, kind == 1};
  return {-1, false};
}

// The newest step at which every rank's piece is held somewhere, -1 if none.
int64_t complete_step(const std::vector<int64_t>& all, int w) {
  std::vector<int64_t> steps(all);
  std::sort(steps.rbegin(), steps.rend());
  for (int64_t s : steps) {
    if (s < 0) break;
    bool every = true;
    for (int r = 0; r < w && every; ++r) every = holder(all, w, r, s).first >= 0;
    if (every) return s;
  }
  return -1;
}

void broadcast_json(comm::Group& g, nlohmann::json& j, int root) {
  std::string text = g.rank() == root ? j.dump() : std::string();
  int64_t n = static_cast<int64_t>(text.size());
  comm::broadcast(g, std::as_writable_bytes(std::span<int64_t>(&n, 1)), root);
  text.resize(static_cast<size_t>(n));
  comm::broadcast(g, std::as_writable_bytes(std::span<char>(text.data(), text.size())), root);
  j = nlohmann::json::parse(text);
}

}  // namespace

int64_t ShardSnapshots::restore(const nlohmann::json& fingerprint, int64_t disk_step,
                                std::span<float> params, std::span<float> m,
                                std::span<float> v, nlohmann::json& extra, std::string& from) {
  const int w = world_.size(), me = world_.rank(), node = world_.node(me);
  std::vector<int64_t> mine(2 * static_cast<size_t>(w), -1);
  for (int r = 0; r < w; ++r) {
    if (world_.node(r) == node) mine[2 * r] = piece_step(own_dir(dir_, r), layout_, r);
    const int k = snapshot_keeper(world_, r);
    if (k >= 0 && world_.node(k) == node) mine[2 * r + 1] = piece_step(copy_dir(dir_, r), layout_, r);
  }
  std::vector<int64_t> all(mine.size() * w);
  comm::allgather_bytes(world_, std::as_bytes(std::span<const int64_t>(mine)),
                        std::as_writable_bytes(std::span<int64_t>(all)));
  const int64_t step = complete_step(all, w);
  if (step < 0 || step <= disk_step) return -1;
  // Every holder verifies the pieces it restores; any failure sends every rank to the
  // disk (whose load writes every array whole, so what was written here does not
  // matter). The order keeps a keeper's work short when a node was lost: first each
  // piece this rank restores for ANOTHER rank, verified and sent straight from its
  // snapshot's mapped pages (a header first: its floats per array, 0 when it is
  // unusable), while a thread reads this rank's own piece, held here, straight into its
  // arrays; or, held elsewhere, it is received straight into them.
  const auto range = [&](std::span<float> a) {  // this rank's range of an array
    return a.subspan(a.size() == arena_ ? offset_ : 0, count_);
  };
  nlohmann::json first_extra;
  int64_t ok = 1;
  const auto unusable = [&](int r, const std::string& why) {
    std::fprintf(stderr, "the memory snapshot of rank %d's piece is unusable (%s); resuming "
                 "from the disk\n", r, why.c_str());
    ok = 0;
  };
  // This rank's own piece, held here: read on a thread of its own, beside the pieces
  // for others below (a keeper of a lost node's pieces does both at once).
  const int source = holder(all, w, me, step).first;
  std::string own_failure;
  std::thread own;
  if (source == me)
    own = std::thread([&] {
      try {
        nlohmann::json e = load_piece(own_dir(dir_, me), fingerprint, layout_, me, step, [&](size_t n) {
          if (n != count_)
            throw UsageError("rank " + std::to_string(me) + "'s piece holds " + std::to_string(n) +
                             " floats per array, not " + std::to_string(count_));
          return PieceSpans{range(params), range(m), range(v)};
        });
        if (me == 0) first_extra = std::move(e);
      } catch (const std::exception& e) {
        own_failure = e.what();
        if (own_failure.empty()) own_failure = "unknown";
      }
    });
  struct Join {  // the thread writes into this frame: joined on every way out
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join_own{own};
  std::vector<std::unique_ptr<MappedPiece>> mapped;  // until their sends complete
  std::vector<int64_t> heads(w, 0);
  std::vector<comm::Request> sends;
  int copies = 0;
  for (int r = 0; r < w; ++r) {
    const auto [q, copy] = holder(all, w, r, step);
    copies += copy;
    if (q != me || r == me) continue;
    try {
      const LoadedCheckpoint ck =
          open_piece(copy ? copy_dir(dir_, r) : own_dir(dir_, r), fingerprint, layout_, r, step);
      mapped.push_back(std::make_unique<MappedPiece>(ck));
      heads[r] = static_cast<int64_t>(piece_floats(ck));
      if (r == 0) first_extra = ck.extra();
    } catch (const std::exception& e) {
      unusable(r, e.what());
    }
    sends.push_back(xfer_.isend(r, kHead, std::as_bytes(std::span<const int64_t>(&heads[r], 1))));
    if (heads[r] > 0)
      for (std::span<const float> a : mapped.back()->arrays)
        sends.push_back(xfer_.isend(r, kData, std::as_bytes(a)));
  }
  if (source == me) {
    own.join();
    if (!own_failure.empty()) unusable(me, own_failure);
  } else {
    int64_t n = 0;
    xfer_.recv(source, kHead, std::as_writable_bytes(std::span<int64_t>(&n, 1)));
    std::vector<float> scratch;  // a piece of the wrong size: taken, then the disk
    if (n > 0 && static_cast<size_t>(n) != count_) {
      unusable(me, "rank " + std::to_string(source) + " sent " + std::to_string(n) +
                       " floats per array, not " + std::to_string(count_));
      scratch.resize(static_cast<size_t>(n));
    }
    if (n == 0) ok = 0;  // its holder said why
    for (std::span<float> a : {params, m, v})
      if (n > 0)
        xfer_.recv(source, kData, std::as_writable_bytes(scratch.empty() ? range(a) : std::span<float>(scratch)));
  }
  for (auto& s : sends) xfer_.wait(s);
  mapped.clear();
  if (min_over(world_, ok) == 0) return -1;
  for (std::span<float> a : {params, m, v})
    if (a.size() == arena_) comm::allgather(replicas_, a);  // the group's pieces: its arena
  broadcast_json(world_, first_extra, holder(all, w, 0, step).first);
  extra = std::move(first_extra);
  extra.erase("snapshot");
  from = "in the memory snapshot: " + std::to_string(w) + " ranks' pieces, " +
         std::to_string(copies) + " of them from a peer's copy";
  return step;
}

int64_t restore_pieces(ShardSnapshots& pieces, const TrainOptions& opt,
                       const nlohmann::json& fingerprint, GPT& model, AdamW& adam,
                       nlohmann::json& extra, bool say) {
  pieces.lose_node_for_test(opt.checkpoint_dir);  // before the clock: the loss came first
  const auto t0 = std::chrono::steady_clock::now();
  std::string from;
  const int64_t step = pieces.restore(fingerprint, fault::latest_step(opt.checkpoint_dir),
                                      model.params, adam.m, adam.v, extra, from);
  if (step < 0) return -1;
  if (say)
    std::fprintf(stderr, "resumed from step %lld %s in %.1f ms\n", static_cast<long long>(step),
                 from.c_str(),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  check_resumable(opt, step);
  return step;
}

std::string piece_layout(const TrainOptions& opt, int ranks) {
  std::string stages;
  for (int s : opt.stages) {
    if (!stages.empty()) stages += ',';
    stages += std::to_string(s);
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "mesh dp%d x tp%d x pp%d, zero %d, stages %s on %d ranks",
                ranks / (opt.tp * opt.pp), opt.tp, opt.pp, opt.zero,
                stages.empty() ? "even" : stages.c_str(), ranks);
  return buf;
}

}  // namespace plait
