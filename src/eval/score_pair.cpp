// score_pair (`unipet evaluate --pred P --ref F`): one pair, every input checked and named as the
// user typed it before any score is computed.
#include "unipet/eval/evaluation.h"

#include <cmath>
#include <iomanip>
#include <optional>
#include <sstream>

#include "unipet/core/error.h"
#include "unipet/eval/lesions.h"
#include "unipet/eval/metrics.h"
#include "unipet/io/image_io.h"

namespace unipet::eval {

namespace {

// "(-10.000%)", or "(n/a)" where the reference value is 0 and a bias has no meaning.
std::string bias_text(double value, double reference) {
  if (reference == 0 || !std::isfinite(value) || !std::isfinite(reference)) return "(n/a)";
  std::ostringstream out;
  out << std::fixed << std::setprecision(3) << "(" << 100 * relative_bias(value, reference) << "%)";
  return out.str();
}

}  // namespace

std::string score_pair(const std::string& pred_path, const std::string& ref_path,
                       const std::string& mask_path, const std::string& lesions_path, double data_range) {
  UNIPET_CHECK(data_range > 0 && std::isfinite(data_range), "--range must be positive, got " << data_range);
  const Volume ref = io::read_image(ref_path);
  Volume pred = io::read_image(pred_path);
  ref.validate("--ref " + ref_path);
  pred.validate("--pred " + pred_path);
  UNIPET_CHECK(
      same_geometry(pred, ref, 1e-2),
      pred_path << " and " << ref_path << ": different geometry (size, spacing, origin or direction)");
  UNIPET_CHECK(pred.units == ref.units || pred.units == Units::Unknown || ref.units == Units::Unknown,
               pred_path << " is in " << to_string(pred.units) << " but " << ref_path << " in "
                         << to_string(ref.units));
  // Within the tolerance the grids are one: the lesion statistics compare geometry exactly.
  pred.spacing = ref.spacing, pred.origin = ref.origin, pred.direction = ref.direction;
  torch::Tensor mask;
  if (!mask_path.empty()) {
    const Volume m = io::read_image(mask_path);
    m.validate("--mask " + mask_path);
    UNIPET_CHECK(same_geometry(m, ref, 1e-2), mask_path << " and " << ref_path << ": different geometry");
    mask = m.data > 0.5;
  }
  check_scorable(ref.data, "--ref " + ref_path, mask, "--mask " + mask_path);
  std::optional<Volume> labels;
  if (!lesions_path.empty()) {
    labels = io::read_image(lesions_path);
    check_lesion_labels(*labels, "--lesions " + lesions_path);
    UNIPET_CHECK(same_geometry(*labels, ref, 1e-2),
                 lesions_path << " and " << ref_path << ": different geometry");
    labels->spacing = ref.spacing, labels->origin = ref.origin, labels->direction = ref.direction;
  }
  std::ostringstream out;
  out << std::fixed;
  out << "region: " << (mask.defined() ? "inside " + mask_path : std::string("whole volume (no --mask)"))
      << "\n";
  out << std::setprecision(3) << "PSNR:        " << psnr_in(ref.data, pred.data, mask, data_range)
      << " dB (range " << data_range << ")\n";
  out << "PSNR (max):  " << psnr_ref_max(ref.data, pred.data, mask)
      << " dB (range: the reference's maximum)\n";
  out << std::setprecision(4) << "SSIM:        " << ssim_in(ref.data, pred.data, mask, data_range) << "\n";
  out << "NRMSE:       " << nrmse_in(ref.data, pred.data, mask) << "\n";
  if (labels) {
    const auto p = lesion_stats(pred, *labels), r = lesion_stats(ref, *labels);
    out << std::setprecision(3);
    for (size_t i = 0; i < p.size(); ++i) {
      out << "lesion " << p[i].label << " (" << p[i].volume_ml << " ml): SUVmax " << p[i].suv_max << " vs "
          << r[i].suv_max << " " << bias_text(p[i].suv_max, r[i].suv_max) << ", SUVmean " << p[i].suv_mean
          << " vs " << r[i].suv_mean << " " << bias_text(p[i].suv_mean, r[i].suv_mean) << ", SUVpeak "
          << p[i].suv_peak << " vs " << r[i].suv_peak << " " << bias_text(p[i].suv_peak, r[i].suv_peak)
          << "\n";
    }
    if (p.empty()) out << "lesions: none in " << lesions_path << "\n";
  }
  return out.str();
}

}  // namespace unipet::eval
