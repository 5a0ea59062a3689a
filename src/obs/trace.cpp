#include "obs/trace.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <tuple>

#include "util/error.h"

namespace plait::obs {
namespace {

// Each thread gets a small id once; the shard is id % kShards.
size_t thread_slot() {
  static std::atomic<size_t> next{0};
  thread_local size_t slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

// To the nanosecond, so the JSON reads "12.345" and not 17 digits.
double round_ns(double us) { return std::round(us * 1000.0) / 1000.0; }

nlohmann::json event_json(const TraceEvent& e) {
  nlohmann::json j = {
      {"name", e.name}, {"ph", std::string(1, e.ph)}, {"pid", e.pid}, {"tid", e.tid}};
  if (e.ph != 'M') {
    j["cat"] = e.cat;
    j["ts"] = round_ns(e.ts_us);
  }
  if (e.ph == 'X') j["dur"] = round_ns(e.dur_us);
  if (e.ph == 'i') j["s"] = "t";
  if (!e.args.is_null()) j["args"] = e.args;
  return j;
}

void write_document(const std::vector<nlohmann::json>& events, int64_t origin_unix_us,
                    const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) throw UsageError("cannot create trace file '" + path + "': " + std::strerror(errno));
  std::string text = "{\"traceEvents\":[\n";
  for (size_t i = 0; i < events.size(); ++i) {
    text += events[i].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += i + 1 < events.size() ? ",\n" : "\n";
  }
  text += "],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"plait\",\"origin_unix_us\":" +
          std::to_string(origin_unix_us) + "}}\n";
  if (std::fwrite(text.data(), 1, text.size(), f.get()) != text.size() || std::fflush(f.get()) != 0)
    throw RuntimeError("cannot write trace file '" + path + "': " + std::strerror(errno));
}

std::optional<int64_t> origin_of(const nlohmann::json& doc) {
  auto ptr = "/otherData/origin_unix_us"_json_pointer;
  if (doc.contains(ptr) && doc[ptr].is_number_integer()) return doc[ptr].get<int64_t>();
  return std::nullopt;
}

}  // namespace

Trace::Trace(bool enabled)
    : enabled_(enabled),
      origin_(std::chrono::steady_clock::now()),
      origin_unix_us_(std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count()) {
  if (enabled_) shards_ = std::make_unique<Shard[]>(kShards);
}

double Trace::now_us() const {
  if (!enabled_) return 0;
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - origin_)
      .count();
}

void Trace::record(TraceEvent event) {
  if (!enabled_) return;
  Shard& shard = shards_[thread_slot() % kShards];
  std::lock_guard<std::mutex> lock(shard.mutex);
  shard.events.push_back(std::move(event));
}

void Trace::complete(std::string_view name, std::string_view cat, int pid, int tid, double ts_us,
                     double dur_us, nlohmann::json args) {
  if (!enabled_) return;
  record({std::string(name), std::string(cat), 'X', pid, tid, ts_us, dur_us, std::move(args)});
}

void Trace::instant(std::string_view name, std::string_view cat, int pid, int tid, double ts_us,
                    nlohmann::json args) {
  if (!enabled_) return;
  record({std::string(name), std::string(cat), 'i', pid, tid, ts_us, 0, std::move(args)});
}

void Trace::counter(std::string_view name, int pid, double ts_us, nlohmann::json values) {
  if (!enabled_) return;
  record({std::string(name), "counter", 'C', pid, 0, ts_us, 0, std::move(values)});
}

void Trace::name_process(int pid, const std::string& name) {
  record({"process_name", "", 'M', pid, 0, 0, 0, {{"name", name}}});
}

void Trace::name_thread(int pid, int tid, const std::string& name) {
  record({"thread_name", "", 'M', pid, tid, 0, 0, {{"name", name}}});
}

