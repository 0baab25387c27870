#include "unipet/core/body_mask.h"

#include <cmath>
#include <vector>

#include "unipet/core/error.h"
#include "unipet/core/percentile.h"

namespace unipet {
namespace {

// Fills, in place, each slice's regions of non-body voxels that do not reach the slice's edge.
void fill_holes_per_slice(std::vector<uint8_t>& body, int64_t depth, int64_t height, int64_t width) {
  std::vector<uint8_t> outside(static_cast<size_t>(height * width));
  std::vector<int64_t> stack;
  for (int64_t d = 0; d < depth; ++d) {
    uint8_t* slice = body.data() + d * height * width;
    std::fill(outside.begin(), outside.end(), 0);
    auto push = [&](int64_t h, int64_t w) {
      const int64_t i = h * width + w;
      if (h < 0 || h >= height || w < 0 || w >= width || slice[i] || outside[i]) return;
      outside[i] = 1;
      stack.push_back(i);
    };
    for (int64_t h = 0; h < height; ++h) {
      push(h, 0);
      push(h, width - 1);
    }
    for (int64_t w = 0; w < width; ++w) {
      push(0, w);
      push(height - 1, w);
    }
    while (!stack.empty()) {
      const int64_t i = stack.back();
      stack.pop_back();
      const int64_t h = i / width, w = i % width;
      push(h - 1, w);
      push(h + 1, w);
      push(h, w - 1);
      push(h, w + 1);
    }
    for (int64_t i = 0; i < height * width; ++i) slice[i] = !outside[i];
  }
}

}  // namespace

torch::Tensor body_mask(const torch::Tensor& full_dose, double fraction) {
  UNIPET_CHECK(fraction > 0 && fraction < 1, "body_mask: fraction must be in (0, 1), got " << fraction);
  UNIPET_CHECK(full_dose.defined(), "body_mask: the full-dose image is undefined");
  UNIPET_CHECK(full_dose.dim() >= 3 && full_dose.numel() > 0,
               "body_mask: expected a [D, H, W] volume, got " << full_dose.sizes());
  const int64_t depth = full_dose.size(-3), height = full_dose.size(-2), width = full_dose.size(-1);
  UNIPET_CHECK(full_dose.numel() == depth * height * width,
               "body_mask: expected a single volume, got " << full_dose.sizes());
  auto x = full_dose.to(torch::kFloat32).reshape({1, 1, depth, height, width});
  auto smooth = torch::avg_pool3d(x, 3, 1, 1, /*ceil_mode=*/false, /*count_include_pad=*/false);
  // The typical tissue level: the median of the voxels above the volume's mean. Air is below the
  // mean, and hot organs (a bladder at 60 SUV, the brain, the heart) are a small share of the
  // voxels above it, so they cannot set the scale (a high percentile of the whole volume can: in
  // a whole-body study the bladder alone is more than 0.1% of the voxels).
  const double mean = x.mean().item<double>();
  UNIPET_CHECK(mean > 0, "body_mask: the full-dose image's mean is " << mean << ", so no body can be found");
  const double tissue = percentile(x.masked_select(x > mean), 50.0);
  const double threshold = fraction * tissue;
  auto above = ((x > threshold) & (smooth > threshold)).reshape({depth, height, width});
  above = above.to(torch::kCPU, torch::kUInt8).contiguous();
  std::vector<uint8_t> body(above.data_ptr<uint8_t>(), above.data_ptr<uint8_t>() + above.numel());
  fill_holes_per_slice(body, depth, height, width);
  auto filled = torch::from_blob(body.data(), {depth, height, width}, torch::kUInt8).to(torch::kBool);
  return filled.to(full_dose.device());
}

}  // namespace unipet
