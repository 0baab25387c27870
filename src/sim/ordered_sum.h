#pragma once
#include <torch/torch.h>

namespace unipet::sim::detail {

/// The sum of every element in memory order, in float64: unlike a LibTorch reduction it does not
/// depend on the thread count, and totals set gains and start images that must not either.
inline double ordered_sum(const torch::Tensor& t) {
  const torch::Tensor d = t.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* p = d.data_ptr<double>();
  double sum = 0;
  for (int64_t i = 0, n = d.numel(); i < n; ++i) sum += p[i];
  return sum;
}

}  // namespace unipet::sim::detail
