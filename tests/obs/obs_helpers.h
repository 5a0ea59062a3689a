// Helpers for the obs tests: a temporary path and a FILE* whose text can be read back.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace plait::obs::testing {

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("plait_obs_" + std::to_string(getpid()) + "_" + name))
      .string();
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Everything written to f so far.
inline std::string contents(FILE* f) {
  std::fflush(f);
  long end = std::ftell(f);
  std::string text(static_cast<size_t>(end), '\0');
  std::rewind(f);
  size_t got = std::fread(text.data(), 1, text.size(), f);
  text.resize(got);
  std::fseek(f, 0, SEEK_END);
  return text;
}

}  // namespace plait::obs::testing
