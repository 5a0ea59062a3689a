#include "data/eval_windows.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "data_helpers.h"
#include "util/error.h"

namespace plait::data {
using testing::expect_usage_error;
using testing::TempDir;

TEST(EvalWindows, CountAndContentOnATinyFile) {
  TempDir tmp;
  // 14 bytes, ctx 3 -> windows of 4: "abcd" "efgh" "ijkl", tail "mn" dropped.
  std::string p = tmp.file("tiny.txt", "abcdefghijklmn");
  EvalWindows w = EvalWindows::from_file(p, 3);
  ASSERT_EQ(w.count(), 3);
  EXPECT_EQ(w.tokens(), 9);
  std::vector<int32_t> in(9), tg(9);
  w.fill(0, 3, in.data(), tg.data());
  EXPECT_EQ(in, (std::vector<int32_t>{'a', 'b', 'c', 'e', 'f', 'g', 'i', 'j', 'k'}));
  EXPECT_EQ(tg, (std::vector<int32_t>{'b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l'}));
  std::vector<int32_t> in1(3), tg1(3);
  w.fill(2, 1, in1.data(), tg1.data());  // a batch from the middle
  EXPECT_EQ(in1, (std::vector<int32_t>{'i', 'j', 'k'}));
  EXPECT_EQ(tg1, (std::vector<int32_t>{'j', 'k', 'l'}));
}

TEST(EvalWindows, ExactMultipleUsesEveryByte) {
  EvalWindows w(std::vector<uint8_t>(20, 'x'), 4);
  EXPECT_EQ(w.count(), 4);
  EXPECT_EQ(w.tokens(), 16);
}

TEST(EvalWindows, BadInputs) {
  TempDir tmp;
  std::string shortf = tmp.file("short.txt", "abc");
  expect_usage_error([&] { EvalWindows::from_file(shortf, 3); }, {shortf, "has 3 bytes", "= 4"});
  std::string empty = tmp.file("empty.txt", "");
  expect_usage_error([&] { EvalWindows::from_file(empty, 3); }, {empty, "empty"});
  expect_usage_error([&] { EvalWindows::from_file(tmp.path("no.txt"), 3); },
                     {"no.txt", "does not exist"});
  expect_usage_error([&] { EvalWindows::from_file(tmp.dir(), 3); }, {"directory"});
  EvalWindows w(std::vector<uint8_t>(8, 'x'), 3);
  int32_t buf[12];
  EXPECT_THROW(w.fill(1, 2, buf, buf), std::invalid_argument);
  EXPECT_THROW(w.fill(-1, 1, buf, buf), std::invalid_argument);
}

}  // namespace plait::data
