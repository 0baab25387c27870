#include "region_mask.h"

#include "unipet/core/error.h"

namespace unipet::eval::detail {
namespace {

// Sizes with leading unit dimensions removed, so [1, 1, D, H, W] and [D, H, W] compare equal.
std::vector<int64_t> volume_sizes(const torch::Tensor& t) {
  auto sizes = t.sizes().vec();
  while (sizes.size() > 3 && sizes.front() == 1) sizes.erase(sizes.begin());
  return sizes;
}

}  // namespace

torch::Tensor region_mask(const torch::Tensor& mask, const torch::Tensor& like, const std::string& what) {
  if (!mask.defined()) return torch::ones(like.sizes(), like.options().dtype(torch::kBool));
  UNIPET_CHECK(volume_sizes(mask) == volume_sizes(like),
               what << ": " << mask.sizes() << " and the image " << like.sizes() << " differ in shape");
  auto m = mask.to(like.device());
  if (m.scalar_type() != torch::kBool) {
    // A soft (probability) map passed by mistake would silently weight nothing; refuse it.
    UNIPET_CHECK(((m == 0) | (m == 1)).all().item<bool>(),
                 what << ": must be bool or hold only 0 and 1, got values in [" << m.min().item<double>()
                      << ", " << m.max().item<double>() << "]");
    m = m != 0;
  }
  UNIPET_CHECK(m.any().item<bool>(), what << ": selects no voxel (the region is empty)");
  return m.reshape(like.sizes());
}

}  // namespace unipet::eval::detail
