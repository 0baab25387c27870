#include "unipet/sim/dose.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <ATen/CPUGeneratorImpl.h>

#include "unipet/core/error.h"

namespace unipet::sim {

namespace {

at::Generator seeded(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

}  // namespace

torch::Tensor poisson_counts(const torch::Tensor& mean, uint64_t seed, int64_t first_index) {
  seed += static_cast<uint64_t>(first_index) * 0x9E3779B97F4A7C15ull;
  UNIPET_CHECK(mean.defined() && mean.is_floating_point(),
               "poisson_counts: expected a floating-point mean");
  const torch::Tensor m = mean.to(torch::kCPU, torch::kFloat64).contiguous();
  UNIPET_CHECK(torch::isfinite(m).all().item<bool>() && (m >= 0).all().item<bool>(),
               "poisson_counts: the mean must be finite and >= 0");
  // ATen's CPU Poisson sampler is serial, so one seeded generator gives reproducible draws.
  return at::poisson(m, seeded(seed)).to(mean.device(), torch::kFloat32);
}

torch::Tensor thin_counts(const torch::Tensor& counts, double keep, uint64_t seed, int64_t first_index) {
  seed += static_cast<uint64_t>(first_index) * 0x9E3779B97F4A7C15ull;
  UNIPET_CHECK(keep >= 0 && keep <= 1, "thin_counts: keep probability must be in [0, 1], got " << keep);
  UNIPET_CHECK(counts.defined() && counts.is_floating_point(),
               "thin_counts: expected floating-point counts");
  const torch::Tensor n = counts.to(torch::kCPU, torch::kFloat64).contiguous();
  UNIPET_CHECK((n >= 0).all().item<bool>() && torch::equal(n, n.round()),
               "thin_counts: counts must be whole numbers >= 0");
  // at::binomial draws exactly (inversion for small n * p, BTRS rejection otherwise).
  torch::Tensor kept = at::binomial(n, torch::full_like(n, keep), seeded(seed));
  return kept.to(counts.device(), torch::kFloat32);
}

std::map<double, torch::Tensor> thin_nested(const torch::Tensor& full_counts,
                                            const std::vector<double>& drfs, uint64_t seed) {
  std::set<double> ordered;
  for (double drf : drfs) {
    UNIPET_CHECK(std::isfinite(drf) && drf > 1, "thin_nested: a DRF must be > 1, got " << drf);
    ordered.insert(drf);
  }
  std::map<double, torch::Tensor> result;
  torch::Tensor previous = full_counts;
  double previous_drf = 1.0;
  uint64_t stream = 0;
  for (double drf : ordered) {
    // Keeping previous_drf / drf of the previous DRF's counts keeps 1 / drf of the full counts.
    previous = thin_counts(previous, previous_drf / drf, seed + 0x9E3779B97F4A7C15ull * ++stream);
    previous_drf = drf;
    result[drf] = previous;
  }
  return result;
}

}  // namespace unipet::sim
