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
