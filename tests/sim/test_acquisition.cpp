#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "unipet/core/error.h"
#include "unipet/sim/acquisition.h"
#include "unipet/sim/dose.h"
#include "unipet/sim/simulate.h"

namespace unipet::sim {
namespace {

double total(const torch::Tensor& t) { return t.to(torch::kFloat64).sum().item<double>(); }

/// A water cylinder of `radius_mm` filled with `value` on an n x n x slices grid of `voxel_mm`,
/// with each voxel's partial volume from 4 x 4 sub-samples so the edge is not staircased.
struct Cylinder {
  Volume activity, mumap;
};

Cylinder cylinder(int64_t n, int64_t slices, double voxel_mm, double radius_mm, double value) {
  const torch::Tensor centre = (torch::arange(n, torch::kFloat64) - 0.5 * (n - 1)) * voxel_mm;
  torch::Tensor inside = torch::zeros({n, n}, torch::kFloat64);
  for (int sy = 0; sy < 4; ++sy) {
    for (int sx = 0; sx < 4; ++sx) {
      const torch::Tensor y = (centre + ((sy + 0.5) / 4 - 0.5) * voxel_mm).view({n, 1});
      const torch::Tensor x = (centre + ((sx + 0.5) / 4 - 0.5) * voxel_mm).view({1, n});
      inside += (x.square() + y.square() <= radius_mm * radius_mm).to(torch::kFloat64) / 16.0;
    }
  }
  Cylinder c;
  c.activity.data = (inside * value).to(torch::kFloat32).unsqueeze(0).repeat({slices, 1, 1}).contiguous();
  c.activity.spacing = {voxel_mm, voxel_mm, voxel_mm};
  c.activity.origin = {-0.5 * (n - 1) * voxel_mm, -0.5 * (n - 1) * voxel_mm, -0.5 * (slices - 1) * voxel_mm};
  c.activity.units = Units::BqPerMl;
  c.mumap = with_geometry_of(c.activity, (c.activity.data / value * 0.096).contiguous());
  return c;
}

/// Mean and spatial SD over the voxels within `radius_mm` of the axis, every slice but the ends.
std::pair<double, double> central_stats(const torch::Tensor& image, double voxel_mm, double radius_mm) {
  const int64_t n = image.size(2);
  const torch::Tensor c = (torch::arange(n, torch::kFloat64) - 0.5 * (n - 1)) * voxel_mm;
  const torch::Tensor mask = (c.view({n, 1}).square() + c.view({1, n}).square() <= radius_mm * radius_mm);
  const torch::Tensor inner = image.narrow(0, 1, image.size(0) - 2).to(torch::kFloat64);
  const torch::Tensor values = inner.masked_select(mask.unsqueeze(0).expand_as(inner));
  return {values.mean().item<double>(), values.std().item<double>()};
}

ScannerOptions small_scanner() {
  ScannerOptions s;
  s.angles = 48;
  s.normalisation = false;
  s.psf_fwhm_mm = s.psf_axial_fwhm_mm = 0;
  s.randoms_fraction = 0;
  s.prompts = 1e7;
  return s;
}

TEST(Oversampling, AFineGridProjectionOfAConstantImageEqualsTheCoarseOne) {
  const double radius = 140.0;
  const Cylinder coarse = cylinder(32, 4, 10.0, radius, 1.0);
  const Cylinder fine = cylinder(64, 8, 5.0, radius, 1.0);
  // Geometry alone (the PSF differs by design: a detector bin integrates over its width).
  const ScannerOptions s = small_scanner();
  const Projector p = make_projector(s, coarse.activity);
  const torch::Tensor reference = p.forward(coarse.activity.data);
  const torch::Tensor oversampled = project_oversampled(p, s, fine.activity.data, 2);
  ASSERT_EQ(oversampled.sizes(), reference.sizes());
  // Each against the disc's analytic chords: a line at s for the coarse projector, the mean of
  // the two fine lines at s -+ bin / 4 for the oversampled one. The finer grid is closer.
  const int64_t B = p.bins();
  const double bin = p.options().bin_mm;
  auto chord = [&](const torch::Tensor& s_mm) {
    return 2 * (radius * radius - s_mm.square()).clamp_min(0.0).sqrt();
  };
  const torch::Tensor s_b = (torch::arange(B, torch::kFloat64) - 0.5 * (B - 1)) * bin;
  const torch::Tensor line = chord(s_b), strip = 0.5 * (chord(s_b - bin / 4) + chord(s_b + bin / 4));
  const double peak = 2 * radius;
  const double coarse_error = (reference.to(torch::kFloat64) - line).square().mean().sqrt().item<double>();
  const double fine_error = (oversampled.to(torch::kFloat64) - strip).square().mean().sqrt().item<double>();
  EXPECT_LT(fine_error, 0.01 * peak);
  EXPECT_LT(fine_error, coarse_error);
  EXPECT_LT((oversampled - reference).abs().max().item<double>(), 0.03 * peak);
  EXPECT_NEAR(total(oversampled) / total(reference), 1.0, 2e-3);
  // A constant over the whole grid projects to the same chords, too.
  const torch::Tensor ones_coarse = torch::ones({2, 32, 32}), ones_fine = torch::ones({4, 64, 64});
  const torch::Tensor a = p.forward(ones_coarse), b = project_oversampled(p, s, ones_fine, 2);
  EXPECT_LT((a - b).abs().max().item<double>(), 0.01 * a.max().item<double>());
  EXPECT_THROW(project_oversampled(p, s, torch::ones({4, 60, 64}), 2), Error);
}

TEST(Oversampling, DownsamplingAveragesBlocksAndCentresTheGrid) {
  const Cylinder fine = cylinder(64, 8, 5.0, 140.0, 3.0);
  const Volume coarse = downsample(fine.activity, 2);
  const Cylinder reference = cylinder(32, 4, 10.0, 140.0, 3.0);
  EXPECT_TRUE(same_geometry(coarse, reference.activity));
  EXPECT_NEAR(total(coarse.data) * 8, total(fine.activity.data), 1e-3 * total(fine.activity.data));
  EXPECT_EQ(oversampling_factor(fine.activity, coarse), 2);
  EXPECT_THROW(oversampling_factor(reference.activity, fine.activity), Error);
}

TEST(Corrections, ExactCorrectionsAreTheModelThatMadeTheData) {
  const Cylinder c = cylinder(32, 4, 10.0, 140.0, 5000.0);
  ScannerOptions s = small_scanner();
  s.normalisation = true;
  s.randoms_fraction = 0.2;
  const Acquisition truth = model_acquisition(c.activity, c.mumap, c.activity, s, 1);
  const Projector p = make_reconstruction_projector(s, CorrectionOptions::exact(), c.activity);
  const Corrections k = model_corrections(p, truth, c.mumap, s, CorrectionOptions::exact(), 2);
  EXPECT_TRUE(torch::allclose(k.multiplicative, truth.gain * truth.efficiency * truth.attenuation));
  EXPECT_TRUE(torch::equal(k.background.scatter, truth.scatter));
  EXPECT_TRUE(torch::equal(k.background.randoms, truth.randoms));
  EXPECT_DOUBLE_EQ(k.numbers.at("scatter_scale"), 1.0);
  // Noise-free data reconstruct to the truth.
  OsemOptions oo;
  oo.iterations = 10;
  oo.subsets = 4;
  oo.post_filter_fwhm_mm = 0;
  const Osem osem(p, k.multiplicative, k.background, oo);
  const auto [mean, sd] = central_stats(osem.reconstruct(truth.expected_prompts, 1.0), 10.0, 100.0);
  EXPECT_NEAR(mean / 5000.0, 1.0, 0.01);
  EXPECT_NEAR(total(truth.expected_prompts), s.prompts, 1e-4 * s.prompts);
}

TEST(Corrections, ATenPercentScatterOverestimateBiasesAUniformCylinderByWhatItPredicts) {
  const Cylinder c = cylinder(32, 4, 10.0, 140.0, 5000.0);
  ScannerOptions s = small_scanner();
  s.scatter_fraction = 0.3;
  const Acquisition truth = model_acquisition(c.activity, c.mumap, c.activity, s, 1);
  const Projector p = make_reconstruction_projector(s, CorrectionOptions::exact(), c.activity);
  Corrections k = model_corrections(p, truth, c.mumap, s, CorrectionOptions::exact(), 2);
  OsemOptions oo;
  oo.iterations = 20;
  oo.subsets = 4;
  oo.post_filter_fwhm_mm = 0;
  const double exact = central_stats(Osem(p, k.multiplicative, k.background, oo).reconstruct(truth.expected_prompts, 1.0), 10, 100).first;
  k.background.scatter = k.background.scatter * 1.1;
  const double biased = central_stats(Osem(p, k.multiplicative, k.background, oo).reconstruct(truth.expected_prompts, 1.0), 10, 100).first;
  // To first order the reconstruction is linear in its data, so subtracting 10% more scatter
  // removes 10% of what the scatter alone reconstructs to in the region: predicted bias =
  // -0.1 x mean(recon(scatter)) / mean(recon(trues)) there, each reconstructed as emission data.
  Corrections none = k;
  none.background.scatter = torch::zeros_like(k.background.scatter);
  const Osem linear(p, none.multiplicative, none.background, oo);
  const double from_scatter = central_stats(linear.reconstruct(truth.scatter, 1.0), 10, 100).first;
  const double from_trues = central_stats(linear.reconstruct(truth.expected_prompts - truth.scatter, 1.0), 10, 100).first;
  const double predicted = -0.1 * from_scatter / from_trues;
  const double measured = biased / exact - 1;
  std::cout << "scatter +10%: bias measured " << measured << ", predicted " << predicted << std::endl;
  EXPECT_LT(predicted, -0.02);
  EXPECT_NEAR(measured, predicted, 0.05 * std::abs(predicted)) << "predicted " << predicted;
}

TEST(Corrections, ImperfectCorrectionsAreDrawnFromTheSeedAndRecorded) {
  const Cylinder c = cylinder(32, 6, 10.0, 140.0, 5000.0);
  ScannerOptions s = small_scanner();
  s.normalisation = true;
  const CorrectionOptions o;  // the defaults
  const Acquisition truth = model_acquisition(c.activity, c.mumap, c.activity, s, 1);
  const Projector p = make_reconstruction_projector(s, o, c.activity);
  const Corrections a = model_corrections(p, truth, c.mumap, s, o, 7);
  const Corrections b = model_corrections(p, truth, c.mumap, s, o, 7);
  const Corrections other = model_corrections(p, truth, c.mumap, s, o, 8);
  EXPECT_TRUE(torch::equal(a.multiplicative, b.multiplicative));
  EXPECT_FALSE(torch::equal(a.multiplicative, other.multiplicative));
  // Pair efficiency = two crystals x a ring, each off by 1%: about sqrt(3) % per line.
  const double spread = (a.efficiency / truth.efficiency - 1).std().item<double>();
  EXPECT_GT(spread, 0.011);
  EXPECT_LT(spread, 0.024);
  const double shift = std::sqrt(std::pow(a.numbers.at("mumap_shift_x_mm"), 2) +
                                 std::pow(a.numbers.at("mumap_shift_y_mm"), 2) +
                                 std::pow(a.numbers.at("mumap_shift_z_mm"), 2));
  EXPECT_NEAR(shift, 2.0, 1e-9);
  const double scale = a.numbers.at("scatter_scale");
  EXPECT_NE(scale, 1.0);
  EXPECT_NEAR(total(a.background.scatter) / total(truth.scatter), scale, 1e-4);
  EXPECT_FALSE(a.background.randoms.defined());  // a delayed-window estimate comes per acquisition
  EXPECT_NEAR(a.numbers.at("recon_psf_fwhm_mm"), 0.9 * s.psf_fwhm_mm, 1e-12);
  // The CT-like map keeps the attenuation's total but not its edge.
  EXPECT_NEAR(total(a.mumap.data) / total(c.mumap.data), 1.0, 0.02);
  EXPECT_GT((a.mumap.data - c.mumap.data).abs().max().item<double>(), 0.01);
}

TEST(Corrections, TheDelayedWindowRandomsEstimateIsUnbiasedAndSmooth) {
  const Cylinder c = cylinder(32, 8, 10.0, 140.0, 5000.0);
  ScannerOptions s = small_scanner();
  s.normalisation = true;
  s.randoms_fraction = 0.3;
  const CorrectionOptions o;
  const Acquisition truth = model_acquisition(c.activity, c.mumap, c.activity, s, 1);
  const Projector p = make_reconstruction_projector(s, o, c.activity);
  const Corrections k = model_corrections(p, truth, c.mumap, s, CorrectionOptions::exact(), 3);
  for (double drf : {1.0, 20.0}) {
    const torch::Tensor delayed = poisson_counts(truth.randoms / drf, 11);
    const torch::Tensor estimate = randoms_estimate(delayed, 1.0 / drf, k, p, o);
    EXPECT_NEAR(total(estimate) / total(truth.randoms), 1.0, 0.01) << drf;
    const double raw_noise = (delayed * drf / truth.randoms - 1).std().item<double>();
    const double noise = (estimate / truth.randoms - 1).std().item<double>();
    EXPECT_LT(noise, 0.2 * raw_noise) << drf;
  }
}

TEST(Tof, NoiseFallsByTheSquareRootOfTheObjectSizeOverTheTofResolution) {
  // Theory: at the centre of a uniform disc of diameter D, TOF with a Gaussian kernel of SD sigma
  // along the line divides the variance by D * integral(h^2) = D / (2 sqrt(pi) sigma), i.e.
  // D / (1.5 dx) with dx = c dt / 2 the FWHM: the noise falls by sqrt(D / dx) up to that constant.
  // The TOF bins (dx / 2 wide) add their own w^2 / 12 to sigma^2. Here 300 mm and 300 ps (45 mm):
  // predicted 2.05. Noise is measured at matched resolution (post-filtered, near convergence)
  // from the difference of two realisations, so edge artefacts do not count as noise.
  const double diameter = 300, tof_ps = 300;
  const Cylinder c = cylinder(48, 6, 8.0, 0.5 * diameter, 5000.0);
  ScannerOptions s = small_scanner();
  s.angles = 64;
  s.scatter_fraction = 0;
  s.prompts = 3e6;
  OsemOptions oo;
  oo.iterations = 32;  // the non-TOF reconstruction converges slowly
  oo.subsets = 8;
  oo.post_filter_fwhm_mm = 16;
  const int64_t n = 48;
  const torch::Tensor axis = (torch::arange(n, torch::kFloat64) - 0.5 * (n - 1)) * 8.0;
  const torch::Tensor central = (axis.view({n, 1}).square() + axis.view({1, n}).square() <= 100.0 * 100.0)
                                    .unsqueeze(0)
                                    .expand({4, n, n});
  double sd[2] = {0, 0};
  for (int tof = 0; tof < 2; ++tof) {
    s.tof_fwhm_ps = tof ? tof_ps : 0;
    const Acquisition truth = model_acquisition(c.activity, c.mumap, c.activity, s, 1);
    const Projector p = make_reconstruction_projector(s, CorrectionOptions::exact(), c.activity);
    const Corrections k = model_corrections(p, truth, c.mumap, s, CorrectionOptions::exact(), 2);
    const Osem osem(p, k.multiplicative, k.background, oo);
    const torch::Tensor a = osem.reconstruct(poisson_counts(truth.expected_prompts, 5), 1.0).narrow(0, 1, 4);
    const torch::Tensor b = osem.reconstruct(poisson_counts(truth.expected_prompts, 6), 1.0).narrow(0, 1, 4);
    const double mean = a.masked_select(central).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(mean / 5000.0, 1.0, 0.03) << tof;
    sd[tof] = (a - b).masked_select(central).to(torch::kFloat64).std().item<double>() / std::sqrt(2.0);
  }
  const double fwhm = kTofMmPerPs * tof_ps, bin = 0.5 * fwhm;
  const double sigma = std::sqrt(std::pow(fwhm / 2.354820045, 2) + bin * bin / 12);
  const double predicted = std::sqrt(diameter / (2 * std::sqrt(M_PI) * sigma));
  std::cout << "TOF noise gain: measured " << sd[0] / sd[1] << ", predicted " << predicted << std::endl;
  EXPECT_NEAR(sd[0] / sd[1], predicted, 0.2 * predicted) << "non-TOF " << sd[0] << " TOF " << sd[1];
  EXPECT_GT(sd[0] / sd[1], 1.5);
}

TEST(Acquisition, TofDataAddUpToTheRequestedCountsOnEveryGrid) {
  // A small phantom: lines that graze the body carry trues of float32 round-off size, whose TOF
  // profiles once normalised to a fraction of 1 and lost 1.5% of the scatter.
  PhantomOptions po;
  po.width = po.height = 32;
  po.voxel_mm = 13.86;
  po.slices = 6;
  po.slice_mm = 20;
  for (double ps : {0.0, 214.0, 600.0}) {
    for (int64_t f : {1, 2}) {
      const Phantom p = generate_phantom(oversampled_phantom(po, f), 3);
      const Volume grid = downsample(p.activity, f);
      ScannerOptions s;
      s.angles = 16;
      s.prompts = 2e6;
      s.tof_fwhm_ps = ps;
      const Acquisition a = model_acquisition(p.activity, p.mumap, grid, s, 1);
      EXPECT_NEAR(total(a.expected_prompts) / 2e6, 1.0, 1e-4) << ps << " ps, oversampling " << f;
      EXPECT_GT(a.expected_prompts.min().item<double>(), 0.0);
      if (ps > 0) {
        const torch::Tensor sums = a.scatter_tof_profile.to(torch::kFloat64).sum(-1);
        EXPECT_NEAR(sums.min().item<double>(), 1.0, 4e-3) << ps;  // bfloat16 storage
        EXPECT_NEAR(sums.max().item<double>(), 1.0, 4e-3) << ps;
      }
    }
  }
}

TEST(Corrections, InvalidOptionsAreRejected) {
  CorrectionOptions o;
  o.psf_model = -1;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.scatter_scale_sd = 0.7;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.mumap_shift_mm = std::nan("");
  EXPECT_THROW(o.validate(), Error);
}

}  // namespace
}  // namespace unipet::sim
