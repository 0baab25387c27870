#include "unipet/infer/sliding_window.h"

#include <algorithm>
#include <cmath>

#include "unipet/core/error.h"

namespace unipet::infer {

namespace {

using Index3 = std::array<int64_t, 3>;

// Indices of a signal of length n extended to [-before, n + after) by mirroring about its end
// voxels (no edge repeat, as numpy's "reflect"), for any extension length.
torch::Tensor reflected_indices(int64_t n, int64_t before, int64_t after) {
  auto i = torch::arange(-before, n + after, torch::kLong);
  if (n == 1) return torch::zeros_like(i);
  const int64_t period = 2 * (n - 1);
  i = torch::remainder(i, period);
  return torch::where(i >= n, period - i, i);
}

// Tile starts on an axis of length n >= tile: the fewest tiles at most `step` apart, the first at
// 0 and the last ending at n.
std::vector<int64_t> spread(int64_t n, int64_t tile, int64_t step) {
  const int64_t count = (n - tile + step - 1) / step + 1;
  if (count == 1) return {0};
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < count; ++i)
    starts.push_back(std::llround(static_cast<double>(i) * static_cast<double>(n - tile) /
                                  static_cast<double>(count - 1)));
  return starts;
}

torch::Tensor tile_view(const torch::Tensor& v, const Index3& s, int64_t t) {
  return v.narrow(0, s[0], t).narrow(1, s[1], t).narrow(2, s[2], t);
}

torch::Tensor pad_to_tile(const torch::Tensor& volume, const TilePlan& plan) {
  torch::Tensor x = volume;
  for (int64_t axis = 0; axis < 3; ++axis) {
    const int64_t before = plan.pad_before[axis];
    const int64_t after = plan.padded[axis] - plan.size[axis] - before;
    if (before == 0 && after == 0) continue;
    x = x.index_select(axis, reflected_indices(plan.size[axis], before, after).to(x.device()));
  }
  return x;
}

}  // namespace

void SlidingWindowOptions::validate() const {
  UNIPET_CHECK(tile >= 8 && tile <= 512, "--tile must be in [8, 512], got " << tile);
  UNIPET_CHECK(std::isfinite(overlap) && overlap >= 0 && overlap <= 0.9,
               "--overlap must be in [0, 0.9], got " << overlap);
  UNIPET_CHECK(batch >= 1 && batch <= 1024, "--batch must be in [1, 1024], got " << batch);
  UNIPET_CHECK(std::isfinite(sigma_scale) && sigma_scale > 0, "sigma_scale must be positive, got " << sigma_scale);
  UNIPET_CHECK(std::isfinite(background) && background >= 0 && background < 1,
               "--background must be in [0, 1), got " << background);
  UNIPET_CHECK(!uncertainty || tta, "--uncertainty needs --tta (it is the spread over the 8 flips)");
}

double background_threshold(const torch::Tensor& volume, double fraction) {
  if (fraction <= 0) return 0;
  const auto flat = volume.detach().flatten();
  // The 99.9th percentile as the smallest of the top 0.1%: torch::quantile refuses more than
  // 2^24 elements, a whole-body volume has more.
  const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(1e-3 * static_cast<double>(flat.numel()))));
  const double robust_max = std::get<0>(flat.topk(k)).min().item<double>();
  return robust_max > 0 ? fraction * robust_max : 0;
}

TilePlan plan_tiles(const torch::Tensor& volume, const SlidingWindowOptions& options) {
  options.validate();
  UNIPET_CHECK(volume.dim() == 3 && volume.numel() > 0,
               "sliding window: expected a non-empty [D, H, W] volume, got " << volume.sizes());
  TilePlan plan;
  const int64_t t = plan.tile = options.tile;
  for (int64_t axis = 0; axis < 3; ++axis) {
    plan.size[axis] = volume.size(axis);
    plan.padded[axis] = std::max(plan.size[axis], t);
    plan.pad_before[axis] = (plan.padded[axis] - plan.size[axis]) / 2;
  }
  const int64_t step = std::max<int64_t>(1, std::llround(static_cast<double>(t) * (1.0 - options.overlap)));
  const Index3& n = plan.padded;
  plan.threshold = background_threshold(volume, options.background);
  const torch::Tensor foreground =
      plan.threshold > 0 ? pad_to_tile(volume, plan) >= plan.threshold : torch::Tensor();
  for (int64_t z : spread(n[0], t, step))
    for (int64_t y : spread(n[1], t, step))
      for (int64_t x : spread(n[2], t, step)) {
        const Index3 start{z, y, x};
        const bool run = !foreground.defined() || tile_view(foreground, start, t).any().item<bool>();
        (run ? plan.run : plan.skipped).push_back(start);
      }
  return plan;
}

