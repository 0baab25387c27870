#include "unipet/infer/studies.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/infer/blend.h"
#include "unipet/io/pet_image.h"

namespace unipet::infer {

namespace {

// The factor that takes `image`'s voxels to the model's units, and the units the input is in
// (an image that records none gets them from --input-units, or Bq/ml when --suv-factor is given).
std::pair<double, Units> model_units_factor(const io::PetImage& image, Units model, const StudyOptions& o) {
  Units units = image.volume.units;
  if (!o.input_units.empty()) {
    const Units declared = units_from_string(o.input_units);
    UNIPET_CHECK(declared == Units::SUV || declared == Units::BqPerMl,
                 "--input-units must be suv or bqml, got '" << o.input_units << "'");
    UNIPET_CHECK(units == Units::Unknown || units == declared,
                 image.path << ": the image records " << to_string(units) << " but --input-units says "
                            << to_string(declared));
    units = declared;
  }
  if (units == Units::Unknown && o.suv_factor) units = Units::BqPerMl;
  if (units == model) {
    // A factor that would not be used is a mistake about the image, not something to ignore.
    UNIPET_CHECK(!o.suv_factor, "--suv-factor: " << image.path << " is already in " << to_string(units)
                                                 << ", the model's units; the factor applies to a Bq/ml image only");
    UNIPET_CHECK(!o.weight_kg, "--weight: " << image.path << " is already in " << to_string(units)
                                            << ", the model's units; the weight applies to a Bq/ml image only");
    return {1.0, units};
  }
  UNIPET_CHECK(units != Units::Unknown,
               image.path << ": the image records no units; give --input-units suv, or --input-units bqml "
                             "with --suv-factor (SUV = Bq/ml x factor)");
  const bool suv_pair = (units == Units::BqPerMl && model == Units::SUV) ||
                        (units == Units::SUV && model == Units::BqPerMl);
  UNIPET_CHECK(suv_pair, image.path << ": cannot convert " << to_string(units) << " to the model's "
                                    << to_string(model));
  const double factor = io::suv_factor_for(image, o.suv_factor, o.weight_kg).factor;
  const double scale = units == Units::BqPerMl ? factor : 1.0 / factor;
  // The scaled image must stay a finite float32 (a factor of 1e300 made every voxel Inf, and the
  // error then blamed the output file).
  const double largest = image.volume.data.abs().max().item<double>();
  UNIPET_CHECK(std::isfinite(scale) && scale > 0 && largest * scale < 1e30,
               (o.suv_factor ? "--suv-factor " : "the SUV factor ")
                   << factor << " of " << image.path << ": scales its largest value " << largest << " to "
                   << largest * scale << " " << to_string(model) << ", beyond any PET value");
  return {scale, units};
}

}  // namespace

std::string StudyReport::summary() const {
  std::ostringstream os;
  os << input << " -> " << output << ": " << size_xyz[0] << " x " << size_xyz[1] << " x " << size_xyz[2] << ", "
     << to_string(units);
  if (to_model_units != 1) os << " (x " << to_model_units << " to the model's units)";
  os << ", " << tiles_run << " tiles";
  if (tiles_skipped > 0) os << " (+" << tiles_skipped << " background)";
  os << ", " << format_duration(seconds);
  if (blend_alpha) {
    os.precision(2);
    os << ", blend alpha " << *blend_alpha << (blend_banded ? " (pooled; per voxel by level)" : "");
    if (!std::isinf(blend_step_limit)) os << ", steps cut at " << blend_step_limit << " x their robust SD";
    os << " at " << noise->summary();
  }
  return os.str();
}

StudyReport denoise_study(const Denoiser& denoiser, const std::string& input, const std::string& output,
                          const StudyOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  // The model is an input too: `-o model.nii.gz -m model.nii.gz` must not replace it.
  io::check_pet_output(output, {input, denoiser.model_path()});
  if (!options.uncertainty.empty()) {
    UNIPET_CHECK(denoiser.options().window.tta,
                 options.uncertainty << ": an uncertainty map needs --tta (it is the spread over the 8 flips)");
    UNIPET_CHECK(options.uncertainty != output, options.uncertainty << ": the uncertainty map and the output "
                                                                       "are the same path");
    io::check_pet_output(options.uncertainty, {input, output, denoiser.model_path()});
  }
  const io::PetImage image = io::read_pet(input, options.series_uid, options.read);
  const auto [factor, units] = model_units_factor(image, denoiser.normalization().units, options);

  SlidingWindowOptions window = denoiser.options().window;
  window.progress = options.progress;
  window.uncertainty = !options.uncertainty.empty();
  const torch::Tensor in_model_units = image.volume.data.to(denoiser.device(), torch::kFloat32) * factor;
  // The noise level is measured (and the blend chosen) before the network runs, so a scan the
  // estimator refuses fails at once.
  const auto decision = denoiser.blend_decision(with_geometry_of(image.volume, in_model_units), input);
  SlidingWindowResult result = sliding_window(in_model_units, denoiser.tile_function(), window);
  if (decision.alpha) {
    const Blend& blend = *denoiser.calibration().blend;
    const double log2_n = decision.noise->log2_drf;
    // α per voxel from the network's output (a banded blend) or one α for the volume.
    if (result.uncertainty.defined()) result.uncertainty = result.uncertainty * blend.alpha_map(log2_n, result.image);
    result.image = blend.apply(in_model_units, result.image, log2_n);
  }

  auto back = [&](const torch::Tensor& v) {
    Volume out = with_geometry_of(image.volume, (v / factor).to(torch::kCPU));
    out.units = units;
    return out;
  };
  io::DicomWriteOptions dicom = options.dicom;
  dicom.provenance = io::model_provenance(denoiser.model_path(), options.dicom.provenance.command_line);
  dicom.image_type3 = "DENOISED";
  if (!options.uncertainty.empty()) {
    io::DicomWriteOptions sd = dicom;
    sd.series_description += " uncertainty";
    if (sd.series_number) *sd.series_number += 1;
    sd.series_number_offset += 1;
    sd.image_type3 = "UNCERTAINTY";
    sd.provenance.operation = "estimated the denoising uncertainty (SD over 8 flips)";
    sd.provenance.derivation = {"113061", "DCM", "Standard Deviation"};
    io::write_pet(back(result.uncertainty), options.uncertainty, &image, sd, options.weight_kg);
  }
  io::write_pet(back(result.image), output, &image, dicom, options.weight_kg);

  StudyReport report;
  report.input = input;
  report.output = output;
  report.size_xyz = image.volume.size_xyz();
  report.units = units;
  report.to_model_units = factor;
  report.tiles_run = result.tiles_run;
  report.tiles_skipped = result.tiles_skipped;
  report.noise = decision.noise;
  report.blend_alpha = decision.alpha;
  report.blend_banded = decision.alpha && denoiser.calibration().blend->banded();
  if (decision.alpha) report.blend_step_limit = denoiser.calibration().blend->step_limit_at(decision.noise->log2_drf);
  if (decision.noise) report.warning = denoiser.calibration().range_warning(*decision.noise);
  if (!decision.problem.empty()) report.warning = decision.problem;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace unipet::infer
