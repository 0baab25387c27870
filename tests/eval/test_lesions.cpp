#include <cmath>

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/eval/lesions.h"

namespace unipet::eval {
namespace {

// Spacing (x, y, z) = (2, 3, 4) mm, so W, H and D voxels are 2, 3 and 4 mm apart. A 1 ml peak
// sphere has radius 6.2035 mm; the voxel offsets (dd, dh, dw) whose centres lie inside are:
//   dd = 0:  dh = 0, |dw| <= 3 (7);  dh = ±1, |dw| <= 2 (10);  dh = ±2, dw = 0 (2)        -> 19
//   dd = ±1: dh = 0, |dw| <= 2 (10); dh = ±1, |dw| <= 1 (12)                              -> 22
// 41 voxels in all; (dd, dh, dw) = (0, 2, 1) is at 6.32 mm, just outside.
struct TwoLesionCase {
  Volume image, labels;
  TwoLesionCase() {
    image.data = torch::ones({9, 11, 13});
    image.spacing = {2.0, 3.0, 4.0};
    image.units = Units::SUV;
    labels = with_geometry_of(image, torch::zeros({9, 11, 13}));
    // Lesion 5: a 3×3×3 cube of SUV 5 around a hottest voxel of 10 at (4, 5, 6); all 27 cube
    // voxels lie in the sphere. Background 100 at (4, 7, 6) is inside it, 1000 at (4, 7, 7) not.
    image.data.slice(0, 3, 6).slice(1, 4, 7).slice(2, 5, 8).fill_(5.0);
    labels.data.slice(0, 3, 6).slice(1, 4, 7).slice(2, 5, 8).fill_(5.0);
    image.data[4][5][6] = 10.0;
    image.data[4][7][6] = 100.0;
    image.data[4][7][7] = 1000.0;
    // Lesion 2 touches the corner: SUV 8 at (0, 0, 0) and 4 at (0, 0, 1). Its sphere, cut by
    // three faces, keeps dd in {0, 1}: dd = 0: dh = 0, dw 0..3 (4); dh = 1, dw 0..2 (3);
    // dh = 2, dw = 0 (1); dd = 1: dh = 0, dw 0..2 (3); dh = 1, dw 0..1 (2) -> 13 voxels.
    image.data[0][0][0] = 8.0;
    image.data[0][0][1] = 4.0;
    labels.data[0][0][0] = 2.0;
    labels.data[0][0][1] = 2.0;
  }
};

TEST(Lesions, StatsOfAHandMadeVolumeWithAnisotropicSpacing) {
  TwoLesionCase c;
  const auto stats = lesion_stats(c.image, c.labels);
  ASSERT_EQ(stats.size(), 2u);
  const auto& inner = stats[1];
  EXPECT_EQ(inner.label, 5);
  EXPECT_EQ(inner.voxels, 27);
  EXPECT_NEAR(inner.volume_ml, 27 * 2.0 * 3.0 * 4.0 / 1000.0, 1e-12);
  EXPECT_EQ(inner.suv_max, 10.0);
  EXPECT_NEAR(inner.suv_mean, (10.0 + 26 * 5.0) / 27.0, 1e-12);
  // 10 + 26 lesion voxels of 5 + the 100 + the 13 other sphere voxels of 1, over 41.
  EXPECT_NEAR(inner.suv_peak, (10.0 + 26 * 5.0 + 100.0 + 13.0) / 41.0, 1e-12);
  EXPECT_EQ(inner.peak_index_dhw, (std::array<int64_t, 3>{4, 5, 6}));
}

TEST(Lesions, ALesionAtTheVolumeBorderKeepsTheSpherePartInside) {
  TwoLesionCase c;
  const auto stats = lesion_stats(c.image, c.labels);
  const auto& corner = stats.at(0);
  EXPECT_EQ(corner.label, 2);
  EXPECT_EQ(corner.voxels, 2);
  EXPECT_EQ(corner.suv_max, 8.0);
  EXPECT_NEAR(corner.suv_mean, 6.0, 1e-12);
  EXPECT_NEAR(corner.suv_peak, (8.0 + 4.0 + 11.0) / 13.0, 1e-12);
  EXPECT_EQ(corner.peak_index_dhw, (std::array<int64_t, 3>{0, 0, 0}));
}

TEST(Lesions, ASmallerPeakSphereHoldsOnlyTheHottestVoxel) {
  // Radius 1.9 mm (0.0287 ml) is under every spacing: SUVpeak = SUVmax.
  TwoLesionCase c;
  const double ml = 4.0 / 3.0 * 3.14159265358979 * std::pow(1.9, 3) / 1000.0;
  for (const auto& s : lesion_stats(c.image, c.labels, ml)) EXPECT_EQ(s.suv_peak, s.suv_max);
}

TEST(Lesions, NoLabelGivesNoStats) {
  TwoLesionCase c;
  c.labels.data.zero_();
  EXPECT_TRUE(lesion_stats(c.image, c.labels).empty());
}

TEST(Lesions, MismatchedGeometryBadLabelsAndBadPeakAreRefused) {
  TwoLesionCase c;
  auto moved = c.labels;
  moved.spacing = {2.0, 3.0, 5.0};
  test::expect_error([&] { lesion_stats(c.image, moved); },
                     {"lesion_stats", "image", "labels", "geometry", "4)", "5)"});
  auto negative = with_geometry_of(c.labels, c.labels.data.clone());
  negative.data[1][1][1] = -1.0;
  test::expect_error([&] { lesion_stats(c.image, negative); }, {"labels", "negative"});
  auto fractional = with_geometry_of(c.labels, c.labels.data.clone());
  fractional.data[1][1][1] = 1.5;
  test::expect_error([&] { lesion_stats(c.image, fractional); }, {"labels", "whole"});
  test::expect_error([&] { lesion_stats(c.image, c.labels, 0.0); }, {"peak_ml"});
}

TEST(Lesions, BiasContrastRecoveryAndCovAreExact) {
  EXPECT_NEAR(relative_bias(11.0, 10.0), 0.1, 1e-15);
  EXPECT_NEAR(relative_bias(9.0, 10.0), -0.1, 1e-15);
  // Measured contrast 4:1 (3) of a true 5:1 (4).
  EXPECT_NEAR(contrast_recovery(8.0, 2.0, 5.0, 1.0), 0.75, 1e-15);
  // Region values 1 and 3: mean 2, population std 1.
  auto image = torch::full({2, 3, 4}, 50.0);
  auto mask = torch::zeros({2, 3, 4}, torch::kBool);
  image[0][0][0] = 1.0;
  image[1][2][3] = 3.0;
  mask[0][0][0] = true;
  mask[1][2][3] = true;
  EXPECT_NEAR(region_cov(image, mask), 0.5, 1e-15);
  EXPECT_EQ(region_cov(torch::full({2, 3, 4}, 7.0), torch::Tensor()), 0.0);
}

TEST(Lesions, DerivedFiguresRefuseUndefinedInputs) {
  test::expect_error([] { relative_bias(1.0, 0.0); }, {"relative_bias", "0"});
  test::expect_error([] { relative_bias(NAN, 1.0); }, {"relative_bias", "finite"});
  // The table's variant: the same number, or NaN where relative_bias throws.
  EXPECT_EQ(relative_bias_or_nan(11.0, 10.0), relative_bias(11.0, 10.0));
  EXPECT_TRUE(std::isnan(relative_bias_or_nan(1.0, 0.0)));
  EXPECT_TRUE(std::isnan(relative_bias_or_nan(NAN, 1.0)));
  EXPECT_TRUE(std::isnan(relative_bias_or_nan(1.0, INFINITY)));
  test::expect_error([] { contrast_recovery(2.0, 1.0, 3.0, 3.0); }, {"contrast_recovery", "no contrast"});
  test::expect_error([] { contrast_recovery(2.0, 0.0, 3.0, 1.0); }, {"contrast_recovery", "background"});
  test::expect_error(
      [] {
        region_cov(torch::zeros({2, 2, 2}), torch::Tensor());
      },
      {"region_cov", "mean is 0"});
  test::expect_error(
      [] {
        region_cov(torch::ones({2, 2, 2}), torch::zeros({2, 2, 2}, torch::kBool));
      },
      {"region_cov", "no voxel"});
}

}  // namespace
}  // namespace unipet::eval
