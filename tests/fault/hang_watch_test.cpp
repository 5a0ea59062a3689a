// The supervisor's verdict on its child's heartbeat files (fault/hang_watch.h), on
// hand-written files whose publish times are set: only the child's own files count,
// and it is hung only when all of them are older than the limit.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fault/hang_watch.h"
#include "fault/heartbeat.h"

namespace plait::fault {
namespace {

namespace fs = std::filesystem;

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class HangWatch : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/plait-hang-XXXXXX";
    dir = mkdtemp(tmpl);
    fs::create_directories(dir / "heartbeat");
  }
  void TearDown() override { fs::remove_all(dir); }
  // rank R's file as published `age` seconds ago
  void beat(int rank, int64_t step, double age, bool finished = false,
            const std::string& host = "h", long pid = 7) {
    const nlohmann::json j = {{"rank", rank}, {"host", host}, {"pid", pid}, {"step", step},
                              {"phase", "step"}, {"activity", rank == 0 ? "waiting in barrier #3 of group 'world' for rank 1" : ""},
                              {"progress_age", 0.0}, {"slowest", 1.0}, {"finished", finished},
                              {"time", now() - age}};
    std::ofstream(dir / "heartbeat" / ("rank-" + std::to_string(rank) + ".json")) << j.dump();
  }
  fs::path dir;
};

TEST_F(HangWatch, AllStillPastTheLimitIsHung) {
  beat(0, 5, 9.0);
  beat(1, 5, 8.0);
  const std::string r = hung_child_report(dir.string(), now() - 60, 3.0);
  EXPECT_NE(r.find("hung: none of its 2 ranks' heartbeats changed for 8.0 s (limit 3.0 s"),
            std::string::npos) << r;
  EXPECT_NE(r.find("their last heartbeats: rank 0 in step 5 (waiting in barrier #3 of group 'world' for rank 1); "
                   "rank 1 in step 5"), std::string::npos) << r;
}

TEST_F(HangWatch, OneFreshRankOrNoneOfThisChildIsNotHung) {
  beat(0, 5, 9.0);
  beat(1, 5, 0.1);  // still publishing: its process runs
  EXPECT_EQ(hung_child_report(dir.string(), now() - 60, 3.0), "");
  beat(1, 5, 8.0, /*finished=*/true);  // an ended rank is not waited for
  EXPECT_NE(hung_child_report(dir.string(), now() - 60, 3.0), "");
  // files older than the child: the previous child's, so nothing to judge yet
  EXPECT_EQ(hung_child_report(dir.string(), now() - 5, 3.0), "");
  // the auto limit: 10 s + 3 x the slowest phase (1 s)
  EXPECT_EQ(hung_child_report(dir.string(), now() - 60, 0), "");
  beat(0, 5, 14.0);
  EXPECT_NE(hung_child_report(dir.string(), now() - 60, 0).find("(limit 13.0 s"), std::string::npos);
}

// What plait launch kills on a hang: this child's unfinished ranks on this host.
TEST_F(HangWatch, ChildRankPidsAreThisHostsUnfinishedRanksOfThisChild) {
  beat(0, 5, 9.0, false, host_name(), 101);
  beat(1, 5, 9.0, false, "elsewhere", 102);         // another host: mpirun's to end
  beat(2, 5, 9.0, /*finished=*/true, host_name(), 103);
  beat(3, 5, 90.0, false, host_name(), 104);        // the previous child's file
  EXPECT_EQ(child_rank_pids(dir.string(), now() - 60), std::vector<long>{101});
  // with the finished ones (a dropped rank's process may linger)
  EXPECT_EQ(child_rank_pids(dir.string(), now() - 60, /*all=*/true), (std::vector<long>{101, 103}));
}

}  // namespace
}  // namespace plait::fault
