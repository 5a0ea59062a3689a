// Temporary files for the data tests.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "util/error.h"

namespace plait::data::testing {

// A fresh directory under the system's temp dir, removed with the fixture.
class TempDir {
 public:
  TempDir() {
    auto base = std::filesystem::temp_directory_path();
    std::string stem =
        "plait_data_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed());
    for (int i = 0;; ++i) {
      path_ = base / (stem + "_" + std::to_string(i));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }
  std::string dir() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Runs fn, expects a UsageError whose message is one line containing every
// fragment, and returns the message.
template <class Fn>
std::string expect_usage_error(Fn fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const plait::UsageError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
    return msg;
  }
  ADD_FAILURE() << "no UsageError thrown";
  return "";
}

}  // namespace plait::data::testing
