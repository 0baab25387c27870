#pragma once
/// Ordered-subsets expectation maximisation, TOF or not, with a given system model.
///
///   unipet::sim::Osem osem(projector, multiplicative, {scatter, randoms}, {});
///   torch::Tensor full = osem.reconstruct(full_counts, 1.0);        // Bq/ml, [D, H, W]
///   torch::Tensor low = osem.reconstruct(low_counts[10.0], 1.0 / 10.0, {}, randoms_estimate_10);
///
/// Model: expected counts = f * (multiplicative * P G x + background), where f is the dose
/// fraction of the data (1 / DRF), so every DRF reconstructs to the same Bq/ml scale. With a TOF
/// projector the counts are [D, angles, bins, tof_bins]; the multiplicative factors (normalisation,
/// attenuation) are the same for every TOF bin of a line, randoms spread evenly over the TOF bins
/// and scatter follows its own TOF profile (evenly when none is given). Subsets are interleaved
/// angles (angle a belongs to subset a mod subsets). The update
///   x <- x / (P_s^T m_s) * P_s^T (m_s * y_s / (m_s * P_s x + b_s))
/// keeps x >= 0. The sensitivity images P_s^T m_s (TOF bins summed, so computed without TOF) are
/// shared by every DRF; they are cached while they fit in `max_sensitivity_cache_mb` and
/// recomputed per update otherwise, which bounds the memory of clinical-size reconstructions. A
/// Gaussian post-filter (FWHM in mm, 0 = none, mirrored at the volume's edges as scanners do) is
/// applied to the final image.
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
  double max_sensitivity_cache_mb = 1024;  ///< above this, sensitivities are recomputed per update

  /// Throws unipet::Error naming the first invalid option.
  void validate() const;
};

/// The additive counts of a full-dose acquisition, [D, angles, bins] each (TOF bins summed).
struct Background {
  torch::Tensor scatter;              ///< expected scatter counts
  torch::Tensor randoms;              ///< expected randoms counts (undefined = none)
  torch::Tensor scatter_tof_profile;  ///< TOF only: [D, angles, bins, tof_bins], summing to 1
                                      ///< over the TOF bins (undefined = even)
};

/// Poisson log-likelihood sum(y log(ybar) - ybar), without the data-only term log(y!).
double poisson_log_likelihood(const torch::Tensor& counts, const torch::Tensor& expected);

class Osem {
 public:
  /// `multiplicative` is [D, angles, bins] for full-dose data (see scanner.h).
  Osem(const Projector& projector, torch::Tensor multiplicative, Background background,
       OsemOptions options);
  /// A background without randoms: `background` is all scatter (or all of it, TOF-even).
  Osem(const Projector& projector, torch::Tensor multiplicative, torch::Tensor background,
       OsemOptions options);

  /// Reconstructs `counts` (the projector's sinogram shape) acquired at `dose_fraction` (1 / DRF)
  /// of the model's dose. `on_iteration(iteration, image)` is called after each full iteration
  /// with the unfiltered image. `randoms`, when given, replaces the model's randoms estimate for
  /// this acquisition (full-dose units, [D, angles, bins]): a delayed-window estimate is noisy
  /// and differs per dose level. Returns the post-filtered image in the units of the model.
  torch::Tensor reconstruct(
      const torch::Tensor& counts, double dose_fraction,
      const std::function<void(int64_t, const torch::Tensor&)>& on_iteration = {},
      const torch::Tensor& randoms = {}) const;

  /// dose_fraction * (multiplicative * P G image + background): the data the model expects.
  torch::Tensor expected_counts(const torch::Tensor& image, double dose_fraction) const;

  const OsemOptions& options() const { return options_; }
  /// Whether the sensitivity images are kept (false: recomputed per update).
  bool caches_sensitivity() const { return !sensitivity_.empty(); }

 private:
  torch::Tensor background_for(const torch::Tensor& index, const torch::Tensor& randoms) const;
  torch::Tensor sensitivity(size_t subset) const;
  torch::Tensor compute_sensitivity(size_t subset) const;

  const Projector& projector_;
  torch::Tensor multiplicative_;
  Background background_;
  OsemOptions options_;
  std::vector<std::vector<int64_t>> subset_angles_;
  std::vector<torch::Tensor> subset_index_;
  std::vector<torch::Tensor> sensitivity_;  // per subset, [D, H, W]; empty when not cached
  torch::Tensor support_;                   // voxels every subset sees
};

}  // namespace unipet::sim
