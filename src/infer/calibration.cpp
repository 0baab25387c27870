#include "unipet/infer/calibration.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <ostream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/core/body_mask.h"
#include "unipet/core/text.h"
#include "unipet/infer/default_model.h"
#include "unipet/io/dataset.h"
#include "unipet/io/image_io.h"
#include "unipet/io/pet_image.h"
#include "unipet/nn/model_file.h"

namespace unipet::infer {

namespace {

namespace fs = std::filesystem;

// A dataset image in the model's units: the dataset's units, or SUV through the subject's factor.
torch::Tensor in_model_units(const io::Dataset& dataset, const io::DatasetSubject& subject, const Volume& image,
                             Units model_units, const std::string& source) {
  if (image.units == model_units || (image.units == Units::Unknown && dataset.units == model_units)) return image.data;
  UNIPET_CHECK(model_units == Units::SUV, source << ": the model works in " << to_string(model_units)
                                                 << " and the image is in " << to_string(image.units));
  return image.data * io::subject_suv_factor(dataset, subject);
}

// The blend's observations: every validation image through the network, whole volume.
std::vector<BlendObservation> blend_observations(const CalibrateOptions& o, const io::Dataset& dataset,
                                                 const DrfEstimator& estimator, std::ostream& log) {
  const Denoiser denoiser(o.model, o.denoise);
  const Units units = denoiser.normalization().units;
  const auto subjects = dataset.subjects_in_split(o.blend_split);
  int64_t total = 0, done = 0;
  for (const auto* s : subjects) total += static_cast<int64_t>(s->low_dose.size()) + (o.blend_identity ? 1 : 0);
  Progress progress(log, "calibrate: blend", total);
  std::vector<BlendObservation> observations;
  for (const auto* s : subjects) {
    const std::string full_path = dataset.resolve(s->full_dose);
    const Volume full = io::read_image(full_path);
    const torch::Tensor y = in_model_units(dataset, *s, full, units, full_path);
    // The body of the full dose, as `unipet evaluate` scores inside it.
    const torch::Tensor body = body_mask(y);
    if (o.blend_identity) {
      const double log2_n = estimator.estimate(full, full_path).log2_drf;
      const torch::Tensor f = denoiser.denoise(y).image.to(torch::kCPU);
      observations.push_back(blend_observation(y, f, y, body, 1.0, log2_n));
      progress.update(++done, s->id + " full dose (DRF 1)");
    }
    for (const auto& [drf, path] : s->low_dose) {
      const std::string low_path = dataset.resolve(path);
      const Volume low = io::read_image(low_path);
      UNIPET_CHECK(same_geometry(low, full, 1e-2), low_path << " and " << full_path << ": different geometry");
      const torch::Tensor x = in_model_units(dataset, *s, low, units, low_path);
      const double log2_n = estimator.estimate(low, low_path).log2_drf;
      const torch::Tensor f = denoiser.denoise(x).image.to(torch::kCPU);
      observations.push_back(blend_observation(x, f, y, body, drf, log2_n));
      progress.update(++done, s->id + " DRF " + io::drf_text(drf));
    }
  }
  progress.finish();
  return observations;
}

std::string number(double v, int precision = 3) {
  std::ostringstream os;
  os << std::setprecision(precision) << v;
  return os.str();
}

}  // namespace

std::string CalibrateResult::table() const {
  std::ostringstream os;
  if (calibration.estimator) {
    const auto& e = *calibration.estimator;
    os << "noise-level estimator: " << e.images << " images, residual SD " << number(e.residual_sd)
       << " (log2 DRF), reference counts " << number(e.reference_counts) << "\n";
  }
  if (calibration.blend) os << calibration.blend->table();
  return os.str();
}

CalibrateResult calibrate_model(const CalibrateOptions& o, std::ostream& log) {
  UNIPET_CHECK(!o.dataset.empty(), "--dataset is required");
  UNIPET_CHECK(!o.model.empty(), "-m/--model is required");
  UNIPET_CHECK(!o.out.empty(), "-o/--out is required");
  UNIPET_CHECK(ends_with(o.out, ".safetensors"), o.out << ": the calibrated model must be a .safetensors file");
  UNIPET_CHECK(fs::is_regular_file(o.model), o.model << ": no such model file");
  std::vector<fs::path> inputs{o.model, o.dataset};
  if (!o.estimator_from.empty()) inputs.emplace_back(o.estimator_from);  // the donor model is an input too
  check_output_path(o.out, {OutputKind::File, inputs});
  // The model is read (and checked) first: it is the input most likely to be the wrong file.
  nn::LoadedUniPET loaded = nn::load_unipet(o.model);
  const ModelCalibration previous = ModelCalibration::from_metadata(loaded.metadata, o.model);
  const bool from_file = !o.estimator_from.empty();
  UNIPET_CHECK(!from_file || o.estimator_split != "keep",
               "--estimator-from " << o.estimator_from << " and --estimator-split keep name two estimators: give one");
  std::optional<DrfEstimator> given = previous.estimator;
  if (from_file) {
    UNIPET_CHECK(fs::is_regular_file(o.estimator_from), "--estimator-from " << o.estimator_from << ": no such model file");
    given = read_calibration(o.estimator_from).estimator;
    UNIPET_CHECK(given, "--estimator-from " << o.estimator_from << ": has no noise-level estimator (calibrate it first)");
  }
  const bool keep_estimator = from_file || o.estimator_split == "keep";
  UNIPET_CHECK(from_file || !keep_estimator || previous.estimator,
               "--estimator-split keep: " << o.model << " has no noise-level estimator to keep (calibrate it first)");
  UNIPET_CHECK(!keep_estimator || o.fit_blend,
               (from_file ? "--estimator-from" : "--estimator-split keep") << " with --blend off would change nothing");
  UNIPET_CHECK(o.blend_split != "test" || !o.fit_blend,
               "--blend-split test: the blend is fitted on validation subjects, never on the test split it is scored on");
  o.denoise.window.validate();
  const io::Dataset dataset = io::read_dataset(o.dataset);
  for (const std::string& split : {o.estimator_split, o.blend_split}) {
    if (split == o.blend_split && !o.fit_blend) continue;
    if (split == o.estimator_split && keep_estimator) continue;
    UNIPET_CHECK(!dataset.subjects_in_split(split).empty(),
                 o.dataset << ": no subjects in split '" << split << "' (calibrate fits the noise-level estimator on "
                           << o.estimator_split << " and the blend on " << o.blend_split << ")");
  }

  CalibrateResult result;
  auto& c = result.calibration;
  c.trained_drfs = previous.trained_drfs.empty() ? dataset.drfs : previous.trained_drfs;
  c.estimator = keep_estimator ? given : fit_drf_estimator(dataset, o.estimator_split, o.fit, &log);
  if (o.fit_blend)
    c.blend = fit_blend(blend_observations(o, dataset, *c.estimator, log),
                        o.fit_step_limit ? StepLimit::Fit : StepLimit::None);

  auto metadata = loaded.metadata;
  for (const char* key : {kDrfEstimatorKey, kBlendKey, kTrainedDrfsKey}) metadata.erase(key);
  for (const auto& [key, value] : c.metadata()) metadata[key] = value;
  nn::save_unipet(o.out, loaded.model, loaded.normalization, metadata);
  return result;
}

std::string ScanNoise::summary(const std::string& scan) const {
  return scan + ": " + estimate.summary() + (warning.empty() ? "" : "; warning: " + warning);
}

std::string ScanNoise::to_json(const std::string& scan, const std::string& model, const ModelCalibration& c) const {
  auto j = nlohmann::json::parse(estimate.to_json());
  j["scan"] = scan;
  j["model"] = model;
  j["trained_drfs"] = c.trained_drfs;
  j["warning"] = warning;
  return j.dump();
}

ScanNoise estimate_scan_noise(const std::string& scan, const std::string& model_path, const ScanNoiseOptions& o) {
  const ModelCalibration c = read_calibration(model_path);
  const DrfEstimator estimator = require_estimator(c, model_path);
  const io::PetImage image = io::read_pet(scan, o.series_uid, o.read);
  ScanNoise noise;
  noise.estimate = estimator.estimate(image.volume, scan);
  noise.warning = c.range_warning(noise.estimate);
  return noise;
}

std::string describe_scan_noise(const std::string& scan, const std::string& model, const ScanNoiseOptions& o) {
  std::string model_path = model;
  if (model_path.empty()) {
    // info works without any model: no default model simply means no noise line.
    try {
      model_path = default_model_path();
    } catch (const Error&) {
      return "";
    }
  }
  const ModelCalibration c = read_calibration(model_path);
  if (!c.estimator)
    return model.empty() ? "" : "noise level: " + model_path + " has no noise-level calibration (unipet calibrate)\n";
  try {
    const ScanNoise noise = estimate_scan_noise(scan, model_path, o);
    return "noise level: " + noise.estimate.summary() + " (" + model_path + ")" +
           (noise.warning.empty() ? "" : "; " + noise.warning) + "\n";
  } catch (const Error& e) {
    // info describes what it can: a scan the estimator cannot measure is still described.
    return std::string("noise level: not measured: ") + e.what() + "\n";
  }
}

std::string validate_drf_estimator(const std::string& model_path, const std::string& dataset_path,
                                   const std::string& split, std::ostream& log) {
  const DrfEstimator estimator = require_estimator(read_calibration(model_path), model_path);
  const io::Dataset dataset = io::read_dataset(dataset_path);
  const auto samples = drf_samples(dataset, split, estimator.features, estimator.reference_counts, &log);
  return drf_validation_table(estimator, samples);
}

}  // namespace unipet::infer
