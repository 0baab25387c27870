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
  const Blend b = infer::fit_blend(obs, infer::StepLimit::None);
  ASSERT_EQ(b.knots.size(), 1u);
  EXPECT_FALSE(b.limited());
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
  const Blend b = infer::fit_blend(obs, infer::StepLimit::None);
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

// A network that removes the noise everywhere (steps of about the noise, 0.1) but, in 2% of the
// voxels, takes away structure (1.0 too low: ten times the noise) at DRF 2; at DRF 100 it is
// right everywhere and its steps are large (the noise is 1.0).
std::array<torch::Tensor, 3> structure_lost(double noise, double lost_fraction) {
  const int64_t n = 32;
  const auto y = torch::rand({n, n, n}) * 2 + 2;
  const auto x = y + noise * torch::randn({n, n, n});
  const auto lost = torch::rand({n, n, n}) < lost_fraction;
  const auto f = torch::where(lost, y - 1.0, y + 0.02 * torch::randn({n, n, n}));
  return {x, f, y};
}

TEST(Blend, StepLimitCutsTheNetworksOutsizedChangesAndIsNoneWhereTheNetworkIsRight) {
  torch::manual_seed(15);
  std::vector<BlendObservation> obs;
  for (int i = 0; i < 2; ++i) {
    const auto [x2, f2, y2] = structure_lost(0.1, 0.02);
    obs.push_back(infer::blend_observation(x2, f2, y2, torch::Tensor(), 2, 1.0 + 0.01 * i));
    const auto [x100, f100, y100] = structure_lost(1.0, 0.0);
    obs.push_back(infer::blend_observation(x100, f100, y100, torch::Tensor(), 100, 6.6 + 0.01 * i));
  }
  const Blend limited = infer::fit_blend(obs), alpha_only = infer::fit_blend(obs, infer::StepLimit::None);
  ASSERT_EQ(limited.knots.size(), 2u);
  ASSERT_TRUE(limited.limited());
  EXPECT_LE(limited.knots[0].step_limit, 4.0);
  EXPECT_TRUE(std::isinf(limited.knots[1].step_limit));
  EXPECT_TRUE(std::isinf(limited.step_limit_at(7.0)));
  // 1/k is linear in log2 n: halfway to "none" the limit is twice the first knot's.
  const double middle = 0.5 * (limited.knots[0].log2_n + limited.knots[1].log2_n);
  EXPECT_NEAR(limited.step_limit_at(middle), 2 * limited.knots[0].step_limit, 1e-9);
  // On fresh images: at DRF 2 the limit beats the α-only blend and the input by far; at DRF 100
  // no step is cut (the blend is α alone) and the network's output is kept.
  const auto [x, f, y] = structure_lost(0.1, 0.02);
  auto mse = [&](const torch::Tensor& t, const torch::Tensor& truth) { return (t - truth).square().mean().item<double>(); };
  const double with_limit = mse(limited.apply(x, f, 1.0), y);
  EXPECT_LT(with_limit, 0.5 * mse(alpha_only.apply(x, f, 1.0), y));
  EXPECT_LT(with_limit, 0.5 * mse(x, y));
  const auto [xh, fh, yh] = structure_lost(1.0, 0.0);
  // (Beyond the last knot: just below it 1/k is still a little above 0.)
  const auto high = limited.apply(xh, fh, 7.0);
  EXPECT_TRUE(torch::equal(high, infer::apply_blend(xh, fh, limited.alpha_map(7.0, fh))));
  EXPECT_LT(mse(high, yh), 0.05 * mse(xh, yh));
  // The table says it; version 3 round-trips it, bit for bit in the output.
  EXPECT_NE(limited.table().find("step limit"), std::string::npos);
  const Blend back = Blend::from_json(limited.to_json(), "m.safetensors");
  EXPECT_EQ(back.knots[0].step_limit, limited.knots[0].step_limit);
  EXPECT_TRUE(std::isinf(back.knots[1].step_limit));
  EXPECT_TRUE(torch::equal(back.apply(x, f, 1.0), limited.apply(x, f, 1.0)));
}

