#include "fault/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "fault/hash.h"
#include "fault_helpers.h"

namespace plait::safetensors {
namespace {

using fault_testing::expect_usage_error;
using fault_testing::raw_safetensors;
using fault_testing::read_bytes;
using fault_testing::TempDir;
using fault_testing::write_bytes;

// Two tensors whose floats include the awkward values a round trip must keep.
struct Sample {
  std::vector<float> a{1.5f, -0.0f, std::numeric_limits<float>::denorm_min(),
                       std::numeric_limits<float>::infinity(), 3.0e38f, -7.25f};
  std::vector<int32_t> b{0, 255, -1};
  std::vector<TensorOut> tensors() const {
    return {f32_tensor("w", {2, 3}, a),
            {"tok", DType::I32, {3}, std::as_bytes(std::span<const int32_t>(b))}};
  }
};

TEST(Safetensors, RoundTripIsBitExact) {
  TempDir dir;
  Sample s;
  auto w = write_file(dir / "x.safetensors", s.tensors(), {{"layers", "2"}});
  EXPECT_EQ(w.bytes, std::filesystem::file_size(dir / "x.safetensors"));
  EXPECT_EQ(w.xxh64, xxh64_file(dir / "x.safetensors"));

  Reader r(dir / "x.safetensors");
  ASSERT_EQ(r.tensors().size(), 2u);
  EXPECT_EQ(r.metadata().at("layers"), "2");
  std::vector<float> a(6);
  r.read_f32("w", {2, 3}, a);
  EXPECT_EQ(std::memcmp(a.data(), s.a.data(), 24), 0);
  EXPECT_EQ(r.read_i32("tok"), s.b);
  EXPECT_EQ(r.find("tok")->shape, (std::vector<int64_t>{3}));
}

TEST(Safetensors, HeaderIsPaddedToEightBytesWithSpaces) {
  TempDir dir;
  Sample s;
  write_file(dir / "x.safetensors", s.tensors(), {});
  std::string bytes = read_bytes(dir / "x.safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));
  auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["w"]["dtype"], "F32");
  EXPECT_EQ(j["w"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(j["tok"]["data_offsets"], nlohmann::json({24, 36}));
  EXPECT_EQ(bytes.size(), 8 + n + 36);
}

TEST(Safetensors, EmptyFileAndScalar) {
  TempDir dir;
  float x = 2.0f;
  write_file(dir / "s.safetensors", {f32_tensor("loss", {}, std::span<const float>(&x, 1))}, {});
  Reader r(dir / "s.safetensors");
  EXPECT_EQ(r.read_f32("loss"), std::vector<float>{2.0f});
  write_file(dir / "e.safetensors", {}, {});
  EXPECT_TRUE(Reader(dir / "e.safetensors").tensors().empty());
}

TEST(Safetensors, WriterRejectsMalformedRequests) {
  TempDir dir;
  std::vector<float> a(5);
  EXPECT_THROW(write_file(dir / "x", {f32_tensor("w", {2, 3}, a)}, {}), std::invalid_argument);
  EXPECT_THROW(write_file(dir / "x", {f32_tensor("w", {5}, a), f32_tensor("w", {5}, a)}, {}),
               std::invalid_argument);
}

// ---- every bad input names the file and the problem --------------------------------

class BadFile : public ::testing::Test {
 protected:
  std::string load(const std::string& bytes, const std::vector<std::string>& fragments) {
    write_bytes(dir / "bad.safetensors", bytes);
    auto f = fragments;
    f.push_back("bad.safetensors");
    return expect_usage_error([&] { Reader r(dir / "bad.safetensors"); }, f);
  }
  std::string good() {
    Sample s;
    write_file(dir / "good.safetensors", s.tensors(), {});
    return read_bytes(dir / "good.safetensors");
  }
  TempDir dir;
};

TEST_F(BadFile, ShorterThanEightBytes) { load("abc", {"truncated", "3 bytes"}); }

TEST_F(BadFile, TruncatedData) {
  std::string g = good();
  load(g.substr(0, g.size() - 5), {"truncated", "out of range", "tok"});
}

TEST_F(BadFile, TruncatedHeader) {
  std::string g = good();
  load(g.substr(0, 20), {"header length", "larger than the file"});
}

TEST_F(BadFile, HeaderLongerThanFile) {
  std::string s = raw_safetensors("{}", "");
  s[0] = static_cast<char>(0xff);  // header length 255, file of 10 bytes
  load(s, {"header length 255", "larger than the file"});
}

TEST_F(BadFile, HugeHeaderLength) {
  std::string s = raw_safetensors("{}", "");
  uint64_t n = ~0ULL;
  std::memcpy(s.data(), &n, 8);
  load(s, {"header length", "larger than the file"});
}

TEST_F(BadFile, HeaderNotJson) { load(raw_safetensors("{\"w\": garbage", ""), {"header is not JSON"}); }

TEST_F(BadFile, HeaderNotObject) { load(raw_safetensors("[1, 2]", ""), {"not an object"}); }

TEST_F(BadFile, UnknownDtype) {
  load(raw_safetensors(R"({"w":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}})", "abcd"),
       {"tensor 'w'", "unknown dtype 'F31'"});
}

TEST_F(BadFile, DataSizeNotMatchingShape) {
  load(raw_safetensors(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})",
                       std::string(12, 'x')),
       {"tensor 'w'", "12 bytes", "[2, 2]", "needs 16"});
}

TEST_F(BadFile, OffsetsOutOfRange) {
  load(raw_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                       std::string(8, 'x')),
       {"tensor 'w'", "out of range"});
}

TEST_F(BadFile, EndBeforeBegin) {
  load(raw_safetensors(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})",
                       std::string(8, 'x')),
       {"tensor 'w'", "out of range"});
}

TEST_F(BadFile, OverlappingTensors) {
  load(raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                       std::string(12, 'x')),
       {"'a'", "'b'", "overlap"});
}

TEST_F(BadFile, HoleAndTrailingBytes) {
  load(raw_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       std::string(8, 'x')),
       {"hole"});
  load(raw_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                       std::string(8, 'x')),
       {"4 trailing bytes"});
}

TEST_F(BadFile, MetadataMustBeStrings) {
  load(raw_safetensors(R"({"__metadata__":{"layers":2}})", ""), {"__metadata__", "layers"});
}

TEST_F(BadFile, ImpossibleShape) {
  load(raw_safetensors(
           R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})", ""),
       {"tensor 'w'", "impossibly large"});
}

TEST(SafetensorsExpect, MissingWrongShapeWrongDtype) {
  TempDir dir;
  Sample s;
  write_file(dir / "x.safetensors", s.tensors(), {});
  Reader r(dir / "x.safetensors");
  std::vector<float> out(6);
  expect_usage_error([&] { r.read_f32("nope", {2, 3}, out); }, {"x.safetensors", "'nope'", "missing"});
  expect_usage_error([&] { r.read_f32("w", {3, 2}, out); },
                     {"x.safetensors", "'w'", "[2, 3]", "expected [3, 2]"});
  expect_usage_error([&] { r.read_f32("tok"); }, {"'tok'", "I32", "expected F32"});
  expect_usage_error([&] { Reader(dir / "absent.safetensors"); }, {"absent.safetensors", "cannot open"});
}

}  // namespace
}  // namespace plait::safetensors
