#include "lesion_scores.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "unipet/core/error.h"
#include "unipet/eval/lesions.h"

namespace unipet::eval::detail {

std::vector<LesionRegion> lesion_regions(const Volume& labels) {
  std::vector<LesionRegion> regions;
  const auto values = std::get<0>(torch::_unique(labels.data.flatten(), true));
  for (int64_t i = 0; i < values.numel(); ++i) {
    const double label = values[i].item<double>();
    if (label <= 0) continue;
    const auto in = labels.data == label;
    // Dilate within the lesion's bounding box (plus the shell) rather than over the volume.
    const auto where = torch::nonzero(in);
    const auto lo = std::get<0>(where.min(0)), hi = std::get<0>(where.max(0));
    std::array<int64_t, 3> from{}, size{};
    for (int64_t a = 0; a < 3; ++a) {
      from[a] = std::max<int64_t>(0, lo[a].item<int64_t>() - 4);
      size[a] = std::min<int64_t>(labels.data.size(a), hi[a].item<int64_t>() + 5) - from[a];
    }
    auto crop = [&](const torch::Tensor& t) {
      return t.narrow(0, from[0], size[0]).narrow(1, from[1], size[1]).narrow(2, from[2], size[2]);
    };
    const auto box = crop(in).to(torch::kFloat32).unsqueeze(0).unsqueeze(0);
    auto dilate = [&](int64_t r) { return torch::max_pool3d(box, 2 * r + 1, 1, r).squeeze(0).squeeze(0) > 0; };
    auto shell_box = dilate(4) & ~dilate(1) & (crop(labels.data) == 0);
    auto shell = torch::zeros_like(in);
    crop(shell).copy_(shell_box);
    regions.push_back({static_cast<int64_t>(label), torch::nonzero(in.flatten()).flatten(),
                       torch::nonzero(shell.flatten()).flatten()});
  }
  return regions;
}

namespace {

std::pair<double, double> region_means(const torch::Tensor& image, const LesionRegion& r) {
  if (r.shell.numel() == 0) return {kNaN, kNaN};
  const auto flat = image.flatten();
  return {flat.index_select(0, r.lesion).mean().item<double>(), flat.index_select(0, r.shell).mean().item<double>()};
}

}  // namespace

std::vector<LesionScore> score_lesions(const Volume& pred, const Volume& full, const Volume* truth, const Volume& labels,
                                       const std::vector<LesionRegion>& regions) {
  const auto p = lesion_stats(pred, labels), f = lesion_stats(full, labels);
  std::vector<LesionStats> t;
  if (truth) t = lesion_stats(*truth, labels);
  std::vector<LesionScore> out;
  for (size_t i = 0; i < p.size(); ++i) {
    LesionScore l;
    l.label = p[i].label;
    l.volume_ml = p[i].volume_ml;
    l.suv_max = p[i].suv_max, l.suv_mean = p[i].suv_mean, l.suv_peak = p[i].suv_peak;
    l.full_max = f[i].suv_max, l.full_mean = f[i].suv_mean, l.full_peak = f[i].suv_peak;
    if (truth) l.true_max = t[i].suv_max, l.true_mean = t[i].suv_mean, l.true_peak = t[i].suv_peak;
    const auto [pl, pb] = region_means(pred.data, regions[i]);
    const auto [rl, rb] = region_means((truth ? *truth : full).data, regions[i]);
    try {
      l.contrast_recovery = contrast_recovery(pl, pb, rl, rb);
    } catch (const Error&) {
      l.contrast_recovery = kNaN;  // no contrast in the reference, or no background shell
    }
    out.push_back(l);
  }
  return out;
}

}  // namespace unipet::eval::detail
