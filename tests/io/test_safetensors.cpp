#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/safetensors.h"

namespace unipet::io {
namespace {

namespace fs = std::filesystem;

SafetensorsFile sample() {
  SafetensorsFile f;
  f.tensors["a.weight"] = torch::arange(24, torch::kFloat32).reshape({2, 3, 4});
  f.tensors["b"] = torch::tensor({1.5, -2.0}, torch::kFloat64);
  f.tensors["c"] = torch::tensor({-3, 7}, torch::kInt64);
  f.tensors["d"] = torch::tensor({0.5f, 1.25f}).to(torch::kBFloat16);
  f.tensors["e"] = torch::tensor({0.5f, 1.25f}).to(torch::kFloat16);
  f.tensors["f"] = torch::tensor({true, false});
  f.tensors["g"] = torch::tensor({200, 3}, torch::kUInt8);
  f.tensors["empty"] = torch::zeros({0, 3});
  f.tensors["scalar"] = torch::tensor(4.0f);
  f.metadata["unipet.width"] = "64";
  return f;
}

// Builds a file from a hand-written header and data section.
std::string raw(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string error_of(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "x.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripKeepsEveryDtypeShapeValueAndMetadata) {
  const auto original = sample();
  const auto parsed = parse_safetensors(serialize_safetensors(original), "mem");
  ASSERT_EQ(parsed.tensors.size(), original.tensors.size());
  for (const auto& [name, t] : original.tensors) {
    const auto& u = parsed.tensors.at(name);
    EXPECT_EQ(u.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(u.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(u, t)) << name;
  }
  EXPECT_EQ(parsed.metadata, original.metadata);
}

TEST(Safetensors, HeaderIsPaddedSoDataIsAligned) {
  const std::string bytes = serialize_safetensors(sample());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(Safetensors, FileRoundTripIsAtomicAndLeavesNoTemporaries) {
  test::TempDir tmp;
  const fs::path& dir = tmp.path();
  const std::string path = tmp / "m.safetensors";
  write_safetensors(path, sample());
  EXPECT_TRUE(torch::equal(read_safetensors(path).tensors.at("a.weight"), sample().tensors.at("a.weight")));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(Safetensors, MissingFileNamesThePath) {
  try {
    read_safetensors("/nonexistent/w.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/w.safetensors: cannot open"), std::string::npos);
  }
}

TEST(Safetensors, TruncatedFilesFailCleanly) {
  const std::string bytes = serialize_safetensors(sample());
  EXPECT_NE(error_of(bytes.substr(0, 5)).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(bytes.substr(0, 20)).find("exceeds the file size"), std::string::npos);
  EXPECT_NE(error_of(bytes.substr(0, bytes.size() - 3)).find("runs past the end"), std::string::npos);
}

TEST(Safetensors, MalformedHeadersNameTheProblem) {
  const std::string f32x2 = std::string(8, '\0');
  EXPECT_NE(error_of(raw("{not json", "")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(raw("[1,2]", "")).find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of(raw(R"({"t":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", f32x2))
                .find("tensor 't': unsupported dtype 'Q9'"), std::string::npos);
  EXPECT_NE(error_of(raw(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2))
                .find("but data_offsets span 8"), std::string::npos);
  EXPECT_NE(error_of(raw(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2))
                .find("non-negative"), std::string::npos);
  EXPECT_NE(error_of(raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", f32x2))
                .find("begin 8 > end 0"), std::string::npos);
  EXPECT_NE(error_of(raw(R"({"t":{"dtype":"F32","shape":[2]}})", f32x2)).find("data_offsets"),
            std::string::npos);
  EXPECT_NE(error_of(raw(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", f32x2))
                .find("too large"), std::string::npos);
  EXPECT_NE(error_of(raw(R"({"__metadata__":{"k":3}})", "")).find("not a string"), std::string::npos);
  std::string huge(8, '\xff');
  EXPECT_NE(error_of(huge + "{}").find("implausible"), std::string::npos);
}

TEST(Safetensors, OverlappingHolesAndTrailingBytesAreRejected) {
  const std::string data(16, '\0');
  EXPECT_NE(error_of(raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", data.substr(0, 12)))
                .find("overlaps"), std::string::npos);
  EXPECT_NE(error_of(raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data))
                .find("unused bytes before tensor 'a'"), std::string::npos);
  EXPECT_NE(error_of(raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data))
                .find("8 trailing bytes"), std::string::npos);
}

TEST(Safetensors, RandomCorruptionNeverCrashes) {
  const std::string good = serialize_safetensors(sample());
  std::mt19937 rng(9);
  int parsed = 0, rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (trial % 5 == 0) bytes.resize(rng() % bytes.size());
    try {
      parse_safetensors(bytes, "fuzz");
      ++parsed;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_EQ(parsed + rejected, 2000);
  EXPECT_GT(rejected, 500);
}

}  // namespace
}  // namespace unipet::io
