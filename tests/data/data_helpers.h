// Temporary files for the data tests.
#pragma once
#include "../common/expect_usage_error.h"
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

using plait::test::expect_usage_error;

}  // namespace plait::data::testing
