#include <set>

#include <gtest/gtest.h>

#include "infer/infer_test_util.h"
#include "unipet/core/error.h"
#include "unipet/infer/sliding_window.h"

namespace unipet::infer {
namespace {

torch::Tensor identity(const torch::Tensor& t) { return t.clone(); }

// A flip-equivariant, non-trivial tile function: a 3x3x3 box mean with zero padding, squared.
torch::Tensor box_squared(const torch::Tensor& t) {
  return torch::avg_pool3d(t, 3, 1, 1, false, true).pow(2);
}

SlidingWindowOptions tiles(int64_t tile, double background = 0.0) {
  SlidingWindowOptions o;
  o.tile = tile;
  o.background = background;
  return o;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(SlidingWindow, IdentityGivesTheInputBackForAnySize) {
  torch::manual_seed(1);
  for (const auto& shape : {std::vector<int64_t>{37, 50, 29}, std::vector<int64_t>{10, 7, 12},
                            std::vector<int64_t>{1, 40, 9}, std::vector<int64_t>{16, 16, 16}}) {
    const auto v = torch::rand(shape) * 10 - 1;  // negative voxels too
    for (double background : {0.0, 0.05}) {
      const auto r = sliding_window(v, identity, tiles(16, background));
      EXPECT_LE(max_abs(r.image, v), 1e-5) << torch::IntArrayRef(shape) << " background " << background;
      EXPECT_EQ(r.image.sizes(), v.sizes());
    }
  }
}

TEST(SlidingWindow, TilesSpreadToTheBordersWithTheRequestedOverlap) {
  const auto plan = plan_tiles(torch::ones({40, 16, 100}), tiles(16));
  // d: 40 = 16 + 2 steps of 12; w: 100 needs ceil(84 / 12) + 1 = 8 tiles, the last ending at 100.
  std::set<int64_t> d, h, w;
  for (const auto& s : plan.run) d.insert(s[0]), h.insert(s[1]), w.insert(s[2]);
  EXPECT_EQ(d, (std::set<int64_t>{0, 12, 24}));
  EXPECT_EQ(h, (std::set<int64_t>{0}));
  EXPECT_EQ(w.size(), 8u);
  EXPECT_EQ(*w.begin(), 0);
  EXPECT_EQ(*w.rbegin(), 84);
  EXPECT_EQ(plan.run.size(), 3u * 8u);
  EXPECT_TRUE(plan.skipped.empty());
}

TEST(SlidingWindow, ResultsDoNotDependOnTheBatchSize) {
  torch::manual_seed(2);
  const auto v = torch::rand({30, 41, 23}) * 5;
  auto o = tiles(16);
  const auto one = sliding_window(v, box_squared, o).image;
  for (int64_t batch : {2, 5, 64}) {
    o.batch = batch;
    EXPECT_LE(max_abs(sliding_window(v, box_squared, o).image, one), 1e-6) << "batch " << batch;
  }
}

TEST(SlidingWindow, TtaOfAFlipEquivariantFunctionEqualsThePlainResult) {
  torch::manual_seed(3);
  const auto v = torch::rand({24, 30, 20}) * 5;
  auto o = tiles(16);
  const auto plain = sliding_window(v, box_squared, o);
  o.tta = true;
  o.uncertainty = true;
  const auto tta = sliding_window(v, box_squared, o);
  EXPECT_LE(max_abs(tta.image, plain.image), 1e-5);
  EXPECT_LE(tta.uncertainty.abs().max().item<double>(), 1e-4);
  EXPECT_EQ(tta.evaluations, 8 * plain.evaluations);
  // A function that is not equivariant (it adds a ramp along w) is uncertain by the ramp's
  // spread over the flips: half of the predictions see the ramp reversed.
  const auto ramp = [](const torch::Tensor& t) {
    return t + torch::linspace(0, 1, t.size(4), t.options()).view({1, 1, 1, 1, -1});
  };
  const auto r = sliding_window(v, ramp, o);
  EXPECT_GT(r.uncertainty.mean().item<double>(), 0.1);
  EXPECT_LE(max_abs(r.image, v + 0.5), 1e-5);  // the ramp averages to its mean
}

TEST(SlidingWindow, BackgroundTilesAreNotRunAndEveryForegroundVoxelIsCovered) {
  // A small body in a large field of air: most of a full grid is background.
  auto v = torch::zeros({64, 96, 96});
  v.narrow(0, 10, 30).narrow(1, 40, 20).narrow(2, 30, 40).fill_(3.0);
  v[5][5][5] = 0.001f;  // a speck below the threshold
  const auto full = plan_tiles(v, tiles(16));
  const auto plan = plan_tiles(v, tiles(16, 0.01));
  EXPECT_NEAR(plan.threshold, 0.03, 1e-9);
  // The same grid, split into tiles that run and tiles that do not.
  EXPECT_EQ(plan.run.size() + plan.skipped.size(), full.run.size());
  EXPECT_LT(plan.run.size() * 5, full.run.size());
  auto covered = torch::zeros_like(v, torch::kBool);
  for (const auto& s : plan.run) covered.narrow(0, s[0], 16).narrow(1, s[1], 16).narrow(2, s[2], 16).fill_(true);
  EXPECT_TRUE(covered.index({v >= plan.threshold}).all().item<bool>());
  // Voxels no tile reaches keep their input; the body is the function's output.
  const auto r = sliding_window(v, [](const torch::Tensor& t) { return t * 2; }, tiles(16, 0.01));
  EXPECT_EQ(r.tiles_run, static_cast<int64_t>(plan.run.size()));
  EXPECT_FLOAT_EQ(r.image[5][5][5].item<float>(), 0.001f);
  EXPECT_NEAR(r.image[20][50][50].item<double>(), 6.0, 1e-5);
  // An all-zero volume has no robust maximum to take a fraction of: every tile runs.
  EXPECT_EQ(sliding_window(torch::zeros({20, 20, 20}), identity, tiles(16, 0.01)).tiles_run, 8);
}

TEST(SlidingWindow, ImportanceMapIsAFlooredGaussian) {
  const auto w = importance_map(16, 0.125, torch::kCPU);
  EXPECT_EQ(w.sizes(), (std::vector<int64_t>{16, 16, 16}));
  EXPECT_NEAR(w.max().item<double>(), 1.0, 1e-6);
  // σ = 2: the voxel next to the centre plane along one axis is exp(-1.5² / 8) of the peak.
  EXPECT_NEAR((w[6][7][7] / w[7][7][7]).item<double>(), std::exp(-(1.5 * 1.5 - 0.25) / 8.0), 1e-5);
  EXPECT_NEAR(w.min().item<double>(), 1e-4, 1e-9);
  EXPECT_TRUE(torch::equal(w, w.flip({0})) && torch::equal(w, w.flip({1, 2})));
  EXPECT_TRUE(torch::equal(w, w.permute({2, 0, 1})));
}

TEST(SlidingWindow, RejectsBadOptionsAndBadTileFunctions) {
  const auto v = torch::ones({8, 8, 8});
  auto o = tiles(4);
  test::expect_error([&] { sliding_window(v, identity, o); }, {"--tile", "4"});
  o = tiles(16);
  o.overlap = 0.95;
  test::expect_error([&] { sliding_window(v, identity, o); }, {"--overlap"});
  o = tiles(16);
  o.uncertainty = true;
  test::expect_error([&] { sliding_window(v, identity, o); }, {"--uncertainty", "--tta"});
  test::expect_error(
      [&] { sliding_window(v, [](const torch::Tensor& t) { return t.narrow(2, 0, 8); }, tiles(16)); },
      {"network returned"});
  test::expect_error([&] { sliding_window(torch::ones({8, 8}), identity, tiles(16)); }, {"[D, H, W]"});
}

}  // namespace
}  // namespace unipet::infer
