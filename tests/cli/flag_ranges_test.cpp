// The validation layer at the command line's edge (src/cli/flag_ranges.h,
// machine_checks.h): every numeric flag of every command has a range, and every value
// outside it (NaN, infinities, negative, zero, huge, not a number) is exit 2 and ONE
// line naming the flag, from the real binary, each case under a timeout (a hang fails).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "cli/flag_ranges.h"
#include "cli/registry.h"
#include "run_plait.h"

namespace plait::test {
namespace {

using cli::NumericFlag;

// Every numeric flag, as `plait` registers them.
std::vector<NumericFlag> all_numeric_flags() {
  CLI::App root{"plait"};
  CLI::App* bench = root.add_subcommand("bench", "");
  cli::Context ctx{root, *bench};
  cli::add_all_commands(ctx);
  return cli::numeric_flags(root);
}

TEST(FlagRanges, EveryNumericFlagHasADocumentedRange) {
  const auto flags = all_numeric_flags();
  EXPECT_GT(flags.size(), 60u);
  for (const NumericFlag& f : flags)
    EXPECT_TRUE(f.ranged) << f.command << " " << f.flag
                          << " has no range in src/cli/flag_ranges.cpp's table";
}

TEST(FlagRanges, CheckNumberIsExact) {
  cli::FlagRange seed{0, 18446744073709551615.0L, false, true};
  EXPECT_EQ(cli::check_number("18446744073709551615", seed), "");
  EXPECT_NE(cli::check_number("18446744073709551616", seed), "");  // 2^64 does not wrap
  EXPECT_NE(cli::check_number("-1", seed), "");
  EXPECT_NE(cli::check_number("1e3", seed), "");  // an integer flag takes digits
  EXPECT_NE(cli::check_number("0x10", seed), "");
  EXPECT_NE(cli::check_number("", seed), "");
  cli::FlagRange lr{0, 1, true, false};
  EXPECT_EQ(cli::check_number("1e-3", lr), "");
  EXPECT_EQ(cli::check_number("1", lr), "");
  for (const char* bad : {"0", "nan", "NaN", "inf", "-inf", "1e3", "1.5x", " 1", "1 "})
    EXPECT_NE(cli::check_number(bad, lr), "") << bad;
}

struct Case {
  std::string args, flag;
};

// Runs every case, three at a time, each under `timeout 30` (exit 124: it hung).
std::vector<std::pair<Case, Result>> run_all(const std::vector<Case>& cases) {
  std::vector<std::pair<Case, Result>> out(cases.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < cases.size();)
      out[i] = {cases[i], run_plait(cases[i].args, "timeout 30")};
  };
  std::thread a(worker), b(worker), c(worker);
  a.join();
  b.join();
  c.join();
  return out;
}

// Every numeric flag x {nan, inf, -1, 0, huge, huger than 64 bits, not a number, a
// fraction}: each value outside the flag's range is refused by the binary with exit 2
// and one line naming the flag (values inside it are valid, and are not run).
TEST(FlagRanges, EveryFlagRefusesEveryBadValueWithOneLine) {
  const std::vector<std::string> values = {"nan", "inf", "-1", "0", "1e30",
                                           "99999999999999999999", "abc", "1.5"};
  std::vector<Case> cases;
  for (const NumericFlag& f : all_numeric_flags())
    for (const std::string& v : values)
      if (!cli::check_number(v, f.range).empty())
        cases.push_back({f.command + " " + f.flag + " " + v, f.flag});
  ASSERT_GT(cases.size(), 300u);
  std::printf("%zu command lines\n", cases.size());
  for (const auto& [c, r] : run_all(cases)) {
    SCOPED_TRACE(c.args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.flag), std::string::npos) << r.err;
  }
}

void expect_refused(const std::string& args, const std::string& needle) {
  SCOPED_TRACE(args);
  const Result r = run_plait(args);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

// What the machine cannot schedule or hold is refused before any thread starts or
// any allocation: one line with the flags and "needs X GiB ... Y GiB available".
TEST(MachineChecks, WorkersThreadsAndMemoryAreBoundedBeforeWork) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string tiny =
      "train --data " + (d / "c.txt") + " --layers 1 --dim 16 --heads 2 --ctx 8 --steps 1 --no-progress ";
  expect_refused(tiny + "--workers 10000 --batch 10000", "--oversubscribe");
  expect_refused(tiny + "--workers 8 --servers 10000 --batch 8", "--servers");
  expect_refused(tiny + "--blas-threads 4000 --batch 2", "--blas-threads 4000");
  expect_refused(tiny + "--batch 2 --intra-link 0us:0B/s --workers 2", "bandwidth");
  expect_refused("train --data " + (d / "c.txt") +
                     " --layers 1000 --dim 65536 --heads 64 --ctx 8 --batch 1 --workers 1",
                 "GiB available");
  expect_refused("train --data " + (d / "c.txt") +
                     " --layers 2 --dim 64 --heads 2 --ctx 65536 --batch 1000000 --workers 1",
                 "needs");
  expect_refused("bench comm --sizes 64G --workers 64", "GiB available");
  expect_refused("bench comm --workers 10000", "--workers 10000");
  expect_refused("bench train --workers 10000 --batch 10000", "--workers 10000");
}

}  // namespace
}  // namespace plait::test
