#include <cmath>

#include <gtest/gtest.h>

#include "infer/infer_test_util.h"
#include "unipet/core/gaussian_filter.h"
#include "unipet/infer/noise_level.h"

namespace unipet::test {
namespace {

using infer::DrfEstimator;
using infer::NoiseFeatureOptions;

// A PET-like image at `counts` counts per SUV per voxel: Poisson draws around a smooth body,
// post-filtered by `post_fwhm_mm` as a reconstruction would. 4 mm voxels; seeded.
Volume noisy_body(double counts, uint64_t seed, double post_fwhm_mm = 5.0) {
  Volume v;
  v.data = smooth_body(24, 48, 48, 7);
  v.spacing = {4.0, 4.0, 4.0};
  v.units = Units::SUV;
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  v.data = torch::poisson(v.data * counts, gen) / counts;
  return gaussian_filter(v, post_fwhm_mm);
}

TEST(NoiseFeatures, AreExactlyInvariantToTheImagesUnits) {
  const Volume suv = noisy_body(20, 1);
  Volume bqml = suv;
  bqml.data = suv.data * 5300.0f;  // an SUV factor's worth
  bqml.units = Units::BqPerMl;
  const auto a = infer::noise_features(suv, NoiseFeatureOptions());
  const auto b = infer::noise_features(bqml, NoiseFeatureOptions());
  ASSERT_EQ(a.size(), 4u);  // three bands and the voxel volume
  for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-4);
}

TEST(NoiseFeatures, RiseByOnePerHalvingOfTheCounts) {
  // Poisson variance is the mean: half the counts, twice the relative noise energy, in a band
  // that the noise alone fills: the finest. The next one holds some anatomy too, so it rises by
  // less (1.69 here), and the regression weighs it accordingly.
  const auto rich = infer::noise_features(noisy_body(40, 2), NoiseFeatureOptions());
  const auto poor = infer::noise_features(noisy_body(10, 3), NoiseFeatureOptions());
  EXPECT_NEAR(poor[0] - rich[0], 2.0, 0.15);
  EXPECT_GT(poor[1] - rich[1], 1.5);
  EXPECT_LT(poor[1] - rich[1], poor[0] - rich[0]);
}

TEST(NoiseFeatures, MoveNoiseEnergyToCoarserBandsWithAWiderPostFilter) {
  const auto sharp = infer::noise_features(noisy_body(20, 4, 3.0), NoiseFeatureOptions());
  const auto smooth = infer::noise_features(noisy_body(20, 4, 8.0), NoiseFeatureOptions());
  // The finest band loses most: the fit can tell a smooth noisy scan from a sharp clean one.
  EXPECT_LT(smooth[0] - sharp[0], smooth[1] - sharp[1]);
  EXPECT_LT(smooth[0] - sharp[0], -1.0);
}

TEST(NoiseFeatures, RefuseAnImageWithoutBodyOrNoise) {
  Volume empty;
  empty.data = torch::zeros({8, 16, 16});
  expect_error([&] { infer::noise_features(empty, NoiseFeatureOptions(), "empty.nii"); }, {"empty.nii", "no noise"});
  Volume flat;
  flat.data = torch::ones({16, 24, 24});
  expect_error([&] { infer::noise_features(flat, NoiseFeatureOptions(), "flat.nii"); }, {"flat.nii", "noise"});
  // Too small for the outline's and the erosion's kernels: named, not a LibTorch kernel-size error.
  Volume tiny;
  tiny.data = torch::arange(8, torch::TensorOptions().dtype(torch::kFloat32)).reshape({2, 2, 2}) + 1;
  expect_error([&] { infer::noise_features(tiny, NoiseFeatureOptions(), "tiny.dcm"); },
               {"tiny.dcm", "2 x 2 x 2 voxels", "too small", "at least 5"});
  NoiseFeatureOptions bad;
  bad.bands_voxels = {5, 2};
  expect_error([&] { bad.validate(); }, {"band edges"});
}

// Samples whose log2 effective DRF is exactly 0.5 + 1·f0 − 0.25·f1 + 0·f2 + 0·f3.
std::vector<infer::DrfSample> linear_samples() {
  std::vector<infer::DrfSample> samples;
  for (int i = 0; i < 12; ++i) {
    const double f0 = -20 + i, f1 = -18 + 0.5 * i + (i % 3), f2 = -15 + (i % 4), f3 = -6 + 0.3 * (i % 2);
    samples.push_back({"s" + std::to_string(i), 1, std::exp2(0.5 + f0 - 0.25 * f1), {f0, f1, f2, f3}});
  }
  return samples;
}

TEST(DrfEstimator, RecoversAnExactLinearRelationWithZeroResidual) {
  infer::DrfFitOptions o;
  o.ridge = 0;
  const DrfEstimator e = infer::fit_drf_estimator(linear_samples(), o, "synthetic");
  ASSERT_EQ(e.coefficients.size(), 5u);
  EXPECT_NEAR(e.coefficients[0], 0.5, 1e-8);
  EXPECT_NEAR(e.coefficients[1], 1.0, 1e-9);
  EXPECT_NEAR(e.coefficients[2], -0.25, 1e-9);
  EXPECT_NEAR(e.coefficients[3], 0.0, 1e-9);
  EXPECT_NEAR(e.coefficients[4], 0.0, 1e-8);
  EXPECT_NEAR(e.residual_sd, 0.0, 1e-8);
  EXPECT_EQ(e.images, 12);
  const auto est = e.estimate_from_features({-10, -10, -10, -6});
  EXPECT_NEAR(est.log2_drf, 0.5 - 10 + 2.5, 1e-8);
}

TEST(DrfEstimator, IntervalIsTheResidualSdTimes1645AndRoundTripsThroughJson) {
  DrfEstimator e = infer::fit_drf_estimator(linear_samples(), infer::DrfFitOptions(), "synthetic");
  e.residual_sd = 0.5;
  e.reference_counts = 2.5e8;
  e.dataset = "bench";
  const auto est = e.estimate_from_features({-12, -14, -13, -6});
  EXPECT_NEAR(std::log2(est.high() / est.drf()), 1.6448536 * 0.5, 1e-6);
  EXPECT_NEAR(std::log2(est.drf() / est.low()), 1.6448536 * 0.5, 1e-6);
  const DrfEstimator back = DrfEstimator::from_json(e.to_json(), "m.safetensors");
  EXPECT_EQ(back.coefficients, e.coefficients);
  EXPECT_EQ(back.residual_sd, 0.5);
  EXPECT_EQ(back.reference_counts, 2.5e8);
  EXPECT_EQ(back.dataset, "bench");
  EXPECT_EQ(back.features.bands_voxels, e.features.bands_voxels);
  expect_error([] { DrfEstimator::from_json("{\"version\": 1}", "m.safetensors"); },
               {"m.safetensors", "unipet.drf_estimator"});
  expect_error([] { DrfEstimator::from_json("not json", "m.safetensors"); }, {"m.safetensors"});
}

TEST(DrfEstimator, RefusesTooFewImagesAndScoresHeldOutOnesPerDrf) {
  auto samples = linear_samples();
  samples.resize(5);
  expect_error([&] { infer::fit_drf_estimator(samples, infer::DrfFitOptions(), "tiny.json"); }, {"tiny.json", "too few"});
  infer::DrfFitOptions exact;
  exact.ridge = 0;
  const DrfEstimator e = infer::fit_drf_estimator(linear_samples(), exact, "synthetic");
  auto held_out = linear_samples();
  for (auto& s : held_out) s.drf = s.features[0] < -14 ? 4 : 20;
  const std::string table = infer::drf_validation_table(e, held_out);
  EXPECT_NE(table.find("| 4 | 6 | 0.00 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| all | 12 | 0.00 |"), std::string::npos) << table;
}

}  // namespace
}  // namespace unipet::test
