#include "fault/checkpoint_writer.h"

#include <pthread.h>
#include <sys/mman.h>

#include <array>
#include <chrono>
#include <string>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "fault/checkpoint_names.h"
#include "fault/fsutil.h"
#include "util/background.h"

namespace plait {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kHugePage = 2 << 20;  // x86-64's and arm64's (4 KiB base) huge page

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

size_t floats_of(const std::vector<NamedTensor>& ts) {
  size_t n = 0;
  for (const NamedTensor& t : ts) n += t.data.size();
  return n;
}

// Copies each tensor's data to `at` and points the tensor there; advances `at`.
void copy_into(std::vector<NamedTensor>& ts, float*& at) {
  for (NamedTensor& t : ts) {
    if (!t.data.empty()) std::memcpy(at, t.data.data(), t.data.size() * sizeof(float));
    t.data = std::span<const float>(at, t.data.size());
    at += t.data.size();
  }
}

}  // namespace

CheckpointWriter::CheckpointWriter(std::filesystem::path run_dir, int keep_last,
                                   ShardWriter shard)
    : run_dir_(std::move(run_dir)), keep_last_(keep_last), shard_(std::move(shard)) {}

CheckpointWriter::~CheckpointWriter() {
  join();
  if (!error_) return;
  try {
    std::rethrow_exception(error_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plait: %s\n", e.what());
  }
}

void CheckpointWriter::join() {
  if (!thread_.joinable()) return;
  thread_.join();
  write_s_ += last_write_s_;
}

void CheckpointWriter::wait() {
  const auto t0 = Clock::now();
  join();
  blocked_s_ += since(t0);
  if (std::exception_ptr e = std::exchange(error_, nullptr)) std::rethrow_exception(e);
}

// The files' data offsets (checkpoint_data_offsets: building both headers' JSON),
// recomputed only when what their length mostly depends on changes: the number of the
// step's digits, the tensors. A stale guess costs only a copy of the data on the writer
// thread (the file's writes check the phase themselves), never a wrong byte.
CheckpointDataOffsets CheckpointWriter::data_offsets(const CheckpointData& data) {
  const std::array<size_t, 5> key{std::to_string(data.step).size(), data.model.size(),
                                  data.opt_m.size(), data.opt_v.size(),
                                  floats_of(data.model) + floats_of(data.opt_m)};
  if (key != offsets_key_) offsets_ = checkpoint_data_offsets(data, shard_), offsets_key_ = key;
  return offsets_;
}

// The memcpy on the training thread: after it the caller's arenas are free to change.
// Each file's tensors lie back to back in the arena, starting at the file's data offset
// modulo a block, so the file's direct writes send them to the disk from here, without
// another copy (fs::DurableFile).
void CheckpointWriter::snapshot(const CheckpointData& data) {
  pending_ = data;  // the JSON parts and the tensor list (still pointing at the caller's)
  constexpr size_t kBlock = fs::kDirectAlign;
  auto round_up = [](size_t n) { return (n + kBlock - 1) / kBlock * kBlock; };
  const CheckpointDataOffsets off = data_offsets(data);
  const size_t model_at = off.model % kBlock;
  const size_t opt_at =
      round_up(model_at + floats_of(data.model) * sizeof(float)) + off.optimizer % kBlock;
  const size_t need = round_up(opt_at + (floats_of(data.opt_m) + floats_of(data.opt_v)) * sizeof(float));
  if (need > arena_bytes_) {  // grows once; reused by every later snapshot
    // In transparent huge pages where the kernel allows them (a hint only): each
    // O_DIRECT write pins the pages it reads, a 2 MiB page at a time instead of 512 of
    // 4 KiB (the pinning was about a tenth of the writer's CPU).
    const size_t bytes = (need + kHugePage - 1) / kHugePage * kHugePage;
    arena_.reset(static_cast<std::byte*>(std::aligned_alloc(kHugePage, bytes)));
    if (!arena_) throw std::bad_alloc();
    ::madvise(arena_.get(), bytes, MADV_HUGEPAGE);
    arena_bytes_ = bytes;
  }
  float* at = reinterpret_cast<float*>(arena_.get() + model_at);
  copy_into(pending_.model, at);
  at = reinterpret_cast<float*>(arena_.get() + opt_at);
  copy_into(pending_.opt_m, at);
  copy_into(pending_.opt_v, at);
}

std::filesystem::path CheckpointWriter::submit(const CheckpointData& data) {
  wait();
  const auto t0 = Clock::now();
  snapshot(data);
  const std::filesystem::path dir = run_dir_ / ckpt::step_dir_name(data.step);
  thread_ = std::thread([this, dir] {
    pthread_setname_np(pthread_self(), "plait-ckpt");  // for top -H, perf, gdb
    const auto w0 = Clock::now();
    const BackgroundBusy busy;  // the training ranks' waits sleep rather than spin meanwhile
    try {
      save_checkpoint(run_dir_, pending_, keep_last_, shard_);
    } catch (const std::exception& e) {
      error_ = std::make_exception_ptr(CheckpointWriteError(
          "checkpoint write of '" + dir.string() + "' failed: " + e.what(), dir));
    }
    last_write_s_ = since(w0);
  });
  ++writes_;
  blocked_s_ += since(t0);
  return dir;
}

}  // namespace plait
