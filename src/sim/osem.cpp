#include "unipet/sim/osem.h"

#include <cmath>

#include "unipet/core/error.h"
#include "ordered_sum.h"

namespace unipet::sim {

namespace {

// Below this, an expected count is treated as zero (guards 0 / 0 outside the object).
constexpr double kTiny = 1e-12;

double total(const torch::Tensor& t) { return detail::ordered_sum(t); }

}  // namespace

void OsemOptions::validate() const {
  UNIPET_CHECK(iterations >= 1, "--osem-iterations must be >= 1, got " << iterations);
  UNIPET_CHECK(subsets >= 1, "--osem-subsets must be >= 1, got " << subsets);
  // 50 mm is several times any clinical post-filter; a wider kernel only costs memory.
  UNIPET_CHECK(std::isfinite(post_filter_fwhm_mm) && post_filter_fwhm_mm >= 0 && post_filter_fwhm_mm <= 50,
               "--post-filter must be in [0, 50] mm, got " << post_filter_fwhm_mm);
  UNIPET_CHECK(std::isfinite(max_sensitivity_cache_mb) && max_sensitivity_cache_mb >= 0,
               "OsemOptions: the sensitivity cache limit must be >= 0 MB");
}

double poisson_log_likelihood(const torch::Tensor& counts, const torch::Tensor& expected) {
  const torch::Tensor y = counts.to(torch::kFloat64), ybar = expected.to(torch::kFloat64);
  return (y * torch::log(ybar.clamp_min(kTiny)) - ybar).sum().item<double>();
}

Osem::Osem(const Projector& projector, torch::Tensor multiplicative, torch::Tensor background,
           OsemOptions options)
    : Osem(projector, std::move(multiplicative), Background{std::move(background), {}, {}}, options) {}

Osem::Osem(const Projector& projector, torch::Tensor multiplicative, Background background,
           OsemOptions options)
    : projector_(projector),
      multiplicative_(std::move(multiplicative)),
      background_(std::move(background)),
      options_(options) {
  options_.validate();
  const int64_t A = projector.angles(), B = projector.bins();
  UNIPET_CHECK(options_.subsets <= A,
               "--subsets " << options_.subsets << ": more subsets than the " << A << " angles");
  UNIPET_CHECK(multiplicative_.defined() && multiplicative_.dim() == 3 &&
                   multiplicative_.size(1) == A && multiplicative_.size(2) == B,
               "Osem: multiplicative factors must be [D, " << A << ", " << B << "], got "
                                                           << multiplicative_.sizes());
  multiplicative_ = multiplicative_.to(torch::kCPU, torch::kFloat32).contiguous();
  auto check = [&](torch::Tensor& t, const char* what) {
    if (!t.defined()) return;
    UNIPET_CHECK(t.sizes() == multiplicative_.sizes(),
                 "Osem: " << what << " " << t.sizes() << " does not match the multiplicative factors "
                          << multiplicative_.sizes());
    t = t.to(torch::kCPU, torch::kFloat32).contiguous();
  };
  UNIPET_CHECK(background_.scatter.defined(), "Osem: the scatter background is undefined");
  check(background_.scatter, "scatter");
  check(background_.randoms, "randoms");
  if (background_.scatter_tof_profile.defined()) {
    UNIPET_CHECK(projector.tof() && background_.scatter_tof_profile.sizes() ==
                                        at::IntArrayRef(projector.sinogram_shape(
                                            multiplicative_.size(0), A)),
                 "Osem: the scatter TOF profile " << background_.scatter_tof_profile.sizes()
                                                  << " does not match the TOF sinogram");
    // Kept in its own precision (bfloat16 from the simulator): a TOF-sized float32 copy would be
    // the reconstruction's largest tensor.
    background_.scatter_tof_profile = background_.scatter_tof_profile.to(torch::kCPU).contiguous();
  }
  for (int64_t s = 0; s < options_.subsets; ++s) {
    std::vector<int64_t> angles;
    for (int64_t a = s; a < A; a += options_.subsets) angles.push_back(a);
    subset_index_.push_back(torch::tensor(angles, torch::kLong));
    subset_angles_.push_back(std::move(angles));
  }
  const double image_mb = 4e-6 * static_cast<double>(multiplicative_.size(0) * projector.options().height *
                                                     projector.options().width);
  const bool cache = image_mb * static_cast<double>(options_.subsets) <= options_.max_sensitivity_cache_mb;
  // Voxels some subset cannot see would be divided by zero; they are kept at zero instead.
  for (size_t s = 0; s < subset_angles_.size(); ++s) {
    torch::Tensor sens = compute_sensitivity(s);
    torch::Tensor seen = sens > sens.max() * 1e-6;
    support_ = support_.defined() ? support_ & seen : seen;
    if (cache) sensitivity_.push_back(std::move(sens));
  }
}

torch::Tensor Osem::sensitivity(size_t subset) const {
  return sensitivity_.empty() ? compute_sensitivity(subset) : sensitivity_[subset];
}

torch::Tensor Osem::compute_sensitivity(size_t subset) const {
  // A [D, n, bins] sinogram backprojects TOF-summed: sum over TOF bins of P^T m = P^T m.
  return projector_.back(multiplicative_.index_select(1, subset_index_[subset]), subset_angles_[subset]);
}

torch::Tensor Osem::background_for(const torch::Tensor& index, const torch::Tensor& randoms) const {
  torch::Tensor scatter = background_.scatter.index_select(1, index);
  const torch::Tensor& r = randoms.defined() ? randoms : background_.randoms;
  torch::Tensor rand = r.defined() ? r.index_select(1, index) : torch::Tensor();
  if (!projector_.tof()) return rand.defined() ? scatter + rand : scatter;
  const double even = 1.0 / static_cast<double>(projector_.tof_bins());
  torch::Tensor b = background_.scatter_tof_profile.defined()
                        ? scatter.unsqueeze(-1) *
                              background_.scatter_tof_profile.index_select(1, index).to(torch::kFloat32)
                        : (scatter * even).unsqueeze(-1).expand(projector_.sinogram_shape(
                              scatter.size(0), index.size(0)));
  if (rand.defined()) b = b + (rand * even).unsqueeze(-1);
  return b;
}

torch::Tensor Osem::expected_counts(const torch::Tensor& image, double dose_fraction) const {
  const torch::Tensor all = torch::arange(projector_.angles(), torch::kLong);
  torch::Tensor m = projector_.tof() ? multiplicative_.unsqueeze(-1) : multiplicative_;
  return dose_fraction * (m * projector_.forward(image) + background_for(all, {}));
}

torch::Tensor Osem::reconstruct(
    const torch::Tensor& counts, double dose_fraction,
    const std::function<void(int64_t, const torch::Tensor&)>& on_iteration,
    const torch::Tensor& randoms) const {
  const std::vector<int64_t> shape = projector_.sinogram_shape(multiplicative_.size(0), projector_.angles());
  UNIPET_CHECK(counts.sizes() == at::IntArrayRef(shape),
               "Osem: counts " << counts.sizes() << " do not match the model " << at::IntArrayRef(shape));
  UNIPET_CHECK(dose_fraction > 0 && dose_fraction <= 1,
               "Osem: dose fraction must be in (0, 1], got " << dose_fraction);
  UNIPET_CHECK(!randoms.defined() || randoms.sizes() == multiplicative_.sizes(),
               "Osem: randoms " << randoms.sizes() << " do not match the model " << multiplicative_.sizes());
  // Counts may be held compactly (int16 for TOF data); each subset is converted when used.
  const torch::Tensor y = counts.to(torch::kCPU).contiguous();
  UNIPET_CHECK(y.scalar_type() == torch::kFloat32 || y.scalar_type() == torch::kFloat64 ||
                   y.scalar_type() == torch::kInt16 || y.scalar_type() == torch::kInt32,
               "Osem: counts must be float or int16/int32, got " << y.scalar_type());
  UNIPET_CHECK(y.numel() == 0 || y.min().item<double>() >= 0, "Osem: counts must be >= 0");
  const torch::Tensor r =
      randoms.defined() ? randoms.to(torch::kCPU, torch::kFloat32).contiguous() : torch::Tensor();

  // Start from a uniform image whose expected total matches the data's trues.
  const torch::Tensor ones = support_.to(torch::kFloat32);
  std::vector<int64_t> every_angle(projector_.angles());
  for (int64_t i = 0; i < projector_.angles(); ++i) every_angle[i] = i;
  const double model_total = total(multiplicative_ * projector_.forward_summed(ones, every_angle));
  // Background totals without forming TOF bins: a TOF profile sums to 1 over each line's bins.
  const torch::Tensor& rand = r.defined() ? r : background_.randoms;
  const double background = total(background_.scatter) + (rand.defined() ? total(rand) : 0.0);
  const double trues = total(y) / dose_fraction - background;
  const double start = std::max(trues, 1e-3 * model_total) / model_total;
  torch::Tensor x = ones * start;

  for (int64_t it = 1; it <= options_.iterations; ++it) {
    for (size_t s = 0; s < subset_angles_.size(); ++s) {
      const torch::Tensor& index = subset_index_[s];
      torch::Tensor m = multiplicative_.index_select(1, index);
      if (projector_.tof()) m = m.unsqueeze(-1);
      const torch::Tensor b = background_for(index, r);
      const torch::Tensor ys = y.index_select(1, index).to(torch::kFloat32);
      // EM with system matrix f * m * P G: f cancels between P^T(f m y / ybar) and P^T(f m).
      const torch::Tensor ybar =
          (dose_fraction * (m * projector_.forward(x, subset_angles_[s]) + b)).clamp_min(kTiny);
      const torch::Tensor correction = projector_.back(m * ys / ybar, subset_angles_[s]);
      x = torch::where(support_, x * correction / sensitivity(s).clamp_min(kTiny), torch::zeros_like(x));
    }
    if (on_iteration) on_iteration(it, x);
  }
  const ProjectorOptions& p = projector_.options();
  const double f = options_.post_filter_fwhm_mm;
  return gaussian_filter(x, f, f, f, p.voxel_x_mm, p.voxel_y_mm, p.voxel_z_mm, Edge::Mirror)
      .to(counts.device());
}

}  // namespace unipet::sim
