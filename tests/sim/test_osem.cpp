#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "unipet/core/error.h"
#include "unipet/sim/acquisition.h"
#include "unipet/sim/dose.h"
#include "unipet/sim/osem.h"
#include "unipet/sim/scanner.h"

namespace unipet::sim {
namespace {

constexpr double kActivity = 5000.0;  // Bq/ml

/// A 150 mm water cylinder of uniform activity in a 32 x 32 x `slices` grid of 6 mm voxels.
struct Cylinder {
  Volume activity, mumap;
  torch::Tensor interior;  // voxels well inside the cylinder (r < 45 mm, central slices)
};

Cylinder make_cylinder(int64_t slices = 4) {
  Cylinder c;
  const torch::Tensor axis = (torch::arange(32, torch::kFloat32) - 15.5) * 6.0;
  const torch::Tensor r2 = axis.view({1, 32, 1}).square() + axis.view({1, 1, 32}).square();
  const torch::Tensor inside = (r2 <= 75.0 * 75.0).expand({slices, 32, 32});
  c.activity.data = inside.to(torch::kFloat32) * kActivity;
  c.activity.spacing = {6.0, 6.0, 6.0};
  c.activity.units = Units::BqPerMl;
  c.mumap = with_geometry_of(c.activity, inside.to(torch::kFloat32) * 0.096);
  c.interior = (r2 <= 45.0 * 45.0).expand({slices, 32, 32}).clone();
  c.interior.index_put_({0}, false);
  c.interior.index_put_({slices - 1}, false);
  return c;
}

ScannerOptions scanner_options(double prompts) {
  ScannerOptions o;
  o.angles = 32;
  o.prompts = prompts;
  return o;
}

double least_squares_slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

double region_mean(const torch::Tensor& image, const torch::Tensor& mask) {
  return image.masked_select(mask).to(torch::kFloat64).mean().item<double>();
}

// The simulator's own model of a cylinder's acquisition with every correction exact: the data's
// expectation and what OSEM needs to invert it.
struct ExactModel {
  Projector projector;
  Corrections corrections;
  torch::Tensor expected;  ///< expected full-dose prompts
};

ExactModel exact_model(const Cylinder& c, const ScannerOptions& so, uint64_t seed) {
  const Acquisition truth = model_acquisition(c.activity, c.mumap, c.activity, so, seed);
  Projector p = make_reconstruction_projector(so, CorrectionOptions::exact(), c.activity);
  Corrections k = model_corrections(p, truth, c.mumap, so, CorrectionOptions::exact(), seed + 1000);
  return {std::move(p), std::move(k), truth.expected_prompts};
}

TEST(Osem, NoiselessDataReconstructToThePhantomMeanInAUniformRegion) {
  const Cylinder c = make_cylinder();
  const ScannerOptions so = scanner_options(1e6);
  const ExactModel m = exact_model(c, so, 1);
  const Projector& p = m.projector;
  OsemOptions oo;
  oo.iterations = 10;
  oo.subsets = 4;
  const Osem osem(p, m.corrections.multiplicative, m.corrections.background, oo);
  const torch::Tensor mean_counts = m.expected;
  const torch::Tensor image = osem.reconstruct(mean_counts, 1.0);
  EXPECT_NEAR(region_mean(image, c.interior), kActivity, 0.05 * kActivity);
  // The same data seen as a DRF-10 acquisition of the model reconstruct to the same Bq/ml.
  const torch::Tensor low = osem.reconstruct(mean_counts / 10.0, 0.1);
  EXPECT_NEAR(region_mean(low, c.interior), region_mean(image, c.interior), 1e-3 * kActivity);
}

TEST(Osem, RecomputedSensitivitiesAndInt16CountsGiveTheSameImage) {
  // Clinical sizes do not cache the per-subset sensitivity images and hold counts as int16.
  const Cylinder c = make_cylinder();
  const ScannerOptions so = scanner_options(1e6);
  const ExactModel m = exact_model(c, so, 1);
  const Projector& p = m.projector;
  OsemOptions oo;
  oo.iterations = 2;
  oo.subsets = 4;
  const Osem cached(p, m.corrections.multiplicative, m.corrections.background, oo);
  oo.max_sensitivity_cache_mb = 0;
  const Osem recomputed(p, m.corrections.multiplicative, m.corrections.background, oo);
  EXPECT_TRUE(cached.caches_sensitivity());
  EXPECT_FALSE(recomputed.caches_sensitivity());
  const torch::Tensor counts = m.expected.round();
  const torch::Tensor reference = cached.reconstruct(counts, 1.0);
  EXPECT_TRUE(torch::equal(recomputed.reconstruct(counts, 1.0), reference));
  EXPECT_TRUE(torch::equal(cached.reconstruct(counts.to(torch::kInt16), 1.0), reference));
}

TEST(Osem, TheLogLikelihoodDoesNotDecreaseOverIterations) {
  const Cylinder c = make_cylinder();
  const ScannerOptions so = scanner_options(3e5);
  const ExactModel m = exact_model(c, so, 2);
  const Projector& p = m.projector;
  const torch::Tensor counts = poisson_counts(m.expected, 3);
  for (int64_t subsets : {1, 4}) {
    OsemOptions oo;
    oo.iterations = 8;
    oo.subsets = subsets;
    const Osem osem(p, m.corrections.multiplicative, m.corrections.background, oo);
    std::vector<double> likelihood;
    osem.reconstruct(counts, 1.0, [&](int64_t, const torch::Tensor& x) {
      likelihood.push_back(poisson_log_likelihood(counts, osem.expected_counts(x, 1.0)));
    });
    ASSERT_EQ(likelihood.size(), 8u);
    for (size_t i = 1; i < likelihood.size(); ++i) {
      EXPECT_GE(likelihood[i], likelihood[i - 1] - 1e-9 * std::abs(likelihood[i - 1]))
          << "subsets " << subsets << ", iteration " << i + 1;
    }
  }
}

TEST(Osem, ImagesStayNonNegativeAtVeryLowCounts) {
  const Cylinder c = make_cylinder();
  const ScannerOptions so = scanner_options(2e4);
  const ExactModel m = exact_model(c, so, 4);
  const Projector& p = m.projector;
  const torch::Tensor counts = poisson_counts(m.expected, 5);
  OsemOptions oo;
  oo.post_filter_fwhm_mm = 0;
  oo.subsets = 8;
  const Osem osem(p, m.corrections.multiplicative, m.corrections.background, oo);
  const torch::Tensor low = thin_nested(counts, {50}, 6).at(50);
  for (const auto& [data, fraction] : {std::pair{counts, 1.0}, std::pair{low, 0.02}}) {
    const torch::Tensor image = osem.reconstruct(data, fraction);
    EXPECT_TRUE(torch::isfinite(image).all().item<bool>());
    EXPECT_GE(image.min().item<double>(), 0.0);
  }
}

TEST(Osem, NoiseGrowsLikeTheSquareRootOfTheDrfAndTheMeanStaysUnbiased) {
  // 12 slices at 2e7 prompts each: the interior's mean at DRF 50 has a standard error < 1%.
  const Cylinder c = make_cylinder(12);
  const ScannerOptions so = scanner_options(2.4e8);
  const ExactModel m = exact_model(c, so, 7);
  const Projector& p = m.projector;
  OsemOptions oo;
  oo.iterations = 3;
  oo.subsets = 8;
  oo.post_filter_fwhm_mm = 0;
  const Osem osem(p, m.corrections.multiplicative, m.corrections.background, oo);
  const torch::Tensor expected = m.expected;
  const torch::Tensor noiseless = osem.reconstruct(expected, 1.0);
  const double truth = region_mean(noiseless, c.interior);
  EXPECT_NEAR(truth, kActivity, 0.05 * kActivity);
  const std::vector<double> drfs = {2, 4, 10, 20, 50, 100};
  for (uint64_t realisation : {8, 9, 10}) {
    const auto low = thin_nested(poisson_counts(expected, realisation), drfs, realisation + 100);
    std::vector<double> log_drf, log_cov;
    for (double drf : drfs) {
      const torch::Tensor image = osem.reconstruct(low.at(drf), 1.0 / drf);
      const double mean = region_mean(image, c.interior);
      // Noise about the noiseless reconstruction, so OSEM's own non-uniformity is not counted.
      const torch::Tensor noise = (image - noiseless).masked_select(c.interior).to(torch::kFloat64);
      log_drf.push_back(std::log(drf));
      log_cov.push_back(std::log(noise.std().item<double>() / mean));
      EXPECT_NEAR(mean, truth, 0.03 * truth) << "DRF " << drf << ", realisation " << realisation;
    }
    const double slope = least_squares_slope(log_drf, log_cov);
    EXPECT_NEAR(slope, 0.5, 0.1) << "realisation " << realisation;
    std::cout << "log-log slope of CoV against DRF: " << slope << "\n";
  }
}

TEST(Osem, InvalidOptionsAndMismatchedDataAreRejected) {
  const Cylinder c = make_cylinder();
  const ScannerOptions so = scanner_options(1e5);
  const ExactModel m = exact_model(c, so, 1);
  const Projector& p = m.projector;
  OsemOptions oo;
  oo.subsets = 33;  // more than the 32 angles
  EXPECT_THROW(Osem(p, m.corrections.multiplicative, m.corrections.background, oo), Error);
  oo = OsemOptions{};
  oo.iterations = 0;
  EXPECT_THROW(Osem(p, m.corrections.multiplicative, m.corrections.background, oo), Error);
  const Osem osem(p, m.corrections.multiplicative, m.corrections.background, OsemOptions{});
  EXPECT_THROW(osem.reconstruct(torch::zeros({4, 32, 31}), 1.0), Error);
  EXPECT_THROW(osem.reconstruct(torch::zeros_like(m.expected), 0.0), Error);
}

}  // namespace
}  // namespace unipet::sim
