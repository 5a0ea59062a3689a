#include "obs/trace.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "obs_helpers.h"
#include "util/error.h"

namespace plait::obs {
using testing::slurp;
using testing::temp_path;

static nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(slurp(path));
}

TEST(Trace, WritesChromeTraceEvents) {
  Trace trace(true);
  trace.name_rank(0);
  {
    TraceScope s(trace, "forward", "compute", 0, kLaneCompute);
    s.arg("micro_batch", 2);
  }
  trace.complete("allreduce", "comm", 0, kLaneComm, 10.0, 5.5, {{"bucket", 3}, {"bytes", 4096}});
  trace.instant("checkpoint", "fault", 0, kLaneCompute, 20.0);
  trace.counter("loss", 0, 30.0, {{"loss", 2.5}});
  std::string path = temp_path("one.json");
  trace.write(path);
  nlohmann::json doc = read_json(path);
  ASSERT_TRUE(doc["traceEvents"].is_array());
  EXPECT_EQ(doc["displayTimeUnit"], "ms");
  EXPECT_TRUE(doc["otherData"]["origin_unix_us"].is_number_integer());
  std::map<std::string, nlohmann::json> by_name;
  for (auto& e : doc["traceEvents"]) {
    if (e["ph"] == "M") {
      by_name[e["name"].get<std::string>() + "/" + std::to_string(e["tid"].get<int>())] = e;
    } else {
      by_name[e["name"]] = e;
    }
  }
  auto fwd = by_name["forward"];
  EXPECT_EQ(fwd["ph"], "X");
  EXPECT_EQ(fwd["cat"], "compute");
  EXPECT_EQ(fwd["pid"], 0);
  EXPECT_EQ(fwd["tid"], 0);
  EXPECT_GE(fwd["ts"].get<double>(), 0);
  EXPECT_GE(fwd["dur"].get<double>(), 0);
  EXPECT_EQ(fwd["args"]["micro_batch"], 2);
  auto ar = by_name["allreduce"];
  EXPECT_EQ(ar["tid"], 1);
  EXPECT_DOUBLE_EQ(ar["ts"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(ar["dur"].get<double>(), 5.5);
  EXPECT_EQ(ar["args"]["bucket"], 3);
  EXPECT_EQ(by_name["checkpoint"]["ph"], "i");
  EXPECT_EQ(by_name["loss"]["ph"], "C");
  EXPECT_EQ(by_name["loss"]["args"]["loss"], 2.5);
  EXPECT_EQ(by_name["process_name/0"]["args"]["name"], "rank 0");
  EXPECT_EQ(by_name["thread_name/0"]["args"]["name"], "compute");
  EXPECT_EQ(by_name["thread_name/1"]["args"]["name"], "communication");
  EXPECT_EQ(doc, trace.to_json());  // the streamed file and the in-memory document agree
  std::filesystem::remove(path);
}

TEST(Trace, ManyThreadsWriteOneWellFormedTrace) {
  Trace trace(true);
  const int ranks = 8, per_rank = 500;
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&trace, r] {
      trace.name_rank(r);
      // A communication thread per rank, recording concurrently with compute.
      std::thread comm([&trace, r] {
        for (int i = 0; i < per_rank; ++i) {
          TraceScope s(trace, "bucket", "comm", r, kLaneComm);
          s.arg("bucket", i);
        }
      });
      for (int i = 0; i < per_rank; ++i)
        TraceScope s(trace, i % 2 ? "backward" : "forward", "compute", r, kLaneCompute);
      comm.join();
    });
  for (auto& t : threads) t.join();
  std::string path = temp_path("threads.json");
  trace.write(path);
  nlohmann::json doc = read_json(path);  // throws if malformed
  std::map<std::pair<int, int>, int> per_lane;
  std::set<int> named;
  for (auto& e : doc["traceEvents"]) {
    if (e["ph"] == "M") {
      if (e["name"] == "process_name") named.insert(e["pid"].get<int>());
      continue;
    }
    ASSERT_EQ(e["ph"], "X");
    ASSERT_TRUE(e.contains("ts") && e.contains("dur") && e.contains("name") && e.contains("cat"));
    per_lane[{e["pid"].get<int>(), e["tid"].get<int>()}]++;
  }
  EXPECT_EQ(named.size(), static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    EXPECT_EQ((per_lane[{r, kLaneCompute}]), per_rank);
    EXPECT_EQ((per_lane[{r, kLaneComm}]), per_rank);
  }
  EXPECT_EQ(trace.size(), static_cast<size_t>(ranks * (2 * per_rank + 3)));
  std::filesystem::remove(path);
}

