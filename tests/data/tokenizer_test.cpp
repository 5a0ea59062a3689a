#include "data/tokenizer.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace plait::data {

TEST(Tokenizer, EveryByteRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::vector<int32_t> tokens = encode(all);
  ASSERT_EQ(tokens.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(tokens[b], b);  // unsigned, never negative
  EXPECT_EQ(decode(tokens), all);
}

TEST(Tokenizer, Utf8IsBytes) {
  std::string text = "h\xc3\xa9!";  // "hé!"
  EXPECT_EQ(encode(text), (std::vector<int32_t>{'h', 0xc3, 0xa9, '!'}));
  EXPECT_EQ(decode(encode(text)), text);
  EXPECT_TRUE(encode("").empty());
}

TEST(Tokenizer, DecodeRejectsNonBytes) {
  std::vector<int32_t> bad = {65, 256};
  EXPECT_THROW(decode(bad), UsageError);
  EXPECT_THROW(decode_one(-1), UsageError);
  EXPECT_EQ(decode_one(65), 'A');
  EXPECT_EQ(kVocab, 256);
}

}  // namespace plait::data
