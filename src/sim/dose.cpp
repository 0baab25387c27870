#include "unipet/sim/dose.h"

#include <cmath>
#include <set>

#include "unipet/core/error.h"
#include "unipet/sim/random.h"

namespace unipet::sim {

// The checks (whole, finite, non-negative) are binomial_tensor's and poisson_tensor's.
torch::Tensor poisson_counts(const torch::Tensor& mean, uint64_t seed, int64_t first_index) {
  return poisson_tensor(mean, seed, first_index);
}

torch::Tensor thin_counts(const torch::Tensor& counts, double keep, uint64_t seed, int64_t first_index) {
  return binomial_tensor(counts, keep, seed, first_index);
}

torch::Tensor thin_to_drf(const torch::Tensor& counts_at_previous, double previous_drf, double drf, uint64_t seed,
                          int64_t first_index) {
  UNIPET_CHECK(std::isfinite(previous_drf) && std::isfinite(drf) && previous_drf >= 1 && drf > previous_drf,
               "thin_to_drf: expected 1 <= previous DRF < DRF, got " << previous_drf << " and " << drf);
  return thin_counts(counts_at_previous, previous_drf / drf, seed, first_index);
}

std::map<double, torch::Tensor> thin_nested(const torch::Tensor& full_counts, const std::vector<double>& drfs,
                                            uint64_t seed, int64_t first_index) {
  std::set<double> ordered;
  for (double drf : drfs) {
    UNIPET_CHECK(std::isfinite(drf) && drf > 1, "thin_nested: a DRF must be > 1, got " << drf);
    ordered.insert(drf);
  }
  std::map<double, torch::Tensor> result;
  torch::Tensor previous = full_counts;
  double previous_drf = 1.0;
  uint64_t step = 0;
  for (double drf : ordered) {
    // Each step draws from its own stream, so every DRF's bins are independent of the others'.
    previous = thin_to_drf(previous, previous_drf, drf, stream_seed(seed, ++step), first_index);
    previous_drf = drf;
    result[drf] = previous;
  }
  return result;
}

}  // namespace unipet::sim