torch::Tensor importance_map(int64_t tile, double sigma_scale, const torch::Device& device) {
  const double sigma = static_cast<double>(tile) * sigma_scale;
  const auto i = torch::arange(tile, torch::TensorOptions().dtype(torch::kFloat64));
  const auto g = torch::exp(-(i - static_cast<double>(tile - 1) / 2).pow(2) / (2 * sigma * sigma));
  const auto map = g.view({tile, 1, 1}) * g.view({1, tile, 1}) * g.view({1, 1, tile});
  return (map / map.max()).clamp_min(1e-4).to(device, torch::kFloat32);
}

SlidingWindowResult sliding_window(const torch::Tensor& volume_in, const TileFunction& fn,
                                   const SlidingWindowOptions& options) {
  const TilePlan plan = plan_tiles(volume_in, options);
  const torch::Tensor volume = volume_in.to(torch::kFloat32);
  const torch::Tensor x = pad_to_tile(volume, plan);
  const int64_t t = plan.tile;
  const auto weight = importance_map(t, options.sigma_scale, x.device());
  auto acc = torch::zeros_like(x);
  auto weights = torch::zeros_like(x);
  torch::Tensor variance = options.uncertainty ? torch::zeros_like(x) : torch::Tensor();

  SlidingWindowResult result;
  result.tiles_run = static_cast<int64_t>(plan.run.size());
  result.tiles_skipped = static_cast<int64_t>(plan.skipped.size());
  // A background tile is its own prediction, so it blends smoothly into its run neighbours.
  for (const Index3& s : plan.skipped) {
    tile_view(acc, s, t).add_(weight * tile_view(x, s, t));
    tile_view(weights, s, t).add_(weight);
  }

  const auto predict = [&](const torch::Tensor& tiles) {
    torch::Tensor out = fn(tiles);
    UNIPET_CHECK(out.sizes() == tiles.sizes(),
                 "sliding window: the network returned " << out.sizes() << " for tiles " << tiles.sizes());
    result.evaluations += tiles.size(0);
    return out.to(x.device(), torch::kFloat32);
  };
  // The 8 flips: every subset of the three spatial axes of [N, 1, t, t, t].
  std::vector<std::vector<int64_t>> flips{{}};
  if (options.tta) flips = {{}, {2}, {3}, {4}, {2, 3}, {2, 4}, {3, 4}, {2, 3, 4}};

  torch::NoGradGuard no_grad;
  const int64_t total = result.tiles_run;
  if (options.progress) options.progress(0, total);
  for (int64_t first = 0; first < total; first += options.batch) {
    const int64_t count = std::min(options.batch, total - first);
    std::vector<torch::Tensor> views;
    for (int64_t i = first; i < first + count; ++i) views.push_back(tile_view(x, plan.run[i], t));
    const auto tiles = torch::stack(views).unsqueeze(1);
    std::vector<torch::Tensor> predictions;
    for (const auto& dims : flips)
      predictions.push_back(dims.empty() ? predict(tiles) : predict(tiles.flip(dims)).flip(dims));
    torch::Tensor mean = predictions.front().squeeze(1), spread_sq;
    if (predictions.size() > 1) {
      const auto stacked = torch::stack(predictions);  // [flips, N, 1, t, t, t]
      mean = stacked.mean(0).squeeze(1);
      if (options.uncertainty) spread_sq = (stacked - stacked.mean(0, true)).pow(2).mean(0).squeeze(1);
    }
    for (int64_t i = 0; i < count; ++i) {
      const Index3& s = plan.run[first + i];
      tile_view(acc, s, t).add_(weight * mean[i]);
      tile_view(weights, s, t).add_(weight);
      if (options.uncertainty) tile_view(variance, s, t).add_(weight * spread_sq[i]);
    }
    if (options.progress) options.progress(first + count, total);
  }

  const auto covered = weights > 0;
  const auto safe_weights = weights.clamp_min(1e-30f);
  auto crop = [&](const torch::Tensor& v) {
    return v.narrow(0, plan.pad_before[0], plan.size[0])
        .narrow(1, plan.pad_before[1], plan.size[1])
        .narrow(2, plan.pad_before[2], plan.size[2])
        .contiguous();
  };
  result.image = crop(torch::where(covered, acc / safe_weights, x));
  if (options.uncertainty) result.uncertainty = crop((variance / safe_weights).sqrt());
  return result;
}

}  // namespace unipet::infer
