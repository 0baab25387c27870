#include "unipet/eval/lesions.h"

#include <cmath>
#include <limits>

#include "region_mask.h"
#include "unipet/core/error.h"

namespace unipet::eval {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string describe(const Volume& v) {
  std::ostringstream out;
  out << v.data.sizes() << " spacing (" << v.spacing[0] << ", " << v.spacing[1] << ", " << v.spacing[2]
      << ") mm origin (" << v.origin[0] << ", " << v.origin[1] << ", " << v.origin[2] << ")";
  return out.str();
}

// Mean of the image over the voxel centres within radius_mm of `centre`; the sphere is cut at
// the volume's faces. Works on the small bounding box so its cost is independent of volume size.
double sphere_mean(const Volume& image, const std::array<int64_t, 3>& centre, double radius_mm) {
  // spacing is (x, y, z) = (W, H, D); reorder to the tensor's [D, H, W].
  const std::array<double, 3> spacing_dhw{image.spacing[2], image.spacing[1], image.spacing[0]};
  auto box = image.data;
  std::array<torch::Tensor, 3> offsets_mm;
  for (int64_t axis = 0; axis < 3; ++axis) {
    const auto reach = static_cast<int64_t>(std::floor(radius_mm / spacing_dhw[axis]));
    const int64_t low = std::max<int64_t>(0, centre[axis] - reach);
    const int64_t high = std::min<int64_t>(image.data.size(axis) - 1, centre[axis] + reach);
    box = box.narrow(axis, low, high - low + 1);
    offsets_mm[axis] = (torch::arange(low, high + 1, torch::kFloat64) - static_cast<double>(centre[axis])) *
                       spacing_dhw[axis];
  }
  auto distance2 = offsets_mm[0].pow(2).view({-1, 1, 1}) + offsets_mm[1].pow(2).view({1, -1, 1}) +
                   offsets_mm[2].pow(2).view({1, 1, -1});
  // A relative tolerance keeps centres exactly on the sphere (common with integer spacings) inside.
  auto inside = (distance2 <= radius_mm * radius_mm * (1 + 1e-12)).to(box.device());
  return box.to(torch::kFloat64).masked_select(inside).mean().item<double>();
}

}  // namespace

void check_lesion_labels(const Volume& labels, const std::string& what) {
  labels.validate(what);
  const auto& l = labels.data;
  UNIPET_CHECK(!(l < 0).any().item<bool>(),
               what << ": lesion labels must not be negative, the minimum is " << l.min().item<double>());
  const auto fractional = l != l.round();
  UNIPET_CHECK(!fractional.any().item<bool>(),
               what << ": lesion labels must be whole numbers (0 background, k lesion k), got "
                    << l.masked_select(fractional)[0].item<double>() << " (a probability map or an image?)");
}

std::vector<LesionStats> lesion_stats(const Volume& image, const Volume& labels, double peak_ml) {
  image.validate("lesion_stats image");
  check_lesion_labels(labels, "lesion_stats labels");
  UNIPET_CHECK(same_geometry(image, labels), "lesion_stats: image " << describe(image) << " and labels "
                                                                    << describe(labels)
                                                                    << " differ in geometry");
  UNIPET_CHECK(std::isfinite(peak_ml) && peak_ml > 0,
               "lesion_stats: peak_ml must be positive, got " << peak_ml);
  const auto& l = labels.data;

  // Lesions are a tiny part of the volume: gather their voxels once and work on those lists.
  auto index = torch::nonzero(l > 0);  // [N, 3] (d, h, w)
  auto label_of = l.index({index.select(1, 0), index.select(1, 1), index.select(1, 2)}).to(torch::kInt64);
  auto value_of =
      image.data.index({index.select(1, 0), index.select(1, 1), index.select(1, 2)}).to(torch::kFloat64);
  auto present = std::get<0>(torch::unique_consecutive(std::get<0>(label_of.sort()))).to(torch::kCPU);

  const double radius_mm = std::cbrt(3.0 * peak_ml * 1000.0 / (4.0 * kPi));
  std::vector<LesionStats> result;
  for (int64_t i = 0; i < present.numel(); ++i) {
    LesionStats s;
    s.label = present[i].item<int64_t>();
    auto in_lesion = label_of == s.label;
    auto values = value_of.masked_select(in_lesion);
    auto voxels_dhw = index.index({in_lesion}).to(torch::kCPU);
    s.voxels = values.numel();
    s.volume_ml = static_cast<double>(s.voxels) * image.voxel_volume_ml();
    s.suv_mean = values.mean().item<double>();
    // argmax of a 1-D tensor returns the first maximum, and nonzero lists voxels in memory order.
    const int64_t hottest = values.argmax().item<int64_t>();
    s.suv_max = values[hottest].item<double>();
    for (int64_t axis = 0; axis < 3; ++axis)
      s.peak_index_dhw[axis] = voxels_dhw[hottest][axis].item<int64_t>();
    s.suv_peak = sphere_mean(image, s.peak_index_dhw, radius_mm);
    result.push_back(s);
  }
  return result;
}

double relative_bias_or_nan(double value, double reference) {
  return std::isfinite(value) && std::isfinite(reference) && reference != 0
             ? (value - reference) / reference
             : std::numeric_limits<double>::quiet_NaN();
}

double relative_bias(double value, double reference) {
  UNIPET_CHECK(std::isfinite(value) && std::isfinite(reference),
               "relative_bias: value " << value << " and reference " << reference << " must be finite");
  UNIPET_CHECK(reference != 0, "relative_bias: the reference value is 0");
  return (value - reference) / reference;
}

double contrast_recovery(double lesion_mean, double background_mean, double true_lesion_mean,
                         double true_background_mean) {
  UNIPET_CHECK(background_mean != 0 && true_background_mean != 0,
               "contrast_recovery: background means must not be 0, got " << background_mean << " and "
                                                                         << true_background_mean);
  const double true_contrast = true_lesion_mean / true_background_mean - 1;
  UNIPET_CHECK(true_contrast != 0, "contrast_recovery: the true lesion and background means are equal ("
                                       << true_lesion_mean << "), so there is no contrast to recover");
  return (lesion_mean / background_mean - 1) / true_contrast;
}

double region_cov(const torch::Tensor& image, const torch::Tensor& mask) {
  UNIPET_CHECK(image.defined() && image.numel() > 0, "region_cov: the image is empty");
  auto values = image.to(torch::kFloat64).masked_select(detail::region_mask(mask, image, "region_cov"));
  const double mean = values.mean().item<double>();
  UNIPET_CHECK(mean != 0, "region_cov: the region's mean is 0, so its coefficient of variation is undefined");
  return values.std(/*unbiased=*/false).item<double>() / mean;
}

}  // namespace unipet::eval
