// The watchdog's verdict (fault/heartbeat.h) on hand-made beats: who is named, when.
#include <gtest/gtest.h>

#include <filesystem>

#include "fault/heartbeat.h"

namespace plait::fault {
namespace {

Beat beat(int rank, std::int64_t step, double progress_age, std::string activity,
          double slowest = 1.0) {
  Beat b;
  b.rank = rank;
  b.host = std::string("h");  // not = "h": GCC 12 misreports -Wrestrict there
  b.pid = 100 + rank;
  b.step = step;
  b.phase = "step";
  b.activity = std::move(activity);
  b.progress_age = progress_age;
  b.slowest = slowest;
  return b;
}

TEST(StallReport, NamesTheRankTheOthersWaitFor) {
  const std::vector<Beat> beats = {
      beat(0, 5, 9.0, "waiting in allreduce(ring) #12 of group 'world' for rank 1"),
      beat(1, 5, 8.5, "not communicating"),
      beat(2, 5, 9.0, "waiting in allreduce(ring) #12 of group 'world' for rank 0")};
  const std::string r = stall_report(beats, 5.0);
  EXPECT_NE(r.find("rank 1 on host h (pid 101)"), std::string::npos) << r;
  EXPECT_NE(r.find("in step 5: not communicating"), std::string::npos) << r;
  EXPECT_NE(r.find("rank 0 waiting in allreduce(ring) #12"), std::string::npos) << r;
}

TEST(StallReport, AFrozenProcessComesFirst) {
  std::vector<Beat> beats = {beat(0, 7, 9.0, "waiting in barrier #3 of group 'world' for rank 1"),
                             beat(1, 6, 20.0, "waiting in barrier #3 of group 'world' for rank 0")};
  beats[1].beat_age = 19.0;
  const std::string r = stall_report(beats, 5.0);
  EXPECT_NE(r.find("rank 1 on host"), std::string::npos) << r;
  EXPECT_NE(r.find("heartbeat stopped"), std::string::npos) << r;
}

TEST(StallReport, AProcessStoppedJustAfterPublishingIsStillTheOneBlamed) {
  // Rank 0 waits 2.2 s for rank 1, which published once more 0.3 s into that wait and
  // then stopped: its beat (1.9 s) is younger than the limit but far older than the
  // publish period, so rank 1 is the frozen one.
  std::vector<Beat> beats = {beat(0, 5, 2.2, "waiting in allreduce(direct) #5 of group 'dp-grads' for rank 1"),
                             beat(1, 5, 1.9, "waiting in allreduce(direct) #5 of group 'dp-grads' for rank 0")};
  beats[1].beat_age = 1.9;
  const std::string r = stall_report(beats, 2.0);
  EXPECT_NE(r.find("heartbeat: rank 1 on host"), std::string::npos) << r;
  EXPECT_NE(r.find("heartbeat stopped"), std::string::npos) << r;
}

TEST(StallReport, NothingBelowTheLimitOrAfterTheEnd) {
  std::vector<Beat> beats = {beat(0, 5, 4.0, "not communicating"),
                             beat(1, 5, 4.0, "not communicating")};
  EXPECT_EQ(stall_report(beats, 5.0), "");
  beats[1].progress_age = 50;
  beats[1].finished = true;
  EXPECT_EQ(stall_report(beats, 5.0), "");
  beats[1].finished = false;
  beats[1].step = -1;  // start-up is --timeout's
  EXPECT_EQ(stall_report(beats, 5.0), "");
}

TEST(StallReport, AutoLimitIsBasePlusFactorTimesSlowestPhase) {
  const double limit = kAutoBaseSeconds + kAutoFactor * 2.0;
  std::vector<Beat> beats = {beat(0, 5, limit - 0.5, "not communicating", 2.0),
                             beat(1, 5, 1.0, "not communicating", 1.0)};
  EXPECT_EQ(stall_report(beats, 0), "");
  beats[0].progress_age = limit + 0.5;
  EXPECT_NE(stall_report(beats, 0), "");
  beats[1].slowest = 0;  // a rank that has not finished a phase yet: no auto limit
  EXPECT_EQ(stall_report(beats, 0), "");
}

TEST(StallReport, RanksWaitingForARankThatIsWorkingAreNotStalled) {
  // rank 0 evaluates (progress every pass) while rank 1 waits in the next step for it
  std::vector<Beat> beats = {beat(0, 5, 1.0, "not communicating"),
                             beat(1, 6, 9.0, "waiting in allreduce(ring) #12 of group 'world' for rank 0")};
  beats[0].phase = "evaluation";
  EXPECT_EQ(stall_report(beats, 5.0), "");
  beats[0].progress_age = 9.5;  // the evaluation itself stopped
  std::string r = stall_report(beats, 5.0);
  EXPECT_NE(r.find("heartbeat: rank 0 on host"), std::string::npos) << r;
  beats[0].progress_age = 1.0;
  beats[0].beat_age = 3.0;  // its process stopped: no excuse for the waiting rank
  r = stall_report(beats, 5.0);
  EXPECT_NE(r.find("heartbeat: rank 0 on host"), std::string::npos) << r;
  EXPECT_NE(r.find("heartbeat stopped"), std::string::npos) << r;
  beats[0].beat_age = 0;
  beats[0].activity = "waiting in barrier #3 of group 'world' for rank 1";  // both wait
  r = stall_report(beats, 5.0);
  EXPECT_NE(r, "");
}

TEST(BeatFiles, RoundTrip) {
  char tmpl[] = "/tmp/plait-beat-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  write_beat_file(dir, beat(3, 9, 1.5, "not communicating"));
  write_beat_file(dir, beat(1, 8, 0.5, "waiting in x #1 of group 'g' for rank 3"));
  const std::vector<Beat> got = read_beat_files(dir);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].rank, 1);
  EXPECT_EQ(got[1].rank, 3);
  EXPECT_EQ(got[1].step, 9);
  EXPECT_EQ(got[1].activity, "not communicating");
  EXPECT_GE(got[1].progress_age, 1.5);
  std::filesystem::remove_all(dir);
}

TEST(Heartbeats, ThreadScopeBeatsItsOwnSlot) {
  Heartbeats hb(2);
  EXPECT_EQ(Heartbeats::current_rank(), -1);
  Heartbeats::beat("step", 1);  // outside any scope: nothing
  {
    Heartbeats::Scope scope(hb, 1, [] { return std::string("not communicating"); });
    EXPECT_EQ(Heartbeats::current_rank(), 1);
    Heartbeats::beat("step", 4);
    const std::vector<Beat> s = hb.snapshot();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].rank, 1);
    EXPECT_EQ(s[0].step, 4);
    EXPECT_EQ(s[0].activity, "not communicating");
  }
  EXPECT_TRUE(hb.snapshot()[0].finished);
}

}  // namespace
}  // namespace plait::fault
