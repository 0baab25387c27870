#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <cmath>

#include "unipet/core/error.h"
#include "unipet/sim/projector.h"

namespace unipet::sim {
namespace {

ProjectorOptions small_options() {
  ProjectorOptions o;
  o.width = 24;
  o.height = 20;  // non-square on purpose
  o.voxel_x_mm = 3.0;
  o.voxel_y_mm = 3.5;
  o.voxel_z_mm = 4.0;
  o.angles = 30;
  o.bins = 31;
  o.bin_mm = 2.5;
  return o;
}

double sum_of_products(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) * b.to(torch::kFloat64)).sum().item<double>();
}

TEST(Projector, ForwardAndBackAreExactAdjoints) {
  const Projector p(small_options());
  torch::manual_seed(3);
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const torch::Tensor x = torch::rand({5, 20, 24}, dtype);
    const torch::Tensor y = torch::rand({5, 30, 31}, dtype);
    const double lhs = sum_of_products(p.forward(x), y), rhs = sum_of_products(x, p.back(y));
    EXPECT_NEAR(lhs / rhs, 1.0, 1e-5) << dtype;
    const torch::Tensor xs = torch::randn({5, 20, 24}, dtype);  // signed values too
    const torch::Tensor ys = torch::randn({5, 30, 31}, dtype);
    const double l = sum_of_products(p.forward(xs), ys), r = sum_of_products(xs, p.back(ys));
    EXPECT_NEAR(l, r, 1e-5 * (std::abs(l) + std::abs(r))) << dtype;
  }
}

TEST(Projector, SubsetForwardAndBackAreExactAdjointsAndSelectTheirAngles) {
  const Projector p(small_options());
  const std::vector<int64_t> subset = {29, 3, 17};
  torch::manual_seed(4);
  const torch::Tensor x = torch::rand({2, 20, 24}, torch::kFloat64);
  const torch::Tensor y = torch::rand({2, 3, 31}, torch::kFloat64);
  EXPECT_NEAR(sum_of_products(p.forward(x, subset), y) / sum_of_products(x, p.back(y, subset)), 1.0, 1e-10);
  const torch::Tensor full = p.forward(x);
  EXPECT_TRUE(torch::allclose(p.forward(x, subset).select(1, 0), full.select(1, 29)));
  EXPECT_TRUE(torch::allclose(p.forward(x, subset).select(1, 2), full.select(1, 17)));
}

TEST(Projector, LineIntegralsThroughAUniformCylinderMatchTheChordLength) {
  ProjectorOptions o;
  o.width = o.height = 96;
  o.voxel_x_mm = o.voxel_y_mm = 2.0;
  o.angles = 12;
  o.bins = 96;
  o.bin_mm = 2.0;
  const Projector p(o);
  const double radius = 60.0, value = 0.5;
  // Partial-volume cylinder from 8 x 8 sub-samples per voxel, so the disc is not staircased.
  torch::Tensor image = torch::zeros({1, 96, 96}, torch::kFloat64);
  auto a = image.accessor<double, 3>();
  for (int j = 0; j < 96; ++j) {
    for (int i = 0; i < 96; ++i) {
      int inside = 0;
      for (int sj = 0; sj < 8; ++sj) {
        for (int si = 0; si < 8; ++si) {
          const double x = (i - 47.5 + (si + 0.5) / 8 - 0.5) * 2.0;
          const double y = (j - 47.5 + (sj + 0.5) / 8 - 0.5) * 2.0;
          inside += x * x + y * y <= radius * radius;
        }
      }
      a[0][j][i] = value * inside / 64.0;
    }
  }
  const torch::Tensor sino = p.line_integrals(image);
  auto s = sino.accessor<double, 3>();
  for (int64_t angle = 0; angle < o.angles; ++angle) {
    for (int64_t b = 0; b < o.bins; ++b) {
      const double offset = (b - 47.5) * 2.0;
      if (std::abs(offset) > 0.8 * radius) continue;
      const double chord = 2.0 * std::sqrt(radius * radius - offset * offset) * value;
      EXPECT_NEAR(s[0][angle][b], chord, 0.01 * chord) << "angle " << angle << " bin " << b;
    }
  }
}

