#include "unipet/eval/metrics.h"

#include <cmath>
#include <limits>

#include "unipet/core/error.h"

namespace unipet::eval {
namespace {

// [1, 1, D, H, W] float64 view of a volume with optional leading unit dimensions.
torch::Tensor as_volume(const torch::Tensor& t, const char* what) {
  UNIPET_CHECK(t.dim() >= 3, what << " must have at least 3 dimensions, got " << t.sizes());
  for (int64_t i = 0; i + 3 < t.dim(); ++i) {
    UNIPET_CHECK(t.size(i) == 1, what << " must be a single volume, got " << t.sizes());
  }
  return t.to(torch::kFloat64).reshape({1, 1, t.size(-3), t.size(-2), t.size(-1)});
}

void check_pair(const torch::Tensor& reference, const torch::Tensor& test, double data_range) {
  UNIPET_CHECK(reference.sizes() == test.sizes(),
               "metrics: reference " << reference.sizes() << " and test " << test.sizes() << " differ in shape");
  UNIPET_CHECK(std::isfinite(data_range) && data_range > 0, "metrics: data_range must be positive, got " << data_range);
}

// Separable Gaussian filter without padding: the output covers exactly the voxels whose window
// lies inside the image, which is the region skimage averages over.
torch::Tensor gaussian_valid(const torch::Tensor& x, const torch::Tensor& kernel) {
  const int64_t k = kernel.numel();
  auto y = torch::conv3d(x, kernel.view({1, 1, k, 1, 1}));
  y = torch::conv3d(y, kernel.view({1, 1, 1, k, 1}));
  return torch::conv3d(y, kernel.view({1, 1, 1, 1, k}));
}

}  // namespace

double psnr(const torch::Tensor& reference, const torch::Tensor& test, double data_range) {
  check_pair(reference, test, data_range);
  const double mse = (reference.to(torch::kFloat64) - test.to(torch::kFloat64)).pow(2).mean().item<double>();
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(data_range * data_range / mse);
}

double ssim(const torch::Tensor& reference, const torch::Tensor& test, double data_range,
            const SsimOptions& options) {
  check_pair(reference, test, data_range);
  UNIPET_CHECK(options.sigma() > 0 && options.truncate() > 0, "ssim: sigma and truncate must be positive");
  auto x = as_volume(reference, "ssim reference");
  auto y = as_volume(test, "ssim test");
  const int64_t radius = static_cast<int64_t>(options.truncate() * options.sigma() + 0.5);
  for (int64_t d = 2; d < 5; ++d) {
    UNIPET_CHECK(x.size(d) > 2 * radius, "ssim: every side must exceed the " << 2 * radius + 1
                                                                            << "-voxel window, got " << reference.sizes());
  }
  auto offsets = torch::arange(-radius, radius + 1, x.options());
  auto kernel = torch::exp(-0.5 * offsets.pow(2) / (options.sigma() * options.sigma()));
  kernel = kernel / kernel.sum();
  auto ux = gaussian_valid(x, kernel), uy = gaussian_valid(y, kernel);
  auto vx = gaussian_valid(x * x, kernel) - ux * ux;
  auto vy = gaussian_valid(y * y, kernel) - uy * uy;
  auto vxy = gaussian_valid(x * y, kernel) - ux * uy;
  const double c1 = std::pow(options.k1() * data_range, 2), c2 = std::pow(options.k2() * data_range, 2);
  auto s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  return s.mean().item<double>();
}

}  // namespace unipet::eval