void Trace::name_rank(int rank) {
  name_process(rank, "rank " + std::to_string(rank));
  name_thread(rank, kLaneCompute, "compute");
  name_thread(rank, kLaneComm, "communication");
}

std::vector<TraceEvent> Trace::events() const {
  std::vector<TraceEvent> all;
  if (!enabled_) return all;
  for (size_t s = 0; s < kShards; ++s) {
    std::lock_guard<std::mutex> lock(shards_[s].mutex);
    all.insert(all.end(), shards_[s].events.begin(), shards_[s].events.end());
  }
  // Metadata first; a later name for the same (pid, tid) replaces an earlier one
  // (stable sort keeps recording order within a thread's shard).
  std::stable_sort(all.begin(), all.end(), [](const TraceEvent& a, const TraceEvent& b) {
    auto key = [](const TraceEvent& e) { return std::tuple(e.ph != 'M', e.pid, e.tid, e.ts_us); };
    return key(a) < key(b);
  });
  return all;
}

size_t Trace::size() const {
  size_t n = 0;
  if (!enabled_) return n;
  for (size_t s = 0; s < kShards; ++s) {
    std::lock_guard<std::mutex> lock(shards_[s].mutex);
    n += shards_[s].events.size();
  }
  return n;
}

nlohmann::json Trace::to_json() const {
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : this->events()) events.push_back(event_json(e));
  return {{"traceEvents", std::move(events)},
          {"displayTimeUnit", "ms"},
          {"otherData", {{"producer", "plait"}, {"origin_unix_us", origin_unix_us_}}}};
}

void Trace::write(const std::string& path) const {
  if (!enabled_) return;
  std::vector<nlohmann::json> out;
  for (const auto& e : events()) out.push_back(event_json(e));
  write_document(out, origin_unix_us_, path);
}

TraceScope::TraceScope(Trace* trace, std::string_view name, std::string_view cat, int pid, int tid)
    : trace_(trace && trace->enabled() ? trace : nullptr), pid_(pid), tid_(tid) {
  if (!trace_) return;
  name_ = name;
  cat_ = cat;
  start_us_ = trace_->now_us();
}

TraceScope::~TraceScope() {
  if (!trace_) return;
  trace_->complete(name_, cat_, pid_, tid_, start_us_, trace_->now_us() - start_us_,
                   std::move(args_));
}

void TraceScope::arg(const std::string& key, nlohmann::json value) {
  if (trace_) args_[key] = std::move(value);
}

std::string rank_trace_path(const std::string& path, int rank) {
  const std::string tag = ".rank" + std::to_string(rank);
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) ||
      dot == (slash == std::string::npos ? 0 : slash + 1))  // ".hidden" has no extension
    return path + tag;
  return path.substr(0, dot) + tag + path.substr(dot);
}

void merge_trace_files(const std::vector<std::string>& inputs, const std::string& output) {
  std::vector<nlohmann::json> docs;
  int64_t earliest = INT64_MAX;
  for (const auto& path : inputs) {
    std::ifstream in(path);
    if (!in) throw UsageError("cannot open trace file '" + path + "'");
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("traceEvents") ||
        !doc["traceEvents"].is_array())
      throw UsageError("'" + path + "' is not a Chrome trace (no \"traceEvents\" array)");
    if (auto origin = origin_of(doc)) earliest = std::min(earliest, *origin);
    docs.push_back(std::move(doc));
  }
  if (earliest == INT64_MAX) earliest = 0;  // no file knows its origin: no shift
  std::vector<nlohmann::json> events;
  for (auto& doc : docs) {
    const double shift = static_cast<double>(origin_of(doc).value_or(earliest) - earliest);
    for (auto& e : doc["traceEvents"]) {
      if (e.contains("ts") && e["ts"].is_number())
        e["ts"] = round_ns(e["ts"].get<double>() + shift);
      events.push_back(std::move(e));
    }
  }
  write_document(events, earliest, output);
}

}  // namespace plait::obs