TEST(Blend, StepLimitsAreChosenJointlyNonDecreasingInTheNoiseLevel) {
  // Hand-made sums: α = 1 for every choice, so a choice's error is the input's error minus its
  // numerator. DRF 2 gains 5 at k = 8 (index 10) alone; DRF 4 gains 3 at k = 0.5 (index 2) alone.
  // A non-decreasing pair cannot have both: 8 then "none" (-5) beats 0.5 then 0.5 (-3), and
  // "none" wins DRF 4's tie of zero gains, being the smaller change to the network.
  auto knot = [](double drf, double log2_n, size_t gain_at, double gain) {
    BlendObservation o;
    o.drf = drf, o.log2_n = log2_n, o.input_error = 10;
    for (size_t c = 0; c < infer::kBlendStepLimits.size(); ++c) {
      infer::BlendSums s;
      s.numerator = s.denominator = c == gain_at ? gain : 0;
      o.limited.push_back(s);
    }
    return o;
  };
  const Blend b = infer::fit_blend({knot(2, 1.0, 10, 5.0), knot(4, 2.0, 2, 3.0)});
  ASSERT_EQ(b.knots.size(), 2u);
  EXPECT_EQ(b.knots[0].step_limit, 8.0);
  EXPECT_TRUE(std::isinf(b.knots[1].step_limit));
  EXPECT_EQ(b.knots[0].alpha, 1.0);
}

TEST(Blend, StepScaleIsTheRobustSdOfTheChangeInsideTheBodyAndBrokenLimitsAreRefused) {
  // A body of 1000 voxels at level 10 whose inputs are 10 - i/100 (i = 1..1000), and air (level
  // 0) with inputs of 50: the air is left out (below 5% of the 99.9th percentile of |f|), and the
  // steps are measured on the square-root scale, where the 500th smallest is √10 − √5.
  auto f = torch::zeros({2000}, torch::kFloat64), x = torch::zeros({2000}, torch::kFloat64);
  f.slice(0, 0, 1000).fill_(10);
  x.slice(0, 0, 1000).copy_(10 - torch::arange(1, 1001, torch::kFloat64) / 100.0);
  x.slice(0, 1000).fill_(50);
  EXPECT_NEAR(infer::blend_step_scale(x, f), 1.4826 * (std::sqrt(10.0) - std::sqrt(5.0)), 1e-5);
  EXPECT_TRUE(torch::equal(infer::limit_step(x, f, infer::kNoStepLimit), f));
  // Cut at 2 on that scale: the air's step √50 → 0 stops at √50 − 2, the body's largest (√10) at 2.
  const auto cut = infer::limit_step(x, f, 2.0);
  EXPECT_NEAR((cut.sqrt() - x.sqrt()).abs().max().item<double>(), 2.0, 1e-9);
  EXPECT_NEAR(cut[1500].item<double>(), std::pow(std::sqrt(50.0) - 2, 2), 1e-9);
  EXPECT_NEAR(cut[0].item<double>(), 10.0, 1e-9);  // a step of 0.002 on the root scale is kept whole
  expect_error([] {
    Blend::from_json(R"({"version":3,"knots":[{"drf":2,"images":1,"log2_n":1,"alpha_ls":0.5,"alpha":0.5,"step_limit":null},)"
                     R"({"drf":4,"images":1,"log2_n":2,"alpha_ls":0.6,"alpha":0.6,"step_limit":2}]})", "m.safetensors");
  }, {"m.safetensors", "step limit"});
  expect_error([] {
    Blend::from_json(R"({"version":3,"knots":[{"drf":2,"images":1,"log2_n":1,"alpha_ls":0.5,"alpha":0.5,"step_limit":-1}]})",
                     "m.safetensors");
  }, {"m.safetensors", "not positive"});
}

}  // namespace
}  // namespace unipet::test
