#include "unipet/report/figures.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/report/png.h"

namespace unipet::test {
namespace {

using report::Image;
using report::Window;

constexpr uint8_t kWhite = 255, kBlack = 0;

Volume zeros(int64_t d, int64_t h, int64_t w, std::array<double, 3> spacing = {1, 1, 1}) {
  Volume v;
  v.data = torch::zeros({d, h, w});
  v.spacing = spacing;
  return v;
}

uint8_t gray_at(const Image& image, int row, int col) { return image.pixels.at(row * image.width + col); }

std::array<uint8_t, 3> rgb_at(const Image& image, int row, int col) {
  const size_t i = (static_cast<size_t>(row) * image.width + col) * 3;
  return {image.pixels.at(i), image.pixels.at(i + 1), image.pixels.at(i + 2)};
}

// Positions of the pixels darker than mid-gray, as (row, col).
std::vector<std::pair<int, int>> dark_pixels(const Image& image) {
  std::vector<std::pair<int, int>> out;
  for (int r = 0; r < image.height; ++r)
    for (int c = 0; c < image.width; ++c)
      if (gray_at(image, r, c) < 128) out.emplace_back(r, c);
  return out;
}

using Pixels = std::vector<std::pair<int, int>>;

TEST(FigureColours, InvertedGrayIsWhiteBelowAndBlackAboveTheWindow) {
  const Window window{0, 5};
  EXPECT_EQ(report::inverted_gray(-1, window), kWhite);
  EXPECT_EQ(report::inverted_gray(0, window), kWhite);
  EXPECT_EQ(report::inverted_gray(2.5, window), 128);
  EXPECT_EQ(report::inverted_gray(5, window), kBlack);
  EXPECT_EQ(report::inverted_gray(50, window), kBlack);
  expect_error([] { report::inverted_gray(1, {2, 2}); }, {"low < high", "2 to 2"});
}

TEST(FigureColours, DifferenceMapIsBlueWhiteRed) {
  using Rgb = std::array<uint8_t, 3>;
  EXPECT_EQ(report::blue_white_red(0, 1), (Rgb{255, 255, 255}));
  EXPECT_EQ(report::blue_white_red(-1, 1), (Rgb{33, 102, 172}));
  EXPECT_EQ(report::blue_white_red(-7, 1), (Rgb{33, 102, 172}));
  EXPECT_EQ(report::blue_white_red(2, 2), (Rgb{178, 24, 43}));
  const Rgb half_red = report::blue_white_red(0.5, 1);
  EXPECT_GT(half_red[0], half_red[2]);
  EXPECT_GT(half_red[2], 43);
  expect_error([] { report::blue_white_red(0, 0); }, {"half-width", "0"});
}

TEST(FigureMip, HasThePhysicalAspectRatio) {
  // 10 columns of 2 mm by 5 slices of 8 mm: 20 mm wide, 40 mm high.
  const Image mip = report::coronal_mip(zeros(5, 3, 10, {2, 1, 8}), {0, 1}, 80);
  EXPECT_EQ(mip.height, 80);
  EXPECT_EQ(mip.width, 40);
  EXPECT_EQ(mip.channels, 1);
  EXPECT_EQ(mip.pixels.size(), 80u * 40);
}

TEST(FigureMip, PutsSuperiorAtTheTopAndThePatientsRightOnTheLeft) {
  Volume v = zeros(4, 3, 4);
  v.data[3][2][0] = 5;  // most superior slice, posterior, patient's right (x index 0 in LPS)
  const Image mip = report::coronal_mip(v, {0, 5}, 4);
  ASSERT_EQ(mip.width, 4);
  EXPECT_EQ(dark_pixels(mip), (Pixels{{0, 0}}));
  EXPECT_EQ(gray_at(mip, 0, 0), kBlack);
  EXPECT_EQ(gray_at(mip, 3, 3), kWhite);
}

TEST(FigureMip, ShowsTheMaximumAlongY) {
  Volume v = zeros(2, 5, 2);
  v.data.select(2, 1).fill_(1);
  v.data[0][3][1] = 4;
  const Image mip = report::coronal_mip(v, {0, 4}, 2);
  EXPECT_EQ(gray_at(mip, 1, 1), kBlack);  // z 0 is the bottom row
  EXPECT_EQ(gray_at(mip, 0, 1), report::inverted_gray(1, {0, 4}));
  EXPECT_EQ(gray_at(mip, 0, 0), kWhite);
}

TEST(FigureSlices, AxialPutsAnteriorAtTheTop) {
  Volume v = zeros(3, 4, 4);
  v.data[1][0][3] = 5;  // anterior row, patient's left
  EXPECT_EQ(dark_pixels(report::axial_slice(v, 1, {0, 5}, 4)), (Pixels{{0, 3}}));
  EXPECT_TRUE(dark_pixels(report::axial_slice(v, 0, {0, 5}, 4)).empty());
}

TEST(FigureSlices, CoronalShowsOnlyItsRowWithSuperiorAtTheTop) {
  Volume v = zeros(4, 3, 4);
  v.data[0][1][2] = 5;  // most inferior slice
  EXPECT_EQ(dark_pixels(report::coronal_slice(v, 1, {0, 5}, 4)), (Pixels{{3, 2}}));
  EXPECT_TRUE(dark_pixels(report::coronal_slice(v, 0, {0, 5}, 4)).empty());
}

TEST(FigureSlices, LongerSideIsMaxPxAndPixelsAreSquare) {
  // 8 columns of 1 mm by 4 rows of 3 mm: 8 mm wide, 12 mm high.
  const Image slice = report::axial_slice(zeros(2, 4, 8, {1, 3, 1}), 0, {0, 1}, 60);
  EXPECT_EQ(slice.height, 60);
  EXPECT_EQ(slice.width, 40);
}

TEST(FigureSlices, FlippedAxesAreDrawnInTheSameOrientation) {
  Volume v = zeros(4, 4, 4);
  // x index grows toward the patient's right and z index toward inferior: index (x 3, z 0) is the
  // most right and most superior voxel, so it belongs at the top left.
  v.direction = {-1, 0, 0, 0, 1, 0, 0, 0, -1};
  v.data[0][2][3] = 5;
  EXPECT_EQ(dark_pixels(report::coronal_mip(v, {0, 5}, 4)), (Pixels{{0, 0}}));
  EXPECT_EQ(dark_pixels(report::axial_slice(v, 0, {0, 5}, 4)), (Pixels{{2, 0}}));
}

TEST(FigureSlices, RejectsPermutedAxesBadIndicesAndSizes) {
  Volume v = zeros(4, 4, 4);
  expect_error([&] { report::axial_slice(v, 4, {0, 5}, 64); }, {"axial_slice", "z index 4", "0..3"});
  expect_error([&] { report::coronal_slice(v, -1, {0, 5}, 64); }, {"coronal_slice", "y index -1"});
  expect_error([&] { report::coronal_mip(v, {0, 5}, 0); }, {"coronal_mip", "1 to 8192", "got 0"});
  expect_error([&] { report::coronal_mip(v, {5, 0}, 16); }, {"low < high"});
  v.direction = {0, 1, 0, 1, 0, 0, 0, 0, 1};
  expect_error([&] { report::axial_slice(v, 0, {0, 5}, 64); }, {"axial_slice", "reorient"});
  expect_error([] { report::coronal_mip(Volume{}, {0, 5}, 16); }, {"coronal_mip", "no data"});
}

TEST(FigureDifference, IsRedWhereTheFirstVolumeIsHigher) {
  Volume a = zeros(2, 3, 3), b = zeros(2, 3, 3);
  a.data[1][0][0] = 1;
  b.data[1][2][2] = 1;
  const Image diff = report::difference_slice(a, b, 1, 1.0, 3);
  ASSERT_EQ(diff.channels, 3);
  using Rgb = std::array<uint8_t, 3>;
  EXPECT_EQ(rgb_at(diff, 0, 0), (Rgb{178, 24, 43}));
  EXPECT_EQ(rgb_at(diff, 2, 2), (Rgb{33, 102, 172}));
  EXPECT_EQ(rgb_at(diff, 1, 1), (Rgb{255, 255, 255}));
  b.spacing = {2, 1, 1};
  expect_error([&] { report::difference_slice(a, b, 1, 1.0, 3); }, {"difference_slice", "geometry"});
  expect_error([&] { report::difference_slice(a, a, 1, -1.0, 3); }, {"half-width"});
}

TEST(FigureDataUri, IsThePngOfTheImage) {
  Image image{2, 1, 1, {0, 255}};
  EXPECT_EQ(report::data_uri_png(image), report::data_uri_png(report::encode_png({0, 255}, 2, 1, 1)));
}

}  // namespace
}  // namespace unipet::test
