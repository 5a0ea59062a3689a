// A seeded mutation fuzzer for the checkpoint loader and the safetensors reader
// (docs/SECURITY.md, "Fuzzing"). A fixed corpus (a 2-rank sharded checkpoint, a lone
// safetensors file) is mutated by a fixed-seed RNG: bit flips, bytes set to extreme
// values, truncation, junk appended, the header length overwritten, numbers in the JSON
// replaced by 2^64-1, 2^32+1, -1, 1e308, values replaced by [], {}, "", null. After a
// safetensors file is mutated, its size and XXH64 in manifest.json are usually fixed
// up, so the mutation reaches the header parser and the shard checks instead of
// stopping at the checksum. Every load must end in success or a plait::UsageError /
// RuntimeError: no other exception (std::bad_alloc under a 2 GiB address-space
// headroom = an unbounded allocation), no crash, no hang (an alarm kills a load past
// 20 s). PLAIT_FUZZ_ITERATIONS and PLAIT_FUZZ_SEED run it longer or elsewhere.
#include <sys/resource.h>
#include <unistd.h>

#include <barrier>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "fault/checkpoint.h"
#include "fault/hash.h"
#include "fault/safetensors.h"
#include "fault_helpers.h"

namespace plait {
namespace {

namespace stdfs = std::filesystem;
using fault_testing::read_bytes;
using fault_testing::TempDir;
using fault_testing::write_bytes;

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// The corpus: a checkpoint written by 2 ranks, "w" [8, 6] split by rows, "b" [6]
// replicated (kept once), the moments of "w" split likewise.
stdfs::path make_checkpoint(const stdfs::path& run) {
  std::barrier sync(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.emplace_back([&, r] {
      std::vector<float> w(24), b(6), m(24);
      for (int i = 0; i < 24; ++i) w[i] = 0.5f * i + r, m[i] = 0.01f * i;
      for (int i = 0; i < 6; ++i) b[i] = 1.0f + i;
      CheckpointData d;
      d.step = 3;
      d.config = {{"layers", 1}, {"dim", 6}};
      d.rng = {{"rank", r}};
      d.model.push_back({"w", {4, 6}, w, {8, 6}, {4 * r, 0}});
      d.model.push_back({"b", {6}, b, {}, {}});
      d.opt_m.push_back({"w", {4, 6}, m, {8, 6}, {4 * r, 0}});
      save_checkpoint(run, d, 0, {r, 2, [&] { sync.arrive_and_wait(); }});
    });
  for (auto& t : ranks) t.join();
  return run / "step-00000003";
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}
  size_t below(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  // One mutation of `s`; `header_end` bounds where structure lives (0: anywhere).
  std::string mutate(std::string s, size_t header_end, std::string& what) {
    const size_t hot = header_end > 0 && below(4) != 0 ? std::min(header_end, s.size()) : s.size();
    switch (below(8)) {
      case 0: {  // flip bits
        for (size_t k = 0, n = 1 + below(4); k < n && hot > 0; ++k) s[below(hot)] ^= static_cast<char>(1 << below(8));
        what = "bit flips";
        break;
      }
      case 1: {  // extreme bytes
        static const char bytes[] = {'\0', '\xff', '"', '[', '{', '-', '9', '@'};
        if (hot > 0) s[below(hot)] = bytes[below(sizeof bytes)];
        what = "extreme byte";
        break;
      }
      case 2: s.resize(below(s.size() + 1)); what = "truncated"; break;
      case 3: s += std::string(1 + below(64), static_cast<char>(below(256))); what = "junk appended"; break;
      case 4: {  // the header length
        if (s.size() >= 8) {
          static const uint64_t lens[] = {0, 7, 1ull << 32, ~0ull, 1ull << 62};
          uint64_t n = below(2) ? lens[below(5)] : below(s.size() * 2);
          std::memcpy(s.data(), &n, 8);
        }
        what = "header length";
        break;
      }
      case 5:
      case 6: {  // a number in the JSON replaced by an extreme one
        static const std::regex num("-?[0-9]+");
        std::vector<std::pair<size_t, size_t>> spots;
        const std::string head = s.substr(0, hot);
        for (auto it = std::sregex_iterator(head.begin(), head.end(), num); it != std::sregex_iterator(); ++it)
          spots.emplace_back(it->position(), it->length());
        if (spots.empty()) break;
        static const char* big[] = {"18446744073709551615", "4294967297", "-1", "1e308", "0",
                                    "288230376151711936", "9223372036854775807", "2"};
        auto [at, len] = spots[below(spots.size())];
        s.replace(at, len, big[below(8)]);
        what = "number replaced";
        break;
      }
      default: {  // a value replaced by another JSON type
        const size_t colon = s.find(':', below(hot));
        if (colon == std::string::npos || colon >= hot) break;
        static const char* vals[] = {"[]", "{}", "\"\"", "null", "[[1,2],[3]]", "\"\\u0000\""};
        const size_t end = s.find_first_of(",}", colon + 1);
        if (end == std::string::npos) break;
        s.replace(colon + 1, end - colon - 1, vals[below(6)]);
        what = "value replaced";
      }
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

size_t header_end(const std::string& st) {
  if (st.size() < 8) return 0;
  uint64_t n = 0;
  std::memcpy(&n, st.data(), 8);
  return n > st.size() ? st.size() : 8 + n;
}

// Loads `dir` and reads every tensor; true if it loaded. Fails the test on anything
// but success or plait's own errors.
bool load_all(const stdfs::path& dir, const std::string& what) {
  alarm(20);  // a hang is killed (and the test with it)
  bool ok = false;
  try {
    const LoadedCheckpoint c = load_checkpoint(dir);
    for (const std::string& name : c.names()) {
      const auto& shape = c.shape(name);
      std::vector<float> out(static_cast<size_t>(safetensors::numel(shape)));
      c.read(name, shape, out);
    }
    ok = true;
  } catch (const UsageError&) {
  } catch (const RuntimeError&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": " << typeid(e).name() << ": " << e.what();
  }
  alarm(0);
  return ok;
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : stdfs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Bounds the address space to what the process maps now plus 2 GiB, for this test's
// process only (ctest runs each test in its own process).
void limit_memory() {
  std::ifstream st("/proc/self/status");
  std::string line;
  uint64_t vm_kb = 0;
  while (std::getline(st, line))
    if (line.rfind("VmSize:", 0) == 0) vm_kb = std::strtoull(line.c_str() + 7, nullptr, 10);
  rlimit r{};
  r.rlim_cur = r.rlim_max = vm_kb * 1024 + (2ull << 30);
  setrlimit(RLIMIT_AS, &r);
}

TEST(Fuzz, MutatedCheckpointsLoadOrFailCleanly) {
  const uint64_t n = env_or("PLAIT_FUZZ_ITERATIONS", 600), seed = env_or("PLAIT_FUZZ_SEED", 18);
  TempDir tmp;
  const stdfs::path orig = make_checkpoint(tmp / "run");
  ASSERT_TRUE(load_all(orig, "the unmutated corpus"));
  limit_memory();
  const std::vector<std::string> files = {"manifest.json", "model-rank00000.safetensors",
                                          "model-rank00001.safetensors",
                                          "optimizer-rank00000.safetensors"};
  Mutator mut(seed);
  size_t loaded = 0;
  const size_t fds = open_fds();
  for (uint64_t i = 0; i < n; ++i) {
    const stdfs::path dir = tmp / "step-00000003";
    stdfs::remove_all(dir);
    stdfs::copy(orig, dir);
    const std::string file = files[mut.below(files.size())];
    std::string bytes = read_bytes(dir / file), what;
    const bool st = file != "manifest.json";
    bytes = mut.mutate(bytes, st ? header_end(bytes) : 0, what);
    write_bytes(dir / file, bytes);
    if (st && mut.below(5) != 0) {  // keep the checksum right: reach the parser
      nlohmann::json m = nlohmann::json::parse(read_bytes(dir / "manifest.json"));
      for (auto& f : m["files"])
        if (f["file"] == file) {
          f["bytes"] = bytes.size();
          f["xxh64"] = hex64(xxh64(std::as_bytes(std::span<const char>(bytes))));
        }
      write_bytes(dir / "manifest.json", m.dump());
    }
    loaded += load_all(dir, "mutation " + std::to_string(i) + " (" + what + " of " + file + ")");
  }
  EXPECT_EQ(open_fds(), fds) << "a refused file leaked its descriptor";
  std::printf("%llu mutations (seed %llu): %zu still loaded, the rest refused cleanly\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(seed), loaded);
}

TEST(Fuzz, MutatedSafetensorsFilesReadOrFailCleanly) {
  const uint64_t n = env_or("PLAIT_FUZZ_ITERATIONS", 300), seed = env_or("PLAIT_FUZZ_SEED", 18) + 1;
  TempDir tmp;
  const stdfs::path orig = make_checkpoint(tmp / "run") / "model-rank00001.safetensors";
  const std::string base = read_bytes(orig);
  limit_memory();
  Mutator mut(seed);
  const size_t fds = open_fds();
  for (uint64_t i = 0; i < n; ++i) {
    std::string what;
    write_bytes(tmp / "f.safetensors", mut.mutate(base, header_end(base), what));
    alarm(20);
    try {
      safetensors::Reader r(tmp / "f.safetensors");
      for (const auto& t : r.tensors()) {
        std::vector<std::byte> out(t.end - t.begin);
        r.read_bytes(t, out);
      }
    } catch (const UsageError&) {
    } catch (const RuntimeError&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "mutation " << i << " (" << what << "): " << e.what();
    }
    alarm(0);
  }
  EXPECT_EQ(open_fds(), fds) << "a refused file leaked its descriptor";
}

}  // namespace
}  // namespace plait
