// The rank-and-step test hooks' one grammar (fault/test_hooks.h): well-formed values
// parse to their points, every malformed one is a one-line UsageError naming the
// variable and the bad entry, and the hooks read from the environment fire where told.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../common/expect_usage_error.h"
#include "../common/scoped_env.h"
#include "fault/test_hooks.h"

namespace plait::fault {
namespace {

struct Good {
  const char* text;
  std::vector<RankStep> points;
};

TEST(TestHooks, ParsesRankStepLists) {
  const Good cases[] = {
      {"1:3", {{1, 3}}},
      {"0:0", {{0, 0}}},
      {"1:7,0:13", {{1, 7}, {0, 13}}},
      {"0:2,0:3", {{0, 2}, {0, 3}}},
      {"12:9000000000", {{12, 9000000000LL}}},
  };
  for (const Good& c : cases) EXPECT_EQ(parse_rank_steps("V", c.text), c.points) << c.text;
}

TEST(TestHooks, MalformedRankStepListsAreOneUsageError) {
  struct Bad {
    const char* text;
    const char* entry;  // the entry the message names
  };
  const Bad cases[] = {
      {"1", "'1'"},           {"1:", "'1:'"},         {":3", "':3'"},
      {"a:3", "'a:3'"},       {"1:b", "'1:b'"},       {"1:3x", "'1:3x'"},
      {"-1:3", "'-1:3'"},     {"1:-3", "'1:-3'"},     {"1:3,", "''"},
      {",1:3", "''"},         {"1:3,,0:2", "''"},     {"1:3;0:2", "'1:3;0:2'"},
      {" 1:3", "' 1:3'"},     {"1:2:3", "'1:2:3'"},   {"1@3", "'1@3'"},
      {"99999999999:1", "'99999999999:1'"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.text);
    test::expect_usage_error([&] { parse_rank_steps("PLAIT_TEST_KILL", c.text); },
                             {"PLAIT_TEST_KILL='" + std::string(c.text) + "'",
                              std::string("bad entry ") + c.entry, "RANK:STEP"});
  }
}

TEST(TestHooks, ParsesRankFrom) {
  EXPECT_EQ(parse_rank_from("V", "2"), (RankStep{2, 0}));
  EXPECT_EQ(parse_rank_from("V", "2@1"), (RankStep{2, 1}));
  EXPECT_EQ(parse_rank_from("V", "0@0"), (RankStep{0, 0}));
  for (const char* bad : {"", "x", "2@", "@1", "2@x", "2:1", "-2", "2@1,3"}) {
    SCOPED_TRACE(bad);
    test::expect_usage_error([&] { parse_rank_from("PLAIT_TEST_FAIL_AT_START", bad); },
                             {"PLAIT_TEST_FAIL_AT_START='", "RANK[@STEP]"});
  }
}

using test::ScopedEnv;

TEST(TestHooks, FromEnvFiresWhereTold) {
  using H = RankStepHooks;
  const ScopedEnv kill("PLAIT_TEST_KILL", "1:7,0:13"), stall("PLAIT_TEST_STALL", nullptr),
      stop("PLAIT_TEST_SIGSTOP", ""), fail("PLAIT_TEST_FAIL_AT", "2:0"),
      start("PLAIT_TEST_FAIL_AT_START", "2@1");
  const H h = H::from_env();
  EXPECT_TRUE(h.fires(H::kill, 1, 7));
  EXPECT_TRUE(h.fires(H::kill, 0, 13));
  EXPECT_FALSE(h.fires(H::kill, 0, 7));
  EXPECT_FALSE(h.fires(H::kill, 1, 13));
  EXPECT_FALSE(h.fires(H::stall, 1, 7));    // unset
  EXPECT_FALSE(h.fires(H::sigstop, 1, 7));  // empty: off
  EXPECT_TRUE(h.fires(H::fail_at, 2, 0));
  ASSERT_TRUE(h.fail_at_start().has_value());
  EXPECT_EQ(*h.fail_at_start(), (RankStep{2, 1}));
  // kill at 7 and 13: near t = 6, 7, 12, 13 only (FAIL_AT is not a fault near)
  for (int t = -1; t < 16; ++t)
    EXPECT_EQ(h.fault_near(t), t == 6 || t == 7 || t == 12 || t == 13) << t;
}

TEST(TestHooks, FromEnvRefusesAMalformedValue) {
  for (int k = 0; k < RankStepHooks::kKinds; ++k) {
    const char* var = RankStepHooks::var(RankStepHooks::Kind(k));
    SCOPED_TRACE(var);
    const ScopedEnv bad(var, "1;3");
    test::expect_usage_error([] { RankStepHooks::from_env(); },
                             {std::string(var) + "='1;3'", "bad entry '1;3'"});
  }
  const ScopedEnv bad("PLAIT_TEST_FAIL_AT_START", "two");
  test::expect_usage_error([] { RankStepHooks::from_env(); }, {"PLAIT_TEST_FAIL_AT_START='two'"});
}

}  // namespace
}  // namespace plait::fault
