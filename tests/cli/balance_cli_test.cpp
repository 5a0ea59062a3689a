// --slowdown, --balance and their companions from the command line: bad values exit 2
// with one line naming the flag; a slowed 2-worker run logs per-rank speeds, shares
// and waiting, and says when it re-splits the batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run_plait.h"

namespace plait::test {
namespace {

const char* kTiny = " --layers 1 --dim 16 --heads 2 --ctx 8 --batch 8 --steps 4 --no-progress";

void expect_usage_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
}

TEST(BalanceCli, BadValuesExit2WithOneLine) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string base = "train --data " + (d / "c.txt") + kTiny + " --workers 2 ";
  for (const char* bad : {"1", "1:0.5", "x:2", "1:2@-1", "1:two", "-1:2", "1:2@"})
    expect_usage_error(run_plait(base + "--slowdown '" + bad + "'"), "--slowdown");
  expect_usage_error(run_plait(base + "--slowdown 2:2"), "rank 2 does not exist");
  expect_usage_error(run_plait(base + "--balance sometimes"), "--balance");
  expect_usage_error(run_plait(base + "--balance-every 0"), "--balance-every");
  expect_usage_error(run_plait(base + "--balance-threshold 1.5"), "--balance-threshold");
  expect_usage_error(run_plait(base + "--balance off --speeds 1,2"), "--balance off");
  expect_usage_error(run_plait(base + "--servers 1 --backup-workers 1 --balance auto"),
                     "--balance auto");
  for (const char* bad : {"sometimes", "0", "-2", "1.5"})
    expect_usage_error(run_plait(base + "--balance auto --steal '" + bad + "'"), "--steal");
  expect_usage_error(run_plait(base + "--steal on"), "--balance auto");  // static by default
  expect_usage_error(run_plait(base + "--balance off --steal 2"), "--balance auto");
  expect_usage_error(run_plait(base + "--balance auto --steal 9"), "larger than --batch");
  // --speeds with a mesh: one per rank; every replica needs a whole micro-batch
  const std::string mesh = "train --data " + (d / "c.txt") +
                           " --layers 2 --dim 16 --heads 2 --ctx 8 --batch 8 --steps 4 --no-progress"
                           " --workers 4 --pp 2 ";
  expect_usage_error(run_plait(mesh + "--speeds 1,1,1"), "--speeds gives 3 speeds");
  expect_usage_error(run_plait(mesh + "--speeds 1,1,1,0.01"),
                     "--speeds: replica 1 (speed 0.010000, its slowest rank's) gets no micro-batches");
  expect_usage_error(run_plait(base + "--servers 1 --speeds 1,2,3"), "--speeds gives 3 speeds");
}

TEST(BalanceCli, SlowedRankIsMeasuredAndTheBatchReSplit) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result r = run_plait("train --data " + (d / "c.txt") +
                             " --layers 1 --dim 16 --heads 2 --ctx 16 --batch 8 --steps 8"
                             " --workers 2 --slowdown 1:20 --balance auto --balance-every 2 --log " +
                             (d / "m.jsonl"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream log(slurp(d / "m.jsonl"));
  int steps = 0;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("loss") || j.contains("event")) continue;
    ++steps;
    for (const char* key : {"rank_speed", "rank_share", "rank_compute_s", "rank_wait_s"}) {
      ASSERT_TRUE(j.contains(key)) << key << " missing: " << line;
      EXPECT_EQ(j[key].size(), 2u) << line;
    }
    EXPECT_EQ(j["rank_share"][0].get<int>() + j["rank_share"][1].get<int>(), 8) << line;
    // The invocation's first step is not sampled, so it has no rank_run; every later
    // step says who ran how many sequences (stealing moves some), summing to the batch.
    if (j["step"].get<int>() == 1) continue;
    ASSERT_TRUE(j.contains("rank_run")) << line;
    EXPECT_EQ(j["rank_run"][0].get<int>() + j["rank_run"][1].get<int>(), 8) << line;
  }
  EXPECT_EQ(steps, 8);
  // 20x slower on rank 1 moves sequences to rank 0 at the first look (step 2): the
  // predicted gain (7/1 over 4/4: about 80%) is far beyond any noise in the timing.
  EXPECT_NE(r.err.find("balance: after step 2 shares 4/4 -> "), std::string::npos) << r.err;
}

