#include "unipet/core/gaussian_filter.h"

#include <cmath>
#include <vector>

#include "unipet/core/error.h"

namespace unipet {
namespace {

// Source index for every position of an axis padded by `radius` on each side, reflecting about
// the outer voxel edges (a b c | c b a); periodic in 2n so a radius beyond the size still works.
torch::Tensor reflected_indices(int64_t size, int64_t radius) {
  auto i = torch::arange(-radius, size + radius, torch::kInt64);
  auto j = torch::remainder(i, 2 * size);
  return torch::where(j >= size, 2 * size - 1 - j, j);
}

// One axis of the separable filter as a weighted sum of shifted copies: unlike conv3d with a
// thin kernel (im2col copies the volume once per tap on the CPU) it needs two extra volumes of
// memory whatever the radius. float32 accumulation is enough here: a sum of at most 2r+1
// positive weights that add to 1 errs by ~1e-6 relative, far under any PET image's noise.
torch::Tensor filter_axis(const torch::Tensor& x, int64_t axis, double sigma_voxels) {
  const auto radius = static_cast<int64_t>(std::lround(3.0 * sigma_voxels));
  if (radius == 0) return x;
  std::vector<double> weights(static_cast<size_t>(2 * radius + 1));
  double total = 0;
  for (int64_t k = -radius; k <= radius; ++k) {
    const double w = std::exp(-0.5 * static_cast<double>(k * k) / (sigma_voxels * sigma_voxels));
    weights[static_cast<size_t>(k + radius)] = w;
    total += w;
  }
  const int64_t size = x.size(axis);
  auto padded = x.index_select(axis, reflected_indices(size, radius).to(x.device()));
  auto y = torch::zeros_like(x);
  for (size_t k = 0; k < weights.size(); ++k) {
    y.add_(padded.narrow(axis, static_cast<int64_t>(k), size), weights[k] / total);
  }
  return y;
}

}  // namespace

Volume gaussian_filter(const Volume& image, double fwhm_mm) {
  image.validate("gaussian_filter image");
  UNIPET_CHECK(std::isfinite(fwhm_mm) && fwhm_mm >= 0,
               "gaussian_filter: fwhm must be >= 0 mm, got " << fwhm_mm);
  if (fwhm_mm == 0) return with_geometry_of(image, image.data.clone());
  const double sigma_mm = fwhm_mm / (2.0 * std::sqrt(2.0 * std::log(2.0)));
  // spacing is (x, y, z) = (W, H, D): tensor axis a has spacing[2 - a].
  auto y = image.data;
  for (int64_t axis = 0; axis < 3; ++axis) y = filter_axis(y, axis, sigma_mm / image.spacing[2 - axis]);
  // A width under every spacing leaves all axes untouched: still hand back a copy, never an alias.
  return with_geometry_of(image, y.is_same(image.data) ? y.clone() : y.contiguous());
}

}  // namespace unipet
