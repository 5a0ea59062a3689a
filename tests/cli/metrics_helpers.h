// For the --metrics-port tests (metrics_port_test.cpp, mpi_metrics_port_test.cpp): a
// command in the background, bounded polls for what it writes, and the text exposition
// it serves parsed. The polls bound a hang; no test depends on how long they take.
#pragma once
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "run_plait.h"

namespace plait::test {

// Runs the shell command `cmd` with the variable assignments `env` in the background
// (stdout to /dev/null, stderr to `err`); its pid, -1 when the shell failed.
inline pid_t start_background(const std::string& cmd, const std::string& env,
                              const std::string& err, const std::string& pidfile) {
  const std::string sh =
      env + " " + cmd + " >/dev/null 2>" + err + " </dev/null & echo $! >" + pidfile;
  if (std::system(sh.c_str()) != 0) return -1;
  return std::stoi(slurp(pidfile));
}

// Whether `p` exists, polled every 0.1 s for 300 s at most.
inline bool wait_for_file(const std::filesystem::path& p) {
  for (int i = 0; i < 3000 && !std::filesystem::exists(p); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return std::filesystem::exists(p);
}

// Sends `sig` to `pid`, then polls until it has ended (30 s at most).
inline void end_process(pid_t pid, int sig) {
  kill(pid, sig);
  for (int i = 0; i < 600 && kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

// The port the "metrics: http://127.0.0.1:PORT/metrics" line in `err` names (-1: none).
inline int metrics_port_in(const std::string& err) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex("metrics: http://127\\.0\\.0\\.1:([0-9]+)/metrics")))
    return -1;
  return std::stoi(m[1]);
}

// The text exposition: series (name and labels) -> value; every comment line is a
// plait_ series' HELP or TYPE.
inline std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      EXPECT_TRUE(line.rfind("# HELP plait_", 0) == 0 || line.rfind("# TYPE plait_", 0) == 0) << line;
      continue;
    }
    const auto sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    out[line.substr(0, sp)] =
        line.substr(sp + 1) == "NaN" ? std::nan("") : std::stod(line.substr(sp + 1));
  }
  return out;
}

}  // namespace plait::test
