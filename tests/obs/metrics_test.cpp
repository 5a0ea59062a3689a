#include "obs/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <thread>

#include "obs_helpers.h"
#include "util/error.h"

namespace plait::obs {
using testing::slurp;
using testing::temp_path;

static std::vector<nlohmann::json> parse_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(Metrics, OneObjectPerLineFlushedImmediately) {
  std::string path = temp_path("metrics.jsonl");
  {
    MetricsLog log(path);
    EXPECT_TRUE(log.enabled());
    log.write({{"step", 1}, {"loss", 5.5}, {"note", "multi\nline"}});
    // Flushed per line: readable before the log is closed.
    auto lines = parse_lines(slurp(path));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["step"], 1);
    EXPECT_EQ(lines[0]["note"], "multi\nline");
    log.write({{"step", 2}, {"loss", std::nan("")}, {"lr", 3e-4}});
  }
  auto lines = parse_lines(slurp(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[1]["loss"].is_null());  // JSON has no NaN
  EXPECT_DOUBLE_EQ(lines[1]["lr"].get<double>(), 3e-4);
  std::filesystem::remove(path);
}

TEST(Metrics, TruncatesOrAppends) {
  std::string path = temp_path("append.jsonl");
  { MetricsLog(path).write({{"run", 1}}); }
  { MetricsLog(path, /*append=*/true).write({{"run", 2}}); }
  EXPECT_EQ(parse_lines(slurp(path)).size(), 2u);
  { MetricsLog(path).write({{"run", 3}}); }
  auto lines = parse_lines(slurp(path));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["run"], 3);
  std::filesystem::remove(path);
}

TEST(Metrics, ConcurrentWritersKeepLinesWhole) {
  std::string path = temp_path("threads.jsonl");
  {
    MetricsLog log(path);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 200; ++i)
          log.write({{"rank", t}, {"i", i}, {"pad", std::string(100, 'x')}});
      });
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(parse_lines(slurp(path)).size(), 800u);
  std::filesystem::remove(path);
}

TEST(Metrics, UnopenableFileIsAUsageErrorNamingIt) {
  std::string bad = "/nonexistent/dir/metrics.jsonl";
  try {
    MetricsLog log(bad);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}

TEST(Metrics, DisabledLogDoesNothing) {
  MetricsLog log;
  EXPECT_FALSE(log.enabled());
  log.write({{"x", 1}});
}

}  // namespace plait::obs
