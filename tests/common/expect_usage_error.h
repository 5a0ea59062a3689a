// Shared by the module tests: runs fn and expects a plait::UsageError whose message
// is ONE line containing every fragment; returns the message.
#pragma once
#include <gtest/gtest.h>

#include <exception>
#include <string>
#include <vector>

#include "util/error.h"

namespace plait::test {

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
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected UsageError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no UsageError thrown";
  return "";
}

}  // namespace plait::test
