#include <cmath>

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/eval/gaussian_baseline.h"
#include "unipet/eval/metrics.h"

namespace unipet::eval {
namespace {

Volume volume(torch::Tensor data, std::array<double, 3> spacing) {
  Volume v;
  v.data = std::move(data);
  v.spacing = spacing;
  return v;
}

// sqrt(Σ v·x²/Σ v) in mm along one tensor axis, x measured from `centre`.
double spread_mm(const torch::Tensor& data, int64_t axis, int64_t centre, double spacing) {
  std::vector<int64_t> shape{1, 1, 1};
  shape[static_cast<size_t>(axis)] = -1;
  auto x = (torch::arange(data.size(axis), torch::kFloat64) - centre).mul(spacing).view(shape);
  auto d = data.to(torch::kFloat64);
  return std::sqrt((d * x.pow(2)).sum().item<double>() / d.sum().item<double>());
}

TEST(GaussianFilter, ZeroFwhmIsACopy) {
  torch::manual_seed(3);
  auto image = volume(torch::rand({5, 6, 7}), {1.0, 2.0, 3.0});
  auto out = gaussian_filter(image, 0.0);
  EXPECT_TRUE(out.data.equal(image.data));
  EXPECT_NE(out.data.data_ptr(), image.data.data_ptr());
  EXPECT_TRUE(same_geometry(out, image));
  // 0.3 mm (3 sigma = 0.38 mm) on voxels of 1 mm or more: one-tap kernels, same values, still a copy.
  auto narrow = gaussian_filter(image, 0.3);
  EXPECT_TRUE(narrow.data.equal(image.data));
  EXPECT_NE(narrow.data.data_ptr(), image.data.data_ptr());
}

TEST(GaussianFilter, AConstantImageStaysConstantUpToTheBorders) {
  // Reflected borders: a 12 mm filter on 5 voxels of 2 to 4 mm reaches past every face.
  auto image = volume(torch::full({5, 6, 7}, 3.5), {2.0, 3.0, 4.0});
  auto out = gaussian_filter(image, 12.0);
  EXPECT_NEAR((out.data - 3.5).abs().max().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(out.data.to(torch::kFloat64).sum().item<double>(), 3.5 * 5 * 6 * 7, 1e-3);
}

TEST(GaussianFilter, ADeltaSpreadsWithTheSameSigmaInMillimetresAlongEveryAxis) {
  // FWHM 9.4193 mm is sigma 4 mm: 4, 2 and 4/3 voxels along W, H, D at spacing (1, 2, 3) mm.
  // Cutting the kernel at 3 sigma trims the spread by up to 1.4% (0.9866 sigma for a continuous
  // Gaussian); sampling it on 4/3-voxel sigma widens it a little again.
  auto delta = torch::zeros({41, 41, 41});
  delta[20][20][20] = 1.0;
  auto out = gaussian_filter(volume(delta, {1.0, 2.0, 3.0}), 4.0 * 2.0 * std::sqrt(2.0 * std::log(2.0))).data;
  EXPECT_NEAR(out.to(torch::kFloat64).sum().item<double>(), 1.0, 1e-5);
  EXPECT_EQ(out.argmax().item<int64_t>(), (20 * 41 + 20) * 41 + 20);
  EXPECT_NEAR(spread_mm(out, 2, 20, 1.0), 4.0, 0.06);
  EXPECT_NEAR(spread_mm(out, 1, 20, 2.0), 4.0, 0.06);
  EXPECT_NEAR(spread_mm(out, 0, 20, 3.0), 4.0, 0.06);
}

TEST(GaussianFilter, RefusesNegativeFwhm) {
  test::expect_error(
      [] {
        gaussian_filter(volume(torch::ones({3, 3, 3}), {1, 1, 1}), -1.0);
      },
      {"gaussian_filter", "fwhm"});
}

// Pairs whose full dose is the low dose filtered at exactly 6 mm: the PSNR peaks (at +inf) there.
std::vector<std::pair<Volume, Volume>> pairs_filtered_at_6mm() {
  torch::manual_seed(11);
  std::vector<std::pair<Volume, Volume>> pairs;
  for (int k = 0; k < 2; ++k) {
    auto low = volume(torch::rand({16, 18, 20}) * 10.0, {2.0, 2.5, 3.0});
    pairs.emplace_back(low, gaussian_filter(low, 6.0));
  }
  return pairs;
}

TEST(GaussianFilter, BestFwhmFindsTheFilterThatMadeTheFullDose) {
  // max 13 mm: the grid (0.867 mm steps) misses 6 mm, so the golden-section search must find it.
  const auto search = best_gaussian_fwhm(pairs_filtered_at_6mm(), 10.0, 13.0);
  EXPECT_NEAR(search.best_fwhm_mm, 6.0, 0.2);
  EXPECT_GE(search.tried.size(), 16u + 5u);
  double best = -INFINITY;
  for (size_t i = 0; i < search.tried.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(search.tried[i - 1].first, search.tried[i].first);
    }
    best = std::max(best, search.tried[i].second);
  }
  EXPECT_EQ(search.best_psnr, best);
  EXPECT_EQ(search.tried.front().first, 0.0);
  EXPECT_NEAR(search.tried.back().first, 13.0, 1e-12);
}

TEST(GaussianFilter, BestFwhmWithMasksScoresOnlyTheMaskedVoxels) {
  auto pairs = pairs_filtered_at_6mm();
  std::vector<torch::Tensor> masks;
  for (const auto& p : pairs) masks.push_back(p.second.data > 4.0);
  const auto search = best_gaussian_fwhm(pairs, 10.0, 13.0, masks);
  EXPECT_NEAR(search.best_fwhm_mm, 6.0, 0.2);
  const auto& [fwhm, value] = search.tried.front();
  double expected = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    expected += psnr_in(pairs[i].second.data, gaussian_filter(pairs[i].first, fwhm).data, masks[i], 10.0) / 2;
  }
  EXPECT_NEAR(value, expected, 1e-9);
}

TEST(GaussianFilter, BestFwhmRefusesBadInputs) {
  auto pairs = pairs_filtered_at_6mm();
  test::expect_error([] { best_gaussian_fwhm({}); }, {"best_gaussian_fwhm", "no"});
  test::expect_error([&] { best_gaussian_fwhm(pairs, 10.0, 13.0, {torch::Tensor()}); },
                     {"1 masks for 2 pairs"});
  test::expect_error([&] { best_gaussian_fwhm(pairs, 10.0, 0.0); }, {"max_fwhm_mm"});
  pairs[1].second.spacing[2] = 4.0;
  test::expect_error([&] { best_gaussian_fwhm(pairs); }, {"pair 1", "geometry"});
}

}  // namespace
}  // namespace unipet::eval
