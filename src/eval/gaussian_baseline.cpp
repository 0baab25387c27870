#include "unipet/eval/gaussian_baseline.h"

#include <cmath>
#include <map>

#include "unipet/core/error.h"
#include "unipet/eval/metrics.h"

namespace unipet::eval {
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
