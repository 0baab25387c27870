#include "unipet/report/png.h"

#include <gtest/gtest.h>

#include "png_test_util.h"
#include "test_util.h"
#include "unipet/core/error.h"

namespace unipet::test {
namespace {

using report::base64_encode;
using report::data_uri_png;
using report::encode_png;

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> pixels(n);
  for (size_t i = 0; i < n; ++i) pixels[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return pixels;
}

TEST(Png, GrayImageRoundTripsThroughLibpng) {
  const auto pixels = ramp(7 * 5);
  const DecodedPng decoded = decode_png(encode_png(pixels, 7, 5, 1), 1);
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.width, 7);
  EXPECT_EQ(decoded.height, 5);
  EXPECT_EQ(decoded.pixels, pixels);
}

TEST(Png, RgbImageRoundTripsThroughLibpng) {
  // An odd width checks that rows are not padded.
  const auto pixels = ramp(3 * 9 * 4);
  const DecodedPng decoded = decode_png(encode_png(pixels, 9, 4, 3), 3);
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.width, 9);
  EXPECT_EQ(decoded.height, 4);
  EXPECT_EQ(decoded.pixels, pixels);
}

TEST(Png, RejectsWrongSizesAndChannelCounts) {
  expect_error([] { encode_png(std::vector<uint8_t>(11), 4, 3, 1); }, {"4x3x1", "12 bytes", "got 11"});
  expect_error([] { encode_png(std::vector<uint8_t>(8), 2, 2, 2); }, {"channels must be 1 or 3", "2"});
  expect_error([] { encode_png({}, 0, 3, 1); }, {"must be positive", "0x3"});
}

TEST(Png, Base64MatchesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Png, Base64UsesPlusAndSlashForHighBytes) {
  EXPECT_EQ(base64_encode(std::string("\xfb\xff\xbf", 3)), "+/+/");
  EXPECT_EQ(base64_encode(std::string("\0\0\0", 3)), "AAAA");
}

TEST(Png, DataUriHoldsTheBase64OfThePng) {
  const std::string png = encode_png({0, 255}, 2, 1, 1);
  EXPECT_EQ(data_uri_png(png), "data:image/png;base64," + base64_encode(png));
  expect_error([] { data_uri_png("GIF89a"); }, {"6 bytes", "not a PNG"});
}

}  // namespace
}  // namespace unipet::test