// The default (--balance static) keeps the equal split and says once that auto would
// re-split it (20x slower: far beyond any noise).
TEST(BalanceCli, StaticSaysWhenAutoWouldReSplit) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result r = run_plait("train --data " + (d / "c.txt") +
                             " --layers 1 --dim 16 --heads 2 --ctx 16 --batch 8 --steps 6"
                             " --workers 2 --slowdown 1:20 --balance-every 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("--balance auto would re-split 4/4 -> "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("balance: after step"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("shares 4/4"), std::string::npos) << r.err;
}

// --stages auto picks the blocks per stage by cost and says so; the run trains.
TEST(BalanceCli, StagesAutoChoosesByCost) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string base = "train --data " + (d / "c.txt") +
                           " --layers 6 --dim 16 --heads 2 --ctx 8 --batch 4 --steps 2 --pp 2 ";
  const Result r = run_plait(base + "--stages auto");
  ASSERT_EQ(r.code, 0) << r.err;
  // bytes vocabulary: the head is 2 x 256 / (24 x 16 + 4 x 8) = 1.23 blocks, so the
  // last stage takes 2 of the 6 blocks (busiest 4), not 3 (3 and 4.23)
  EXPECT_NE(r.err.find("stages auto: 4,2 (cost model: the LM head counts as 1.23 blocks"),
            std::string::npos)
      << r.err;
  // the last stage's rank 3x slower: 5,1 (busiest max(5, 3 x 2.23)) beats 4,2
  // (3 x 3.23); profile measures the head's share h, and whatever it is, 5,1
  // (max(5, 3 x (1 + h))) beats 4,2 (3 x (2 + h) >= 6)
  const Result slowed = run_plait(base + "--stages auto --slowdown 1:3");
  ASSERT_EQ(slowed.code, 0) << slowed.err;
  EXPECT_NE(slowed.err.find("stages auto: 5,1 (cost model: the LM head counts as 1.23 blocks; "
                            "stage slowdowns 1 3"),
            std::string::npos)
      << slowed.err;
  const Result profiled = run_plait(base + "--stages profile --slowdown 1:3");
  ASSERT_EQ(profiled.code, 0) << profiled.err;
  EXPECT_NE(profiled.err.find("stages profile: 5,1 ("), std::string::npos) << profiled.err;
  expect_usage_error(run_plait(base + "--stages x,1"), "--stages: 'x' is not a whole number");
}

// --stages auto within each stage's memory: with the last stage 3x slower the fastest
// split is 5,1; a --stage-memory just below what 5,1 needs (its first stage: the
// embedding and 5 blocks) makes auto take the fastest split that fits, 4,2, and say
// why; a limit nothing fits is one line, exit 2.
TEST(BalanceCli, StagesAutoWithinStageMemory) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string base = "train --data " + (d / "c.txt") +
                           " --layers 6 --dim 16 --heads 2 --ctx 8 --batch 4 --steps 2 --pp 2 "
                           "--stages auto --slowdown 1:3 ";
  const Result free = run_plait(base);
  ASSERT_EQ(free.code, 0) << free.err;
  const std::string key = "stages auto: 5,1 (cost model: the LM head counts as 1.23 blocks; "
                          "stage slowdowns 1 3; memory: busiest stage ";
  const size_t at = free.err.find(key);
  ASSERT_NE(at, std::string::npos) << free.err;
  const double need_mib = std::stod(free.err.substr(at + key.size()));
  ASSERT_GT(need_mib, 0);
  std::ostringstream limit;
  limit.precision(9);
  limit << need_mib * 0.97 / 1024;  // GiB
  const Result bound = run_plait(base + "--stage-memory " + limit.str());
  ASSERT_EQ(bound.code, 0) << bound.err;
  EXPECT_NE(bound.err.find("stages auto: 4,2 ("), std::string::npos) << bound.err;
  EXPECT_NE(bound.err.find("the fastest split 5,1 needs"), std::string::npos) << bound.err;
  EXPECT_NE(bound.err.find("stages of 4,2 blocks"), std::string::npos) << bound.err;
  expect_usage_error(run_plait(base + "--stage-memory 0.0001"),
                     "--stages auto: no split of 6 blocks into 2 pipeline stages fits");
  expect_usage_error(run_plait(base + "--stage-memory -1"), "--stage-memory");
}

}  // namespace
}  // namespace plait::test
