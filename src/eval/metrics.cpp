#include "unipet/eval/metrics.h"

#include <cmath>
#include <limits>

#include "region_mask.h"
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

void check_shapes(const torch::Tensor& reference, const torch::Tensor& test) {
  UNIPET_CHECK(reference.defined() && test.defined(), "metrics: reference or test image is undefined");
  UNIPET_CHECK(reference.sizes() == test.sizes(), "metrics: reference " << reference.sizes() << " and test "
                                                                        << test.sizes()
                                                                        << " differ in shape");
}

void check_pair(const torch::Tensor& reference, const torch::Tensor& test, double data_range) {
  check_shapes(reference, test);
  UNIPET_CHECK(std::isfinite(data_range) && data_range > 0,
               "metrics: data_range must be positive, got " << data_range);
}

double psnr_from_mse(double mse, double data_range) {
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(data_range * data_range / mse);
}

double nrmse_from_norms(double error_norm, double reference_norm) {
  UNIPET_CHECK(reference_norm > 0,
               "nrmse: the reference image is zero (in the region), so the error cannot be normalised");
  return error_norm / reference_norm;
}

// Separable Gaussian filter without padding: the output covers exactly the voxels whose window
// lies inside the image, which is the region skimage averages over.
torch::Tensor gaussian_valid(const torch::Tensor& x, const torch::Tensor& kernel) {
  const int64_t k = kernel.numel();
  auto y = torch::conv3d(x, kernel.view({1, 1, k, 1, 1}));
  y = torch::conv3d(y, kernel.view({1, 1, 1, k, 1}));
  return torch::conv3d(y, kernel.view({1, 1, 1, 1, k}));
}

// Per-voxel SSIM over the valid region, [1, 1, D - 2r, H - 2r, W - 2r], and the radius r that
// crops it; ssim and ssim_in differ only in which of these voxels they average.
struct SsimMap {
  torch::Tensor map;
  int64_t radius;
};

SsimMap ssim_map(const torch::Tensor& reference, const torch::Tensor& test, double data_range,
                 const SsimOptions& options) {
  check_pair(reference, test, data_range);
  UNIPET_CHECK(options.sigma() > 0 && options.truncate() > 0, "ssim: sigma and truncate must be positive");
  auto x = as_volume(reference, "ssim reference");
  auto y = as_volume(test, "ssim test");
  const int64_t radius = options.radius();
  for (int64_t d = 2; d < 5; ++d) {
    UNIPET_CHECK(x.size(d) > 2 * radius, "ssim: every side must exceed the "
                                             << 2 * radius + 1 << "-voxel window, got " << reference.sizes());
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
  return {s, radius};
}

}  // namespace

double psnr(const torch::Tensor& reference, const torch::Tensor& test, double data_range) {
  check_pair(reference, test, data_range);
  const double mse = (reference.to(torch::kFloat64) - test.to(torch::kFloat64)).pow(2).mean().item<double>();
  return psnr_from_mse(mse, data_range);
}

double nrmse(const torch::Tensor& reference, const torch::Tensor& test) {
  check_shapes(reference, test);
  auto r = reference.to(torch::kFloat64);
  return nrmse_from_norms((r - test.to(torch::kFloat64)).norm().item<double>(), r.norm().item<double>());
}

double ssim(const torch::Tensor& reference, const torch::Tensor& test, double data_range,
            const SsimOptions& options) {
  return ssim_map(reference, test, data_range, options).map.mean().item<double>();
}

double psnr_in(const torch::Tensor& reference, const torch::Tensor& test, const torch::Tensor& mask,
               double data_range) {
  check_pair(reference, test, data_range);
  auto m = detail::region_mask(mask, reference, "psnr_in mask");
  auto diff = (reference.to(torch::kFloat64) - test.to(torch::kFloat64)).masked_select(m);
  return psnr_from_mse(diff.pow(2).mean().item<double>(), data_range);
}

double nrmse_in(const torch::Tensor& reference, const torch::Tensor& test, const torch::Tensor& mask) {
  check_shapes(reference, test);
  auto m = detail::region_mask(mask, reference, "nrmse_in mask");
  auto r = reference.to(torch::kFloat64).masked_select(m);
  auto t = test.to(torch::kFloat64).masked_select(m);
  return nrmse_from_norms((r - t).norm().item<double>(), r.norm().item<double>());
}

double ssim_in(const torch::Tensor& reference, const torch::Tensor& test, const torch::Tensor& mask,
               double data_range, const SsimOptions& options) {
  auto [map, r] = ssim_map(reference, test, data_range, options);
  auto m = detail::region_mask(mask, reference, "ssim_in mask").reshape(as_volume(reference, "ssim_in").sizes());
  auto inside = m.slice(2, r, m.size(2) - r).slice(3, r, m.size(3) - r).slice(4, r, m.size(4) - r);
  UNIPET_CHECK(inside.any().item<bool>(), "ssim_in: no mask voxel lies at least "
                                              << r
                                              << " voxels (the SSIM window radius) from the volume faces");
  return map.masked_select(inside).mean().item<double>();
}

void check_scorable(const torch::Tensor& reference, const std::string& reference_name, const torch::Tensor& mask,
                    const std::string& mask_name, const SsimOptions& options) {
  UNIPET_CHECK(reference.defined() && reference.numel() > 0, reference_name << ": the image is empty");
  const auto x = as_volume(reference, reference_name.c_str());
  const int64_t window = 2 * options.radius() + 1;
  for (int64_t d = 2; d < 5; ++d)
    UNIPET_CHECK(x.size(d) >= window, reference_name << ": every side must be at least the SSIM window of " << window
                                                     << " voxels, got " << reference.sizes());
  const double peak = reference.max().to(torch::kFloat64).item<double>();
  UNIPET_CHECK(peak > 0, reference_name << ": no voxel is above 0 (maximum " << peak
                                        << "), so there is nothing to score against");
  const auto m = detail::region_mask(mask, reference, mask_name).reshape(x.sizes());
  const int64_t r = options.radius();
  UNIPET_CHECK(m.slice(2, r, m.size(2) - r).slice(3, r, m.size(3) - r).slice(4, r, m.size(4) - r).any().item<bool>(),
               mask_name << ": no voxel lies at least " << r << " voxels (the SSIM window radius) from the volume's faces");
  UNIPET_CHECK(x.masked_select(m).abs().max().item<double>() > 0,
               reference_name << ": every voxel inside " << mask_name << " is 0, so there is nothing to score against");
}

double psnr_ref_max(const torch::Tensor& reference, const torch::Tensor& test, const torch::Tensor& mask) {
  UNIPET_CHECK(reference.defined() && reference.numel() > 0, "psnr_ref_max: the reference image is empty");
  const double peak = reference.max().to(torch::kFloat64).item<double>();
  UNIPET_CHECK(peak > 0,
               "psnr_ref_max: the reference maximum " << peak << " is not positive, so it is no data range");
  return psnr_in(reference, test, mask, peak);
}

}  // namespace unipet::eval