TEST(Trace, EventsAreOrderedWithinALane) {
  Trace trace(true);
  trace.complete("b", "c", 1, 0, 50, 1);
  trace.complete("a", "c", 1, 0, 10, 1);
  trace.complete("z", "c", 0, 1, 99, 1);
  trace.name_process(1, "rank 1");
  auto events = trace.events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].ph, 'M');
  EXPECT_EQ(events[1].name, "z");  // pid 0 before pid 1
  EXPECT_EQ(events[2].name, "a");
  EXPECT_EQ(events[3].name, "b");
}

TEST(Trace, DisabledTraceRecordsNothingAndWritesNoFile) {
  Trace trace;
  EXPECT_FALSE(trace.enabled());
  {
    TraceScope s(trace, "forward", "compute", 0, 0);
    s.arg("x", 1);
  }
  { TraceScope s(nullptr, "forward", "compute", 0, 0); }
  trace.complete("x", "y", 0, 0, 1, 1);
  trace.name_rank(0);
  EXPECT_EQ(trace.size(), 0u);
  EXPECT_EQ(trace.now_us(), 0);
  std::string path = temp_path("disabled.json");
  trace.write(path);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Trace, UnwritablePathIsAUsageError) {
  Trace trace(true);
  EXPECT_THROW(trace.write("/nonexistent/dir/trace.json"), UsageError);
}

TEST(Trace, RankPaths) {
  EXPECT_EQ(rank_trace_path("trace.json", 3), "trace.rank3.json");
  EXPECT_EQ(rank_trace_path("out/run.v2/trace.json", 0), "out/run.v2/trace.rank0.json");
  EXPECT_EQ(rank_trace_path("out/run.v2/trace", 1), "out/run.v2/trace.rank1");
  EXPECT_EQ(rank_trace_path("trace", 12), "trace.rank12");
  EXPECT_EQ(rank_trace_path(".trace", 2), ".trace.rank2");
}

TEST(Trace, MergeAlignsRanksByTheirOrigins) {
  Trace a(true), b(true);
  a.name_rank(0);
  b.name_rank(1);
  a.complete("step", "compute", 0, 0, 100, 10);
  b.complete("step", "compute", 1, 0, 100, 10);
  std::string pa = temp_path("m.rank0.json"), pb = temp_path("m.rank1.json"),
              out = temp_path("m.json");
  a.write(pa);
  b.write(pb);
  // Pretend rank 1 started 250 us after rank 0.
  nlohmann::json db = read_json(pb);
  db["otherData"]["origin_unix_us"] = a.origin_unix_us() + 250;
  std::ofstream(pb) << db.dump();
  nlohmann::json da = read_json(pa);
  da["otherData"]["origin_unix_us"] = a.origin_unix_us();
  std::ofstream(pa) << da.dump();
  merge_trace_files({pa, pb}, out);
  nlohmann::json merged = read_json(out);
  EXPECT_EQ(merged["otherData"]["origin_unix_us"], a.origin_unix_us());
  std::map<int, double> step_ts;
  int meta = 0;
  for (auto& e : merged["traceEvents"]) {
    if (e["ph"] == "M")
      ++meta;
    else
      step_ts[e["pid"].get<int>()] = e["ts"].get<double>();
  }
  EXPECT_EQ(meta, 6);
  EXPECT_DOUBLE_EQ(step_ts[0], 100);
  EXPECT_DOUBLE_EQ(step_ts[1], 350);
  EXPECT_THROW(merge_trace_files({temp_path("missing.json")}, out), UsageError);
  std::ofstream(pb) << "{\"not\": \"a trace\"}";
  EXPECT_THROW(merge_trace_files({pa, pb}, out), UsageError);
  for (auto& p : {pa, pb, out}) std::filesystem::remove(p);
}

}  // namespace plait::obs
