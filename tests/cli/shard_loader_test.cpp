// Generation's per-rank loader (cli/infer_layout.h weights_loader): each rank of a
// tp x pp layout reads only its boxes of the weights file, gets exactly the slices the
// whole-model path gives it (infer::whole_arena_loader), and reads (bytes the thread's
// read calls returned, /proc/thread-self/io) its part of the file, not all of it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

#include "cli/infer_layout.h"
#include "comm/comm.h"
#include "fault/safetensors.h"
#include "infer/mesh_decoder.h"
#include "model/gpt.h"

namespace plait::test {
namespace {

// rchar of this thread: bytes its read system calls returned so far.
uint64_t thread_read_bytes() {
  std::ifstream io("/proc/thread-self/io");
  std::string key;
  uint64_t v = 0;
  while (io >> key >> v)
    if (key == "rchar:") return v;
  return 0;
}

struct RankLoad {
  int rank = 0;
  bool same = false;
  size_t floats = 0;
  uint64_t bytes = 0;
};

TEST(ShardLoader, EachRankReadsOnlyItsSlicesAndGetsTheWholePathsOnes) {
  GPT m(GPTConfig{256, 32, 4, 64, 4});
  m.init_weights(3);
  char tmpl[] = "/tmp/plait-shard-loader-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir(tmpl), file = dir / "weights.safetensors";
  std::vector<safetensors::TensorOut> ts;
  for (const auto& s : m.table().specs())
    ts.push_back(safetensors::f32_tensor(s.name, s.shape, {m.params.data() + s.offset, s.size}));
  const GPTConfig& c = m.config();
  safetensors::write_file(file, ts,
                          {{"vocab", std::to_string(c.vocab)}, {"ctx", std::to_string(c.ctx)},
                           {"layers", std::to_string(c.layers)}, {"dim", std::to_string(c.dim)},
                           {"heads", std::to_string(c.heads)}});
  const double file_bytes = static_cast<double>(std::filesystem::file_size(file));
  const infer::ShardLoader from_file = cli::weights_loader(file.string());

  struct Case {
    int tp, pp;
    double most;  // the largest share of the file one rank may read
  };
  // A row-parallel matrix (attention and MLP output projections, split by columns) is
  // read as whole rows (its column slices are not contiguous in the file): a tp2 rank
  // reads 8.5 of a block's 12 C^2 weights, a tp4 rank 6.25.
  for (const Case k : {Case{2, 1, 0.8}, Case{1, 2, 0.6}, Case{2, 2, 0.45}, Case{4, 1, 0.65}}) {
    std::mutex mu;
    std::vector<RankLoad> loads;
    comm::ThreadsOptions o;
    o.world = k.tp * k.pp;
    comm::run_threads(o, [&](comm::Comm& comm) {
      const infer::MeshLayout L{k.tp, k.pp, {}};
      infer::MeshDecoder whole(comm, c, L, m.params, 1);
      uint64_t bytes = 0;
      infer::MeshDecoder own(comm, c, L, [&](const ShardTable& t, std::span<float> out) {
        const uint64_t before = thread_read_bytes();
        from_file(t, out);
        bytes = thread_read_bytes() - before;
      }, 1);
      const auto a = whole.shard_params(), b = own.shard_params();
      RankLoad r{comm.rank(), std::equal(a.begin(), a.end(), b.begin(), b.end()), b.size(), bytes};
      std::lock_guard lock(mu);
      loads.push_back(r);
    });
    ASSERT_EQ(loads.size(), size_t(k.tp * k.pp));
    for (const RankLoad& r : loads) {
      const std::string where = "tp" + std::to_string(k.tp) + " pp" + std::to_string(k.pp) +
                                " rank " + std::to_string(r.rank);
      EXPECT_TRUE(r.same) << where << ": slices differ from the whole-model path";
      // it read its floats (and the file's header), and no more than its share
      EXPECT_GE(r.bytes, 4 * r.floats) << where;
      EXPECT_LE(r.bytes, k.most * file_bytes) << where << " read " << r.bytes << " of " << file_bytes;
      std::printf("%s: read %llu bytes of %.0f (%.2f)\n", where.c_str(),
                  static_cast<unsigned long long>(r.bytes), file_bytes, r.bytes / file_bytes);
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace plait::test
