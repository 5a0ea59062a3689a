// `plait bench comm` as a user runs it: results checked, JSON well formed, bad flags
// exit 2 with one line. Skipped when the plait binary has not been built.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct PlaitRun {
  int code = -1;
  std::string out;
};

PlaitRun plait(const std::string& args) {
  const std::string cmd = std::string(PLAIT_BINARY) + " " + args + " 2>&1";
  PlaitRun r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class BenchComm : public testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(PLAIT_BINARY)) GTEST_SKIP() << "no " << PLAIT_BINARY;
  }
};

TEST_F(BenchComm, JsonRowsForEveryAlgorithmWithPredictions) {
  const PlaitRun r = plait(
      "bench comm --algo all --workers 4 --ranks-per-node 2 --intra-link 1us:20GB/s "
      "--inter-link 10us:2GB/s --sizes 64K,256K --reps 2 --warmup 0 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("workers"), 4);
  EXPECT_EQ(j.at("nodes"), 2);
  ASSERT_EQ(j.at("rows").size(), 10u);  // 2 sizes x 5 algorithms
  for (const auto& row : j.at("rows")) {
    EXPECT_GT(row.at("time_s").get<double>(), 0);
    EXPECT_GT(row.at("predicted_s").get<double>(), 0);
    const double algbw = row.at("algbw_GBps"), busbw = row.at("busbw_GBps");
    EXPECT_NEAR(busbw, algbw * 2 * 3 / 4, 1e-9 * algbw);
  }
}

TEST_F(BenchComm, BadFlagsExitTwoWithOneLine) {
  for (const char* args : {"--algo rings", "--sizes 4X", "--sizes 64M:4K", "--intra-link 5us",
                           "--algo mpi", "--workers 0", "--backend tcp"}) {
    const PlaitRun r = plait(std::string("bench comm ") + args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << args << ": " << r.out;
  }
}

}  // namespace
