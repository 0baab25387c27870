#pragma once
#include <algorithm>

#include <torch/torch.h>

namespace unipet::sim::detail {

/// The sum of every element in memory order, in float64: unlike a LibTorch reduction it does not
/// depend on the thread count, and totals set gains and start images that must not either.
/// Converted to float64 a million elements at a time: a whole float64 copy of a clinical TOF
/// sinogram would be gigabytes.
inline double ordered_sum(const torch::Tensor& t) {
  const torch::Tensor flat = t.to(torch::kCPU).contiguous().view(-1);
  constexpr int64_t kChunk = int64_t{1} << 20;
  double sum = 0;
  for (int64_t start = 0, n = flat.numel(); start < n; start += kChunk) {
    const torch::Tensor d = flat.narrow(0, start, std::min(kChunk, n - start)).to(torch::kFloat64).contiguous();
    const double* p = d.data_ptr<double>();
    for (int64_t i = 0; i < d.numel(); ++i) sum += p[i];
  }
  return sum;
}

}  // namespace unipet::sim::detail
