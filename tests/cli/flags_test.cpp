// One flag vocabulary: every command refuses an unknown flag (exit 2, one line
// naming it, before doing any work); the same thing has the same flag name in every
// command; simulate and train choose the same default layout; `plait --version`.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

// The subcommands listed in a --help text ("Subcommands:" then "  name  text" lines).
std::vector<std::string> subcommands(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream in(help.substr(std::min(help.size(), help.find("Subcommands:"))));
  std::string line;
  std::getline(in, line);
  const std::regex row(R"(^  ([a-z][a-z-]*)\b.*)");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, row)) names.push_back(m[1]);
  return names;
}

// Every command, `bench X` included, as `plait --help` and `plait bench --help` list them.
std::vector<std::string> all_commands() {
  std::vector<std::string> all;
  for (const auto& c : subcommands(run_plait("--help").out)) {
    if (c != "bench") {
      all.push_back(c);
      continue;
    }
    for (const auto& b : subcommands(run_plait("bench --help").out)) all.push_back("bench " + b);
  }
  return all;
}

TEST(Flags, EveryCommandIsListed) {
  const auto all = all_commands();
  for (const char* c : {"train", "sample", "eval", "inspect", "plan", "simulate", "bench train",
                        "bench comm", "bench calibrate"})
    EXPECT_NE(std::find(all.begin(), all.end(), c), all.end()) << c << " not found in --help";
}

// An unknown flag is exit 2 and one line naming it, in every command. The command
// would otherwise do real work (train the demo, measure the machine) or complain
// about something else first.
TEST(Flags, UnknownFlagExits2InEveryCommand) {
  for (const auto& c : all_commands()) {
    SCOPED_TRACE(c);
    const Result r = run_plait(c + " --no-such-flag 3");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
  }
}

// The flags each command offers, from its --help.
std::set<std::string> flags_of(const std::string& command) {
  const std::string help = run_plait(command + " --help").out;
  std::set<std::string> flags;
  const std::regex flag(R"((--[a-z][a-z0-9-]*))");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), flag); it != std::sregex_iterator();
       ++it)
    flags.insert((*it)[1]);
  return flags;
}

// The same thing has the same name everywhere: these spellings of a flag that
// another command spells differently are not used by any command.
TEST(Flags, SameNameInEveryCommand) {
  const std::vector<std::pair<std::string, std::string>> one_name = {
      {"--link-intra", "--intra-link"}, {"--link-inter", "--inter-link"},
      {"--threads", "--blas-threads"},  {"--checkpoint", "--checkpoint-dir"}};
  std::map<std::string, std::set<std::string>> users;
  for (const auto& c : all_commands())
    for (const auto& f : flags_of(c)) users[f].insert(c);
  for (const auto& [other, ours] : one_name) {
    if (other == "--checkpoint") continue;  // sample/eval read one: a different thing
    EXPECT_EQ(users.count(other), 0u) << other << " is used; the name is " << ours;
  }
  // train's layout and link flags are the same in simulate and bench train.
  for (const char* f : {"--intra-link", "--inter-link", "--blas-threads", "--ranks-per-node",
                        "--workers", "--tp", "--pp", "--dp", "--sync", "--schedule"}) {
    EXPECT_TRUE(users[f].count("train")) << f;
    EXPECT_TRUE(users[f].count("simulate")) << f;
    EXPECT_TRUE(users[f].count("bench train")) << f;
  }
  for (const char* f : {"--intra-link", "--inter-link", "--ranks-per-node", "--workers"})
    EXPECT_TRUE(users[f].count("bench comm")) << f;
  // simulate takes every flag train takes.
  for (const auto& f : flags_of("train")) EXPECT_TRUE(users[f].count("simulate")) << f;
}

// With no layout flag, train and simulate both choose one data-parallel worker per
// core (train logs its choice; simulate predicts that layout).
TEST(Flags, SimulateAndTrainChooseTheSameDefaultLayout) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string model = " --layers 1 --dim 16 --heads 2 --ctx 8 --batch 8 --steps 1";
  const Result t = run_plait("train --data " + (d / "c.txt") + model);
  ASSERT_EQ(t.code, 0) << t.err;
  const Result s = run_plait("simulate --json" + model);
  ASSERT_EQ(s.code, 0) << s.err;
  const std::regex layout(R"(layout: (\d+) data-parallel worker)");
  std::smatch mt, ms;
  ASSERT_TRUE(std::regex_search(t.err, mt, layout)) << t.err;
  ASSERT_TRUE(std::regex_search(s.err, ms, layout)) << s.err;
  EXPECT_EQ(mt[1], ms[1]);
  const std::regex dp(R"("dp": (\d+))");
  std::smatch mj;
  ASSERT_TRUE(std::regex_search(s.out, mj, dp)) << s.out;
  EXPECT_EQ(mj[1], mt[1]) << "simulate predicted another layout than train runs";
}

// Under MPI the world is mpirun's: --workers cannot apply and is refused in one line
// (before MPI starts, so this needs no mpirun).
TEST(Flags, MpiRefusesWorkers) {
  for (const char* c : {"train", "simulate", "bench comm"}) {
    SCOPED_TRACE(c);
    const Result r = run_plait(std::string(c) + " --backend mpi --workers 4");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("--workers"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("mpirun"), std::string::npos) << r.err;
  }
}

TEST(Flags, Version) {
  const Result r = run_plait("--version");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("plait ", 0), 0u) << r.out;
  for (const char* line : {"commit: ", "build: ", "cpu: ", "gemm: ", "openblas: ", "mpi: "})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " missing in: " << r.out;
  EXPECT_NE(r.out.find("OpenBLAS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MPI"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("commit: unknown"), std::string::npos) << r.out;
}

// `bench train --peer` starts the peer with an argument vector: a name with shell
// syntax in it is a file name, not a command.
TEST(Flags, PeerRunsWithoutAShell) {
  TempDir d;
  const std::string peer = d / "x;touch PWNED;#";
  write_file(peer, "import json\nprint(json.dumps({'step_ms': 1.0}))\n");
  const Result r = run_plait("bench train --layers 1 --dim 16 --heads 2 --ctx 8 --batch 2 "
                             "--steps 1 --pairs 1 --json --peer '" + peer + "'",
                             "cd " + d.path.string() + " &&");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(d.path / "PWNED")) << "the peer's name ran as a shell command";
  EXPECT_NE(r.out.find("step_time_over_pytorch"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace plait::test
