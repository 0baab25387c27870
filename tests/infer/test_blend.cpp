#include <array>
#include <cmath>

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/infer/blend.h"

namespace unipet::test {
namespace {

using infer::Blend;
using infer::BlendObservation;

// An observation of totals alone (no intensity bins): what a fit without bands sees.
BlendObservation totals(double drf, double log2_n, double numerator, double denominator) {
  BlendObservation o;
  o.drf = drf, o.log2_n = log2_n, o.numerator = numerator, o.denominator = denominator;
  return o;
}

TEST(Blend, FittedAlphaIsTheClosedFormLeastSquaresStepPooledOverImages) {
  torch::manual_seed(11);
  std::vector<BlendObservation> obs;
  double num = 0, den = 0;
  for (int i = 0; i < 3; ++i) {
    const auto x = torch::rand({6, 7, 8}) + 1, f = torch::rand({6, 7, 8}) + 1;
    const auto y = x + 0.3 * (f - x) + 0.05 * torch::randn({6, 7, 8});
    const auto mask = torch::rand({6, 7, 8}) > 0.3;
    obs.push_back(infer::blend_observation(x, f, y, mask, 4, 2.0 + 0.1 * i));
    const auto d = (f - x).to(torch::kFloat64).masked_select(mask), t = (y - x).to(torch::kFloat64).masked_select(mask);
    num += (d * t).sum().item<double>(), den += d.square().sum().item<double>();
  }
  const Blend b = infer::fit_blend(obs);
  ASSERT_EQ(b.knots.size(), 1u);
  EXPECT_NEAR(b.knots[0].alpha, num / den, 1e-12);
  EXPECT_NEAR(b.knots[0].alpha, 0.3, 0.02);
  EXPECT_NEAR(b.knots[0].log2_n, 2.1, 1e-12);  // the median of 2.0, 2.1, 2.2
  EXPECT_EQ(b.knots[0].images, 3);
}

TEST(Blend, AlphaZeroReturnsTheInputBitForBitAndOneTheNetwork) {
  torch::manual_seed(12);
  const auto x = torch::rand({5, 6, 7}) * 13, f = torch::rand({5, 6, 7});
  EXPECT_TRUE(torch::equal(infer::apply_blend(x, f, 0.0), x));
  EXPECT_TRUE(torch::equal(infer::apply_blend(x, f, 1.0), f));
  EXPECT_TRUE(torch::allclose(infer::apply_blend(x, f, 0.25), 0.75 * x + 0.25 * f, 1e-5, 1e-5));
  expect_error([&] { infer::apply_blend(x, f, 1.5); }, {"alpha"});
}

TEST(Blend, IsMonotoneClippedAndClampedBeyondTheEndKnots) {
  // DRF 2 wants 0.9 but DRF 4 only 0.5 (weights 1 and 3): pooled to (0.9 + 1.5) / 4 = 0.6; DRF 20
  // wants more than 1, clipped to 1; a DRF with a negative step is clipped to 0.
  const std::vector<BlendObservation> obs{totals(2, 1.0, 0.9, 1.0), totals(4, 2.0, 1.5, 3.0),
                                          totals(20, 4.0, 5.0, 4.0), totals(1.5, 0.2, -2.0, 1.0)};
  const Blend b = infer::fit_blend(obs);
  ASSERT_EQ(b.knots.size(), 4u);
  EXPECT_EQ(b.knots[0].alpha, 0.0);
  EXPECT_NEAR(b.knots[1].alpha, 0.6, 1e-12);
  EXPECT_NEAR(b.knots[2].alpha, 0.6, 1e-12);
  EXPECT_NEAR(b.knots[1].alpha_ls, 0.9, 1e-12);
  EXPECT_EQ(b.knots[3].alpha, 1.0);
  EXPECT_EQ(b.alpha_at(-5), 0.0);
  EXPECT_EQ(b.alpha_at(9), 1.0);
  EXPECT_NEAR(b.alpha_at(3.0), 0.8, 1e-12);  // halfway from 0.6 at 2 to 1 at 4
  EXPECT_NEAR(b.alpha_at(0.6), 0.3, 1e-12);
}

TEST(Blend, RoundTripsThroughJsonAndRefusesBrokenTables) {
  const Blend b = infer::fit_blend({totals(2, 1.0, 0.2, 1.0), totals(10, 3.0, 0.8, 1.0)});
  const Blend back = Blend::from_json(b.to_json(), "m.safetensors");
  ASSERT_EQ(back.knots.size(), 2u);
  EXPECT_EQ(back.knots[1].alpha, b.knots[1].alpha);
  EXPECT_EQ(back.knots[0].log2_n, 1.0);
  expect_error([] { Blend::from_json(R"({"version":1,"knots":[]})", "m.safetensors"); }, {"m.safetensors", "unipet.blend"});
  expect_error([] {
    Blend::from_json(R"({"version":1,"knots":[{"drf":2,"images":1,"log2_n":1,"alpha_ls":0.5,"alpha":0.5},)"
                     R"({"drf":4,"images":1,"log2_n":2,"alpha_ls":0.2,"alpha":0.2}]})", "m.safetensors");
  }, {"m.safetensors", "alpha"});
  expect_error([] { infer::fit_blend({}); }, {"no validation images"});
}

TEST(Blend, BandsKeepTheInputWhereTheNetworkIsWorseAndBeatTheOneAlphaBlend) {
  // A network that removes the noise of ordinary tissue (1-3) but is 5% low in hot voxels (20-60),
  // where the noise is relatively small: the banded fit keeps the hot voxels' input and takes the
  // network elsewhere, and its error is below both the input's and the one-α blend's.
  torch::manual_seed(13);
  const int64_t n = 40;
  auto make = [&](double drf) {
    auto y = torch::rand({n, n, n}) * 2 + 1;
    const auto hot = torch::rand({n, n, n}) > 0.97;
    y = torch::where(hot, torch::rand({n, n, n}) * 40 + 20, y);
    const auto x = y + torch::randn({n, n, n}) * (y / drf).sqrt() * 0.1;
    const auto f = torch::where(hot, y * 0.95, y + 0.02 * torch::randn({n, n, n}));
    return std::array<torch::Tensor, 3>{x, f, y};
  };
  std::vector<BlendObservation> obs;
  for (int i = 0; i < 2; ++i) {
    const auto [x, f, y] = make(2);
    obs.push_back(infer::blend_observation(x, f, y, torch::Tensor(), 2, 1.0 + 0.01 * i));
  }
  const Blend b = infer::fit_blend(obs);
  ASSERT_TRUE(b.banded());
  ASSERT_GE(b.band_centre_log2.size(), 3u);
  const auto bands = b.band_alpha_at(1.0);
  EXPECT_GT(bands.front(), 0.9);  // ordinary tissue: the network
  EXPECT_LT(bands.back(), 0.1);    // the hottest voxels: the input
  const auto [x, f, y] = make(2);
  auto mse = [&](const torch::Tensor& t) { return (t - y).square().mean().item<double>(); };
  const double banded = mse(b.apply(x, f, 1.0)), one = mse(infer::apply_blend(x, f, b.alpha_at(1.0)));
  EXPECT_LT(banded, 0.7 * one);
  EXPECT_LT(banded, mse(x));
  // The per-voxel α follows the network's level and stays in [0, 1].
  const auto alpha = b.alpha_map(1.0, f);
  EXPECT_EQ(alpha.sizes(), f.sizes());
  EXPECT_GE(alpha.min().item<float>(), 0.0f);
  EXPECT_LE(alpha.max().item<float>(), 1.0f);
  EXPECT_LT(alpha.masked_select(f > 30).max().item<float>(), 0.15f);
}

TEST(Blend, BandedTablesRoundTripAndOneBandBlendsStayBitForBit) {
  torch::manual_seed(14);
  const auto y = torch::rand({20, 20, 20}) * 30 + 0.5, x = y + 0.1 * torch::randn({20, 20, 20});
  const auto f = y * 0.98;
  const Blend b = infer::fit_blend({infer::blend_observation(x, f, y, torch::Tensor(), 2, 1.0),
                                    infer::blend_observation(x, f, y, torch::Tensor(), 10, 3.0)});
  ASSERT_TRUE(b.banded());
  const Blend back = Blend::from_json(b.to_json(), "m.safetensors");
  EXPECT_EQ(back.band_centre_log2, b.band_centre_log2);
  EXPECT_TRUE(std::isinf(back.band_upper_log2.back()));
  EXPECT_TRUE(torch::equal(back.apply(x, f, 2.0), b.apply(x, f, 2.0)));
  // A blend without bands (every blend calibrated before them) gives apply_blend's output exactly.
  const Blend v1 = Blend::from_json(
      R"({"version":1,"knots":[{"drf":2,"images":1,"log2_n":1,"alpha_ls":0.3,"alpha":0.3},)"
      R"({"drf":4,"images":1,"log2_n":2,"alpha_ls":0.7,"alpha":0.7}]})", "m.safetensors");
  EXPECT_FALSE(v1.banded());
  EXPECT_TRUE(torch::equal(v1.apply(x, f, 1.5), infer::apply_blend(x, f, 0.5)));
  EXPECT_EQ(v1.to_json(), R"({"knots":[{"alpha":0.3,"alpha_ls":0.3,"drf":2.0,"images":1,"log2_n":1.0},)"
                          R"({"alpha":0.7,"alpha_ls":0.7,"drf":4.0,"images":1,"log2_n":2.0}],"version":1})");
  // Broken band tables name the file and the metadata key.
  std::string bad = b.to_json();
  bad.replace(bad.find("\"band_alpha\":["), 14, "\"band_alpha\":[7,");
  expect_error([&] { Blend::from_json(bad, "m.safetensors"); }, {"m.safetensors", "unipet.blend"});
}

}  // namespace
}  // namespace unipet::test
