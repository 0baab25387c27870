#pragma once
/// Order statistics of a whole tensor. kthvalue on the CPU rather than torch::quantile: quantile
/// refuses more than 2^24 elements (a whole-body volume has more), and kthvalue is not
/// implemented on every device, so the values travel to the CPU once.
#include <torch/torch.h>

namespace unipet {

/// The nearest-rank percentile of all the values: the ⌈p/100 · n⌉-th smallest (the smallest for
/// p = 0). Throws unipet::Error for an empty tensor or p outside [0, 100].
double percentile(const torch::Tensor& values, double percent);

/// percentile(values, 50).
inline double median(const torch::Tensor& values) { return percentile(values, 50.0); }

}  // namespace unipet
