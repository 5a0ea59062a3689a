// Shared helpers for the fault tests: temporary directories, byte-level file edits,
// and the "one-line UsageError naming X" assertion.
#pragma once
#include "../common/expect_usage_error.h"
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "util/error.h"

namespace plait::fault_testing {

class TempDir {
 public:
  TempDir() {
    auto base = std::filesystem::temp_directory_path();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string stem = std::string("plait_fault_") + (info ? info->name() : "x");
    for (int i = 0;; ++i) {
      path_ = base / (stem + "_" + std::to_string(i));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& n) const { return path_ / n; }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_bytes(const std::filesystem::path& p, const std::string& b) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << b;
}

// A raw safetensors file: the 8-byte length, `header` as given, then `data`.
inline std::string raw_safetensors(const std::string& header, const std::string& data) {
  uint64_t n = header.size();
  std::string s(8, '\0');
  std::memcpy(s.data(), &n, 8);
  return s + header + data;
}

using plait::test::expect_usage_error;

}  // namespace plait::fault_testing
