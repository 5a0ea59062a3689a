// Repartitioning a pipeline during a run (--repartition-threshold, docs/BALANCE.md):
// the run commits a checkpoint, writes the new stages to RUN_DIR/repartition and exits
// 3; the supervisor (--max-restarts) restarts it with --resume auto --stages a,b. The
// PLAIT_TEST_REPARTITION_AT hook decides when (not timing), and the final weights are
// byte-identical to a run that stopped at that step and resumed with the new stages by
// hand (checkpoints are layout-free).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

class Repartition : public CorpusTest {
 protected:
  std::string args(const std::string& run) const {
    return "train --data " + (d / "c.txt") +
           " --layers 4 --dim 16 --heads 2 --ctx 8 --batch 4 --steps 6 --eval-every 0 --pp 2"
           " --no-progress --checkpoint-dir " + (d / run);
  }
};

TEST_F(Repartition, SupervisorRestartsWithNewStagesSameWeights) {
  Result r = run_plait(args("sup") + " --stages 2,2 --max-restarts 2 --repartition-threshold 0.15",
                       "PLAIT_TEST_REPARTITION_AT=3:3,1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("repartition: after step 3 stages 2,2 -> 3,1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exit 3 to restart with --resume auto --stages 3,1"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("asked for new pipeline stages; restart 1 of 2 from step-00000003 with "
                       "--stages 3,1"),
            std::string::npos)
      << r.err;
  const nlohmann::json rec = nlohmann::json::parse(slurp(d.path / "sup" / "supervisor.json"));
  EXPECT_EQ(rec["restarts"], 1);
  bool seen = false;
  for (const auto& e : rec["events"]) seen = seen || (e["event"] == "repartition" && e["stages"] == "3,1");
  EXPECT_TRUE(seen) << rec.dump();
  // The same model by hand: stages 2,2 for 3 steps, then 3,1 from the checkpoint.
  ASSERT_EQ((r = run_plait(args("ref") + " --stages 2,2 --stop-after 3")).code, 0) << r.err;
  ASSERT_EQ((r = run_plait(args("ref") + " --stages 3,1 --resume auto")).code, 0) << r.err;
  int compared = 0;
  for (const auto& f : fs::directory_iterator(d.path / "ref" / "step-00000006")) {
    if (f.path().extension() != ".safetensors") continue;
    const fs::path other = d.path / "sup" / "step-00000006" / f.path().filename();
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_TRUE(slurp(f.path()) == slurp(other)) << f.path().filename() << " differs";
    ++compared;
  }
  EXPECT_GE(compared, 2);
}

TEST_F(Repartition, WithoutSupervisorExits3AndNamesTheStages) {
  const Result r = run_plait(args("alone") + " --stages 2,2 --repartition-threshold 0.15",
                             "PLAIT_TEST_REPARTITION_AT=2:1,3");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(fs::exists(d.path / "alone" / "step-00000002" / "manifest.json"));
  EXPECT_FALSE(fs::exists(d.path / "alone" / "step-00000003"));
  EXPECT_EQ(slurp(d.path / "alone" / "repartition").substr(0, 4), "1,3\n");
}

// The rule itself, measured: the last stage's rank 8x slower makes 2,2 (busiest
// 8 x (2 + the head's 1.23 blocks)) far slower than the measured costs predict for
// 3,1 (8 x 2.23 against 3), 45% over, well past 15%: after the first step (no sample)
// and 2 steps in a row over it, the run repartitions to 3,1.
TEST_F(Repartition, SlowLastStageRepartitionsByMeasurement) {
  const Result r = run_plait(args("slow") + " --stages 2,2 --slowdown 1:8 --repartition-threshold "
                             "0.15 --repartition-after 2");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("repartition: after step 3 stages 2,2 -> 3,1 (busy per stage"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(threshold 15% for 2 steps)"), std::string::npos) << r.err;
}

TEST_F(Repartition, BadFlagsExit2) {
  Result r = run_plait("train --data " + (d / "c.txt") +
                       " --layers 4 --dim 16 --heads 2 --ctx 8 --batch 4 --steps 2 --workers 2 "
                       "--checkpoint-dir " + (d / "bad") + " --repartition-threshold 0.1");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--repartition-threshold needs a pipeline"), std::string::npos) << r.err;
  r = run_plait("train --data " + (d / "c.txt") +
                " --layers 4 --dim 16 --heads 2 --ctx 8 --batch 4 --steps 2 --pp 2 "
                "--repartition-threshold 0.1");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--repartition-threshold needs --checkpoint-dir"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace plait::test
