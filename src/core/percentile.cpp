#include "unipet/core/percentile.h"

#include <algorithm>
#include <cmath>

#include "unipet/core/error.h"

namespace unipet {

double percentile(const torch::Tensor& values, double percent) {
  const int64_t n = values.numel();
  UNIPET_CHECK(n > 0, "percentile of no values");
  UNIPET_CHECK(percent >= 0 && percent <= 100, "percentile " << percent << " is outside [0, 100]");
  const auto k = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(percent / 100.0 * static_cast<double>(n))), 1, n);
  return std::get<0>(values.detach().reshape({-1}).to(torch::kCPU).kthvalue(k)).item<double>();
}

}  // namespace unipet
