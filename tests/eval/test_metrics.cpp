#include <cmath>

#include <gtest/gtest.h>

#include "reference.h"
#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/eval/metrics.h"

namespace unipet::eval {
namespace {

torch::Tensor vec(const std::string& key) {
  return unipet::test::reference_tensor("metric_vectors.safetensors", key);
}

TEST(Metrics, PsnrMatchesScikitImage) {
  const double expected = vec("psnr_range20").item<double>();
  EXPECT_NEAR(psnr(vec("reference"), vec("test"), 20.0), expected, 1e-3);
}

TEST(Metrics, SsimMatchesScikitImage) {
  const double expected = vec("ssim_range20_skimage").item<double>();
  EXPECT_NEAR(ssim(vec("reference"), vec("test"), 20.0), expected, 1e-4);
}

TEST(Metrics, IdenticalImagesArePerfect) {
  auto x = vec("reference");
  EXPECT_TRUE(std::isinf(psnr(x, x, 20.0)));
  EXPECT_NEAR(ssim(x, x, 20.0), 1.0, 1e-12);
}

TEST(Metrics, PsnrOfAKnownErrorIsExact) {
  auto a = torch::zeros({4, 4, 4});
  auto b = torch::full({4, 4, 4}, 2.0);
  EXPECT_NEAR(psnr(a, b, 20.0), 10.0 * std::log10(400.0 / 4.0), 1e-12);
}

TEST(Metrics, RejectMismatchedShapesTinyImagesAndBadRanges) {
  EXPECT_THROW(psnr(torch::zeros({4, 4, 4}), torch::zeros({4, 4, 5}), 1.0), Error);
  EXPECT_THROW(psnr(torch::zeros({4, 4, 4}), torch::zeros({4, 4, 4}), 0.0), Error);
  EXPECT_THROW(ssim(torch::zeros({10, 12, 12}), torch::zeros({10, 12, 12}), 1.0), Error);
  EXPECT_THROW(ssim(torch::zeros({2, 1, 12, 12, 12}), torch::zeros({2, 1, 12, 12, 12}), 1.0), Error);
}

TEST(Metrics, NrmseOfAKnownErrorIsExact) {
  // ‖2 − 1.5‖ / ‖2‖ over any number of voxels is 0.25.
  EXPECT_NEAR(nrmse(torch::full({4, 5, 6}, 2.0), torch::full({4, 5, 6}, 1.5)), 0.25, 1e-15);
  EXPECT_EQ(nrmse(vec("reference"), vec("reference")), 0.0);
  test::expect_error([] { nrmse(torch::zeros({4, 4, 4}), torch::ones({4, 4, 4})); }, {"nrmse", "zero"});
}

// Reference 2 everywhere; the test errs by 1 where d < 4 (the mask) and by 3 elsewhere.
struct HalfMaskedCase {
  torch::Tensor reference = torch::full({8, 6, 5}, 2.0);
  torch::Tensor test = reference + 3.0;
  torch::Tensor mask = torch::zeros({8, 6, 5}, torch::kBool);
  HalfMaskedCase() {
    test.slice(0, 0, 4).fill_(3.0);
    mask.slice(0, 0, 4).fill_(true);
  }
};

TEST(Metrics, MaskedPsnrAndNrmseSeeOnlyTheMask) {
  HalfMaskedCase c;
  EXPECT_NEAR(psnr_in(c.reference, c.test, c.mask, 20.0), 10.0 * std::log10(400.0 / 1.0), 1e-12);
  EXPECT_NEAR(psnr_in(c.reference, c.test, ~c.mask, 20.0), 10.0 * std::log10(400.0 / 9.0), 1e-12);
  EXPECT_NEAR(nrmse_in(c.reference, c.test, c.mask), 0.5, 1e-15);
  EXPECT_NEAR(nrmse_in(c.reference, c.test, ~c.mask), 1.5, 1e-15);
  // A 0/1 float mask with leading unit dimensions means the same as the bool one.
  auto float_mask = c.mask.to(torch::kFloat32).unsqueeze(0);
  EXPECT_EQ(psnr_in(c.reference, c.test, float_mask, 20.0), psnr_in(c.reference, c.test, c.mask, 20.0));
}

TEST(Metrics, AnUndefinedMaskMeansTheWholeVolume) {
  auto r = vec("reference"), t = vec("test");
  EXPECT_EQ(psnr_in(r, t, torch::Tensor(), 20.0), psnr(r, t, 20.0));
  EXPECT_NEAR(nrmse_in(r, t, torch::Tensor()), nrmse(r, t), 1e-15);
  EXPECT_NEAR(ssim_in(r, t, torch::Tensor(), 20.0), vec("ssim_range20_skimage").item<double>(), 1e-4);
}

TEST(Metrics, MaskedSsimSplitsTheValidRegionsAverage) {
  // The valid-region voxels of two complementary masks average, weighted by their counts, to ssim.
  auto r = vec("reference"), t = vec("test");
  auto mask = vec("textured_mask_thresh_0.5") > 0.5;
  const int64_t radius = 5;  // int(3.5 · 1.5 + 0.5)
  auto valid = [&](const torch::Tensor& m) {
    return m.slice(2, radius, 24 - radius)
        .slice(3, radius, 28 - radius)
        .slice(4, radius, 20 - radius)
        .sum()
        .item<double>();
  };
  const double n_in = valid(mask), n_out = valid(~mask);
  ASSERT_GT(n_in, 0);
  ASSERT_GT(n_out, 0);
  const double s_in = ssim_in(r, t, mask, 20.0), s_out = ssim_in(r, t, ~mask, 20.0);
  EXPECT_NE(s_in, s_out);
  EXPECT_NEAR((s_in * n_in + s_out * n_out) / (n_in + n_out), ssim(r, t, 20.0), 1e-12);
}

TEST(Metrics, PsnrRefMaxUsesTheWholeReferencesPeak) {
  HalfMaskedCase c;
  c.reference[7][5][4] = 10.0;  // outside the mask, still sets the range
  EXPECT_NEAR(psnr_ref_max(c.reference, c.test, c.mask), 10.0 * std::log10(100.0 / 1.0), 1e-12);
  test::expect_error(
      [] {
        psnr_ref_max(-torch::ones({4, 4, 4}), torch::zeros({4, 4, 4}));
      },
      {"psnr_ref_max", "maximum"});
}

TEST(Metrics, MasksWithTheWrongShapeValuesOrNoVoxelAreRefused) {
  auto a = torch::ones({4, 4, 4});
  test::expect_error(
      [&] {
        psnr_in(a, a, torch::ones({4, 4, 5}, torch::kBool), 1.0);
      },
      {"psnr_in", "mask", "shape"});
  test::expect_error([&] { nrmse_in(a, a, torch::full({4, 4, 4}, 0.5)); }, {"nrmse_in", "0 and 1"});
  test::expect_error(
      [&] {
        psnr_in(a, a, torch::zeros({4, 4, 4}, torch::kBool), 1.0);
      },
      {"psnr_in", "no voxel"});
  // A mask only in the border the SSIM window cannot reach.
  auto big = torch::ones({12, 12, 12});
  auto rim = torch::zeros({12, 12, 12}, torch::kBool);
  rim[0].fill_(true);
  test::expect_error([&] { ssim_in(big, big, rim, 1.0); }, {"ssim_in", "window radius"});
}

}  // namespace
}  // namespace unipet::eval
