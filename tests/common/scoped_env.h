// Shared by the module tests: sets (or, with nullptr, unsets) an environment variable
// for a scope and puts back what was there before.
#pragma once
#include <cstdlib>
#include <optional>
#include <string>

namespace plait::test {

class ScopedEnv {
 public:
  ScopedEnv(const char* var, const char* value) : var_(var) {
    if (const char* old = std::getenv(var)) old_ = old;
    if (value) ::setenv(var, value, 1);
    else ::unsetenv(var);
  }
  ScopedEnv(const char* var, const std::string& value) : ScopedEnv(var, value.c_str()) {}
  ~ScopedEnv() {
    if (old_) ::setenv(var_, old_->c_str(), 1);
    else ::unsetenv(var_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* var_;
  std::optional<std::string> old_;
};

}  // namespace plait::test
