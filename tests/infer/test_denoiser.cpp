#include <gtest/gtest.h>

#include "infer/infer_test_util.h"
#include "unipet/core/error.h"
#include "unipet/infer/denoiser.h"

namespace unipet::infer {
namespace {

using test::TempDir;

DenoiseOptions with_tile(int64_t tile, double background = 0.0) {
  DenoiseOptions o;
  o.compute.device = "cpu";
  o.window.tile = tile;
  o.window.background = background;
  return o;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(Denoiser, IdentityModelGivesTheInputBackIncludingValuesOutsideTheClip) {
  TempDir dir;
  test::save_identity_model(dir / "identity.safetensors");
  torch::manual_seed(4);
  for (const auto& shape : {std::vector<int64_t>{21, 34, 19}, std::vector<int64_t>{9, 12, 10}}) {
    // -2 .. 38 SUV: negative voxels and a bladder above the 20 SUV clip pass through.
    const auto v = torch::rand(shape) * 40 - 2;
    for (const char* precision : {"fp32", "bf16"}) {
      auto o = with_tile(16);
      o.compute.precision = precision;
      const Denoiser denoiser(dir / "identity.safetensors", o);
      EXPECT_LE(max_abs(denoiser.denoise(v).image, v), 1e-4) << torch::IntArrayRef(shape) << " " << precision;
    }
  }
}

// Largest |difference| between neighbours along `axis`, over the neighbour pairs that straddle a
// tile edge (`at_edge`) or over all others.
std::pair<double, double> jumps(const torch::Tensor& v, int64_t axis, const std::set<int64_t>& edges) {
  const auto diff = (v.narrow(axis, 1, v.size(axis) - 1) - v.narrow(axis, 0, v.size(axis) - 1)).abs();
  double at_edge = 0, elsewhere = 0;
  for (int64_t i = 0; i + 1 < v.size(axis); ++i) {
    const double m = diff.select(axis, i).max().item<double>();
    (edges.count(i) ? at_edge : elsewhere) = std::max(edges.count(i) ? at_edge : elsewhere, m);
  }
  return {at_edge, elsewhere};
}

// Pairs (i, i + 1) where a tile starts at i + 1 or ends at i.
std::set<int64_t> tile_edges(const TilePlan& plan, int64_t axis) {
  std::set<int64_t> edges;
  for (const auto& s : plan.run) {
    if (s[axis] > 0) edges.insert(s[axis] - 1);
    if (s[axis] + plan.tile < plan.size[axis]) edges.insert(s[axis] + plan.tile - 1);
  }
  return edges;
}

TEST(Denoiser, BlendedTilesLeaveNoSeamsWhereAPastedGridDoes) {
  // Smooth everywhere (a few SUV, waves 30-50 voxels long), so any seam would stand out.
  const int64_t n = 60, t = 20;
  const auto i = torch::arange(n, torch::kFloat32);
  const auto z = i.view({n, 1, 1}), y = i.view({1, n, 1}), x = i.view({1, 1, n});
  const auto v = (3 + 1.5 * torch::sin(z * (2 * M_PI / 50)) * torch::cos(y * (2 * M_PI / 40)) +
                  torch::sin(x * (2 * M_PI / 30) + 1.0))
                     .contiguous();
  auto o = with_tile(t);
  const Denoiser denoiser(test::trained_model_path(), o);
  const auto plan = plan_tiles(v, o.window);
  ASSERT_EQ(plan.run.size(), 64u);
  const auto out = denoiser.denoise(v).image;
  const double range = (out.max() - out.min()).item<double>();

  // The authors' way: each tile's prediction pasted as it is, no blending.
  auto pasted = torch::zeros_like(v);
  const auto fn = denoiser.tile_function();
  for (const auto& s : plan.run) {
    const auto tile = v.narrow(0, s[0], t).narrow(1, s[1], t).narrow(2, s[2], t);
    pasted.narrow(0, s[0], t).narrow(1, s[1], t).narrow(2, s[2], t).copy_(fn(tile.reshape({1, 1, t, t, t}))[0][0]);
  }
  double worst_pasted_excess = 0;
  for (int64_t axis = 0; axis < 3; ++axis) {
    const auto edges = tile_edges(plan, axis);
    const auto [edge, elsewhere] = jumps(out, axis, edges);
    EXPECT_LE(edge, elsewhere + 0.005 * range) << "axis " << axis;
    std::cout << "axis " << axis << ": largest jump at tile edges " << edge << ", elsewhere " << elsewhere
              << ", range " << range << "\n";
    const auto [p_edge, p_elsewhere] = jumps(pasted, axis, edges);
    worst_pasted_excess = std::max(worst_pasted_excess, p_edge - p_elsewhere);
  }
  // The criterion can fail: the pasted grid breaks it.
  EXPECT_GT(worst_pasted_excess, 0.005 * range);
}

TEST(Denoiser, SkippingBackgroundTilesChangesTheResultNegligibly) {
  // A body in a field of air twice its width, as in a whole-body scan.
  const auto v = test::smooth_body(48, 96, 96, 6, 0.45);
  const Denoiser all(test::trained_model_path(), with_tile(32, 0.0));
  const Denoiser skip(test::trained_model_path(), with_tile(32, 0.01));
  const auto a = all.denoise(v);
  const auto b = skip.denoise(v);
  EXPECT_LE(b.tiles_run * 2, a.tiles_run) << b.tiles_run << " of " << a.tiles_run;
  const double range = v.max().item<double>();
  const auto difference = (a.image - b.image).abs();
  // The tiles that run are the same tiles: foreground voxels (above the threshold) get the same
  // blend. Background voxels where a skipped tile overlaps a run one blend the input (air, about
  // 0) with the model's faint halo around the body instead of the halo alone.
  const auto foreground = v >= 0.01 * range;
  EXPECT_LE(difference.index({foreground}).max().item<double>(), 1e-5 * range);
  EXPECT_LE(difference.mean().item<double>(), 1e-3 * range);
  EXPECT_LE(difference.max().item<double>(), 0.05 * range);
}

TEST(Denoiser, RefusesMissingAndForeignModelFilesAndBadOptions) {
  TempDir dir;
  test::expect_error([&] { Denoiser(dir / "missing.safetensors", with_tile(16)); }, {"missing.safetensors"});
  test::write_bytes(dir / "junk.safetensors", "not a model at all");
  test::expect_error([&] { Denoiser(dir / "junk.safetensors", with_tile(16)); }, {"junk.safetensors"});
  const std::string critic = std::string(UNIPET_TEST_DATA_DIR) + "/../../results/cpu-profile/disc/critic_final.safetensors";
  test::expect_error([&] { Denoiser(critic, with_tile(16)); }, {"critic_final.safetensors", "Discriminator"});
  auto o = with_tile(16);
  o.compute.precision = "int8";
  test::expect_error([&] { Denoiser(test::trained_model_path(), o); }, {"--precision", "int8"});
  o.compute.precision = "fp16";
  test::expect_error([&] { Denoiser(test::trained_model_path(), o); }, {"--precision"});
}

}  // namespace
}  // namespace unipet::infer
