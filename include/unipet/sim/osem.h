#pragma once
/// Ordered-subsets expectation maximisation with the simulator's own system model.
///
///   unipet::sim::Osem osem(projector, model.multiplicative, model.background, {});
///   torch::Tensor full = osem.reconstruct(full_counts, 1.0);        // Bq/ml, [D, H, W]
///   torch::Tensor low = osem.reconstruct(low_counts[10.0], 1.0 / 10.0);
///
/// Model: expected counts = f * (multiplicative * P G x + background), where f is the dose
/// fraction of the data (1 / DRF), so every DRF reconstructs to the same Bq/ml scale. Subsets are
/// interleaved angles (angle a belongs to subset a mod subsets). The update
///   x <- x / (P_s^T m_s) * P_s^T (m_s * y_s / (m_s * P_s x + b_s))
/// keeps x >= 0. Sensitivity images P_s^T m_s are computed once per Osem object and shared by
/// every DRF. A Gaussian post-filter (FWHM in mm, 0 = none) is applied to the final image.
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "unipet/sim/projector.h"

namespace unipet::sim {

struct OsemOptions {
  int64_t iterations = 3;            ///< full passes over the data
  int64_t subsets = 16;              ///< subsets per iteration (<= angles)
  double post_filter_fwhm_mm = 5.0;  ///< 3D Gaussian post-filter (0 = none)

  /// Throws unipet::Error naming the first invalid option.
  void validate() const;
};

/// Poisson log-likelihood sum(y log(ybar) - ybar), without the data-only term log(y!).
double poisson_log_likelihood(const torch::Tensor& counts, const torch::Tensor& expected);

class Osem {
 public:
  /// `multiplicative` and `background` are [D, angles, bins] for full-dose data (see scanner.h).
  Osem(const Projector& projector, torch::Tensor multiplicative, torch::Tensor background,
       OsemOptions options);

  /// Reconstructs `counts` [D, angles, bins] acquired at `dose_fraction` (1 / DRF) of the model's
  /// dose. `on_iteration(iteration, image)` is called after each full iteration with the
  /// unfiltered image. Returns the post-filtered image in the units of the model (Bq/ml).
  torch::Tensor reconstruct(
      const torch::Tensor& counts, double dose_fraction,
      const std::function<void(int64_t, const torch::Tensor&)>& on_iteration = {}) const;

  /// dose_fraction * (multiplicative * P G image + background): the data the model expects.
  torch::Tensor expected_counts(const torch::Tensor& image, double dose_fraction) const;

  const OsemOptions& options() const { return options_; }

 private:
  const Projector& projector_;
  torch::Tensor multiplicative_, background_;
  OsemOptions options_;
  std::vector<std::vector<int64_t>> subset_angles_;
  std::vector<torch::Tensor> subset_index_;
  std::vector<torch::Tensor> sensitivity_;  // per subset, [D, H, W]
  torch::Tensor support_;                   // voxels every subset sees
};

}  // namespace unipet::sim
