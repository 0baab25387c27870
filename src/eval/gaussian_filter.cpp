#include "unipet/eval/gaussian_filter.h"

#include <cmath>
#include <map>

#include "unipet/core/error.h"
#include "unipet/eval/metrics.h"

namespace unipet::eval {
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

FwhmSearch best_gaussian_fwhm(const std::vector<std::pair<Volume, Volume>>& lowdose_fulldose_pairs,
                              double data_range, double max_fwhm_mm,
                              const std::vector<torch::Tensor>& masks) {
  const auto& pairs = lowdose_fulldose_pairs;
  UNIPET_CHECK(!pairs.empty(), "best_gaussian_fwhm: no (low dose, full dose) pairs to tune on");
  UNIPET_CHECK(masks.empty() || masks.size() == pairs.size(),
               "best_gaussian_fwhm: " << masks.size() << " masks for " << pairs.size() << " pairs");
  UNIPET_CHECK(std::isfinite(data_range) && data_range > 0,
               "best_gaussian_fwhm: data_range must be positive, got " << data_range);
  UNIPET_CHECK(std::isfinite(max_fwhm_mm) && max_fwhm_mm > 0,
               "best_gaussian_fwhm: max_fwhm_mm must be positive, got " << max_fwhm_mm);
  for (size_t i = 0; i < pairs.size(); ++i) {
    pairs[i].second.validate("best_gaussian_fwhm full dose " + std::to_string(i));
    UNIPET_CHECK(same_geometry(pairs[i].first, pairs[i].second),
                 "best_gaussian_fwhm: pair " << i << ": low dose " << pairs[i].first.data.sizes()
                                             << " and full dose " << pairs[i].second.data.sizes()
                                             << " differ in geometry");
  }

  std::map<double, double> tried;
  auto mean_psnr = [&](double fwhm) {
    auto it = tried.find(fwhm);
    if (it != tried.end()) return it->second;
    double sum = 0;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const auto filtered = gaussian_filter(pairs[i].first, fwhm);
      sum += psnr_in(pairs[i].second.data, filtered.data, masks.empty() ? torch::Tensor() : masks[i],
                     data_range);
    }
    return tried[fwhm] = sum / static_cast<double>(pairs.size());
  };

  constexpr int kGridSteps = 15;
  const double step = max_fwhm_mm / kGridSteps;
  int best_step = 0;
  for (int k = 0; k <= kGridSteps; ++k) {
    if (mean_psnr(k * step) > mean_psnr(best_step * step)) best_step = k;
  }

  // Golden-section maximisation inside the cells either side of the best grid point, where the
  // PSNR curve (rising as noise is removed, falling as detail is lost) has its single peak.
  const double ratio = (std::sqrt(5.0) - 1.0) / 2.0;
  double a = std::max(0, best_step - 1) * step, b = std::min(kGridSteps, best_step + 1) * step;
  double c = b - ratio * (b - a), d = a + ratio * (b - a);
  while (b - a > 0.05) {
    if (mean_psnr(c) >= mean_psnr(d)) {
      b = d;
      d = c;
      c = b - ratio * (b - a);
    } else {
      a = c;
      c = d;
      d = a + ratio * (b - a);
    }
  }

  FwhmSearch result;
  result.tried.assign(tried.begin(), tried.end());
  result.best_fwhm_mm = result.tried.front().first;
  result.best_psnr = result.tried.front().second;
  for (const auto& [fwhm, value] : result.tried) {
    if (value > result.best_psnr) {
      result.best_fwhm_mm = fwhm;
      result.best_psnr = value;
    }
  }
  return result;
}

}  // namespace unipet::eval
