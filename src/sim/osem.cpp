#include "unipet/sim/osem.h"

#include <cmath>

#include "unipet/core/error.h"

namespace unipet::sim {

namespace {

// Below this, an expected count is treated as zero (guards 0 / 0 outside the object).
constexpr double kTiny = 1e-12;

}  // namespace

void OsemOptions::validate() const {
  UNIPET_CHECK(iterations >= 1, "--iterations must be >= 1, got " << iterations);
  UNIPET_CHECK(subsets >= 1, "--subsets must be >= 1, got " << subsets);
  UNIPET_CHECK(std::isfinite(post_filter_fwhm_mm) && post_filter_fwhm_mm >= 0,
               "--post-filter must be >= 0 mm, got " << post_filter_fwhm_mm);
}

double poisson_log_likelihood(const torch::Tensor& counts, const torch::Tensor& expected) {
  const torch::Tensor y = counts.to(torch::kFloat64), ybar = expected.to(torch::kFloat64);
  return (y * torch::log(ybar.clamp_min(kTiny)) - ybar).sum().item<double>();
}

Osem::Osem(const Projector& projector, torch::Tensor multiplicative, torch::Tensor background,
           OsemOptions options)
    : projector_(projector),
      multiplicative_(std::move(multiplicative)),
      background_(std::move(background)),
      options_(options) {
  options_.validate();
  const int64_t A = projector.angles(), B = projector.bins();
  UNIPET_CHECK(options_.subsets <= A,
               "--subsets " << options_.subsets << ": more subsets than the " << A << " angles");
  UNIPET_CHECK(multiplicative_.dim() == 3 && multiplicative_.size(1) == A &&
                   multiplicative_.size(2) == B,
               "Osem: multiplicative factors must be [D, " << A << ", " << B << "], got "
                                                           << multiplicative_.sizes());
  UNIPET_CHECK(background_.sizes() == multiplicative_.sizes(),
               "Osem: background " << background_.sizes() << " does not match multiplicative "
                                   << multiplicative_.sizes());
  multiplicative_ = multiplicative_.to(torch::kFloat32).contiguous();
  background_ = background_.to(torch::kFloat32).contiguous();
  for (int64_t s = 0; s < options_.subsets; ++s) {
    std::vector<int64_t> angles;
    for (int64_t a = s; a < A; a += options_.subsets) angles.push_back(a);
    torch::Tensor index = torch::tensor(angles, torch::kLong);
    sensitivity_.push_back(projector.back(multiplicative_.index_select(1, index), angles));
    subset_angles_.push_back(std::move(angles));
    subset_index_.push_back(index);
  }
  // Voxels some subset cannot see would be divided by zero; they are kept at zero instead.
  support_ = torch::ones_like(sensitivity_[0], torch::kBool);
  for (const torch::Tensor& sens : sensitivity_) support_ &= sens > sens.max() * 1e-6;
}

torch::Tensor Osem::expected_counts(const torch::Tensor& image, double dose_fraction) const {
  return dose_fraction * (multiplicative_ * projector_.forward(image) + background_);
}

torch::Tensor Osem::reconstruct(
    const torch::Tensor& counts, double dose_fraction,
    const std::function<void(int64_t, const torch::Tensor&)>& on_iteration) const {
  UNIPET_CHECK(counts.sizes() == multiplicative_.sizes(),
               "Osem: counts " << counts.sizes() << " do not match the model "
                               << multiplicative_.sizes());
  UNIPET_CHECK(dose_fraction > 0 && dose_fraction <= 1,
               "Osem: dose fraction must be in (0, 1], got " << dose_fraction);
  const torch::Tensor y = counts.to(torch::kCPU, torch::kFloat32).contiguous();
  UNIPET_CHECK((y >= 0).all().item<bool>(), "Osem: counts must be >= 0");

  // Start from a uniform image whose expected total matches the data's trues.
  const torch::Tensor ones = support_.to(torch::kFloat32);
  const double model_total =
      (multiplicative_ * projector_.forward(ones)).to(torch::kFloat64).sum().item<double>();
  const double trues = y.to(torch::kFloat64).sum().item<double>() / dose_fraction -
                       background_.to(torch::kFloat64).sum().item<double>();
  const double start = std::max(trues, 1e-3 * model_total) / model_total;
  torch::Tensor x = ones * start;

  for (int64_t it = 1; it <= options_.iterations; ++it) {
    for (size_t s = 0; s < subset_angles_.size(); ++s) {
      const torch::Tensor& index = subset_index_[s];
      const torch::Tensor m = multiplicative_.index_select(1, index);
      const torch::Tensor b = background_.index_select(1, index);
      const torch::Tensor ys = y.index_select(1, index);
      // EM with system matrix f * m * P G: f cancels between P^T(f m y / ybar) and P^T(f m).
      const torch::Tensor ybar =
          (dose_fraction * (m * projector_.forward(x, subset_angles_[s]) + b)).clamp_min(kTiny);
      const torch::Tensor correction = projector_.back(m * ys / ybar, subset_angles_[s]);
      x = torch::where(support_,
                       x * correction / sensitivity_[s].clamp_min(kTiny),
                       torch::zeros_like(x));
    }
    if (on_iteration) on_iteration(it, x);
  }
  const ProjectorOptions& p = projector_.options();
  const double f = options_.post_filter_fwhm_mm;
  return gaussian_filter(x, f, f, f, p.voxel_x_mm, p.voxel_y_mm, p.voxel_z_mm)
      .to(counts.device());
}

}  // namespace unipet::sim