TEST(Projector, EveryAngleSeesTheWholeActivityWithinSamplingError) {
  ProjectorOptions o = small_options();
  o.psf_fwhm_mm = o.psf_axial_fwhm_mm = 0;
  o.bins = 60;  // wide enough to cover the image's diagonal
  const Projector p(o);
  torch::Tensor image = torch::zeros({1, 20, 24}, torch::kFloat64);
  image.index_put_({0, torch::indexing::Slice(5, 15), torch::indexing::Slice(6, 18)}, 2.0);
  const double mass = image.sum().item<double>() * o.voxel_x_mm * o.voxel_y_mm;
  const torch::Tensor per_angle = p.line_integrals(image).sum(2).squeeze(0) * o.bin_mm;
  EXPECT_TRUE(torch::allclose(per_angle, torch::full_like(per_angle, mass), 1e-2, 0))
      << per_angle;
}

TEST(Projector, ResultsDoNotDependOnTheThreadCount) {
  const Projector p(small_options());
  torch::manual_seed(5);
  const torch::Tensor x = torch::rand({7, 20, 24});
  const torch::Tensor y = torch::rand({7, 30, 31});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const torch::Tensor f1 = p.forward(x), b1 = p.back(y);
  at::set_num_threads(2);
  const torch::Tensor f2 = p.forward(x), b2 = p.back(y);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(f1, f2));
  EXPECT_TRUE(torch::equal(b1, b2));
}

TEST(Projector, GaussianFilterIsSymmetricAndKeepsInteriorMass) {
  torch::manual_seed(6);
  const torch::Tensor a = torch::rand({6, 9, 11}, torch::kFloat64);
  const torch::Tensor b = torch::rand({6, 9, 11}, torch::kFloat64);
  auto g = [](const torch::Tensor& v) { return gaussian_filter(v, 5, 6, 7, 2, 2, 3); };
  EXPECT_NEAR(sum_of_products(g(a), b), sum_of_products(a, g(b)), 1e-10);
  torch::Tensor point = torch::zeros({9, 15, 15}, torch::kFloat64);
  point[4][7][7] = 1;
  EXPECT_NEAR(g(point).sum().item<double>(), 1.0, 1e-9);
  EXPECT_EQ(gaussian_kernel(0).numel(), 1);
}

TEST(Projector, InvalidOptionsAndShapesAreRejected) {
  ProjectorOptions o = small_options();
  o.width = 0;
  EXPECT_THROW(Projector{o}, Error);
  o = small_options();
  o.voxel_y_mm = -1;
  EXPECT_THROW(Projector{o}, Error);
  const Projector p(small_options());
  EXPECT_THROW(p.forward(torch::zeros({2, 24, 20})), Error);
  EXPECT_THROW(p.back(torch::zeros({2, 31, 30})), Error);
  EXPECT_THROW(p.forward(torch::zeros({2, 20, 24}), {30}), Error);
  EXPECT_THROW(p.forward(torch::zeros({2, 20, 24}, torch::kInt32)), Error);
}

}  // namespace
}  // namespace unipet::sim

