#include "fault/checkpoint_writer.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include "fault/checkpoint_names.h"

namespace plait {
namespace {

using Clock = std::chrono::steady_clock;

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

// The memcpy on the training thread: after it the caller's arenas are free to change.
void CheckpointWriter::snapshot(const CheckpointData& data) {
  pending_ = data;  // the JSON parts and the tensor list (still pointing at the caller's)
  buffer_.resize(floats_of(pending_.model) + floats_of(pending_.opt_m) +
                 floats_of(pending_.opt_v));
  float* at = buffer_.data();
  copy_into(pending_.model, at);
  copy_into(pending_.opt_m, at);
  copy_into(pending_.opt_v, at);
}

std::filesystem::path CheckpointWriter::submit(const CheckpointData& data) {
  wait();
  const auto t0 = Clock::now();
  snapshot(data);
  const std::filesystem::path dir = run_dir_ / ckpt::step_dir_name(data.step);
  thread_ = std::thread([this, dir] {
    const auto w0 = Clock::now();
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