namespace unipet::sim {
namespace {

ProjectorOptions tof_options(double tof_ps) {
  ProjectorOptions o = small_options();
  o.tof_fwhm_ps = tof_ps;
  return o;
}

TEST(TofProjector, ResolvesBinsToCoverTheLongestChord) {
  const Projector p(tof_options(400));
  // 400 ps -> 60 mm FWHM, bins of 30 mm over the 72 x 70 mm image diagonal.
  EXPECT_NEAR(p.options().tof_bin_mm, 0.5 * 400 * kTofMmPerPs, 1e-9);
  EXPECT_EQ(p.tof_bins(), static_cast<int64_t>(std::ceil(std::hypot(72.0, 70.0) / 29.9792458)));
  EXPECT_EQ(Projector(small_options()).tof_bins(), 1);
  EXPECT_EQ(p.sinogram_shape(5, 30), (std::vector<int64_t>{5, 30, 31, p.tof_bins()}));
}

TEST(TofProjector, ForwardAndBackAreExactAdjoints) {
  for (double ps : {214.0, 600.0}) {
    ProjectorOptions o = tof_options(ps);
    o.tof_bin_mm = 6.0;  // many bins across this small image, so the TOF kernel matters
    const Projector p(o);
    torch::manual_seed(5);
    const torch::Tensor x = torch::randn({3, 20, 24}, torch::kFloat64);
    const torch::Tensor y = torch::randn(p.sinogram_shape(3, 30), torch::kFloat64);
    const double l = sum_of_products(p.forward(x), y), r = sum_of_products(x, p.back(y));
    EXPECT_NEAR(l, r, 1e-9 * (std::abs(l) + std::abs(r))) << ps;
    const std::vector<int64_t> subset = {7, 21};
    const torch::Tensor ys = torch::randn(p.sinogram_shape(3, 2), torch::kFloat64);
    const double ls = sum_of_products(p.forward(x, subset), ys), rs = sum_of_products(x, p.back(ys, subset));
    EXPECT_NEAR(ls, rs, 1e-9 * (std::abs(ls) + std::abs(rs))) << ps;
  }
}

TEST(TofProjector, BinsSumToTheNonTofProjection) {
  ProjectorOptions o = tof_options(300);
  o.tof_bin_mm = 5.0;
  const Projector tof(o);
  const Projector plain(small_options());
  torch::manual_seed(6);
  const torch::Tensor x = torch::rand({4, 20, 24}, torch::kFloat64);
  const torch::Tensor summed = tof.forward(x).sum(3);
  const torch::Tensor reference = plain.forward(x);
  EXPECT_LT((summed - reference).abs().max().item<double>(), 1e-6 * reference.abs().max().item<double>());
  EXPECT_TRUE(torch::allclose(tof.forward_summed(x, {0, 5}), plain.forward(x, {0, 5})));
  // The TOF-summed back projection is the non-TOF one.
  const torch::Tensor y = torch::rand({4, 30, 31}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(tof.back(y), plain.back(y)));
}

TEST(TofProjector, APointSourceLandsInTheTofBinsOfItsPosition) {
  ProjectorOptions o;
  o.width = o.height = 64;
  o.voxel_x_mm = o.voxel_y_mm = o.voxel_z_mm = 4.0;
  o.angles = 8;
  o.psf_fwhm_mm = o.psf_axial_fwhm_mm = 0;
  o.tof_fwhm_ps = 200;  // 30 mm FWHM
  o.tof_bin_mm = 4.0;
  const Projector p(o);
  torch::Tensor x = torch::zeros({1, 64, 64}, torch::kFloat64);
  x[0][32][32 + 15] = 1.0;  // x = +62 mm (voxel centres sit at +-2 mm off the axis)
  const torch::Tensor sino = p.forward(x);
  // Angle 0: the line is vertical (x = s), t runs along +y; the point is at y = +2 mm.
  // Angle 4 (90 degrees): lines are horizontal, t runs along -x, so the point sits at t = -62 mm.
  for (auto [angle, expected_t] : {std::pair<int64_t, double>{0, 2.0}, {4, -62.0}}) {
    const torch::Tensor profile = sino[0][angle].sum(0);  // over radial bins -> [T]
    const torch::Tensor centres =
        (torch::arange(p.tof_bins(), torch::kFloat64) + 0.5 - 0.5 * p.tof_bins()) * o.tof_bin_mm;
    const double mean_t = ((profile * centres).sum() / profile.sum()).item<double>();
    const double var = ((profile * (centres - mean_t).square()).sum() / profile.sum()).item<double>();
    EXPECT_NEAR(mean_t, expected_t, 1.0) << angle;
    // Gaussian of 30 mm FWHM convolved with the 4 mm bins: sigma^2 = 12.74^2 + 4^2 / 12.
    EXPECT_NEAR(std::sqrt(var), std::sqrt(std::pow(30.0 / 2.35482, 2) + 16.0 / 12), 0.6) << angle;
  }
}

TEST(GaussianFilter, MirrorEdgesKeepAConstantConstantWhereZeroPaddingDarkensTheBorder) {
  const torch::Tensor ones = torch::ones({12, 10, 8}, torch::kFloat64);
  const torch::Tensor mirrored = gaussian_filter(ones, 5, 5, 5, 2, 2, 2, Edge::Mirror);
  EXPECT_LT((mirrored - 1).abs().max().item<double>(), 1e-12);
  const torch::Tensor zero = gaussian_filter(ones, 5, 5, 5, 2, 2, 2, Edge::Zero);
  EXPECT_LT(zero[0][5][4].item<double>(), 0.8);
  // A kernel longer than the volume still reflects (period 2 x length).
  const torch::Tensor thin = torch::ones({2, 3, 3}, torch::kFloat64);
  EXPECT_LT((gaussian_filter(thin, 0, 0, 20, 1, 1, 1, Edge::Mirror) - 1).abs().max().item<double>(), 1e-12);
  // Away from the edges both agree.
  torch::manual_seed(7);
  const torch::Tensor x = torch::rand({12, 10, 8}, torch::kFloat64);
  const torch::Tensor a = gaussian_filter(x, 0, 0, 3, 1, 1, 1, Edge::Mirror);
  const torch::Tensor b = gaussian_filter(x, 0, 0, 3, 1, 1, 1, Edge::Zero);
  EXPECT_TRUE(torch::allclose(a.narrow(0, 4, 4), b.narrow(0, 4, 4)));
}

}  // namespace
}  // namespace unipet::sim
