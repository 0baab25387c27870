#include "unipet/infer/model_calibration.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/error.h"
#include "unipet/io/dataset.h"
#include "unipet/io/safetensors.h"

namespace unipet::infer {

std::map<std::string, std::string> ModelCalibration::metadata() const {
  std::map<std::string, std::string> m;
  if (estimator) m[kDrfEstimatorKey] = estimator->to_json();
  if (blend) m[kBlendKey] = blend->to_json();
  if (!trained_drfs.empty()) m[kTrainedDrfsKey] = nlohmann::json(trained_drfs).dump();
  return m;
}

ModelCalibration ModelCalibration::from_metadata(const std::map<std::string, std::string>& metadata,
                                                 const std::string& source) {
  ModelCalibration c;
  if (auto it = metadata.find(kDrfEstimatorKey); it != metadata.end())
    c.estimator = DrfEstimator::from_json(it->second, source);
  if (auto it = metadata.find(kBlendKey); it != metadata.end()) c.blend = Blend::from_json(it->second, source);
  if (auto it = metadata.find(kTrainedDrfsKey); it != metadata.end()) {
    try {
      c.trained_drfs = nlohmann::json::parse(it->second).get<std::vector<double>>();
    } catch (const std::exception& e) {
      UNIPET_FAIL(source << ": metadata '" << kTrainedDrfsKey << "' is not a list of DRFs: " << e.what());
    }
    for (double d : c.trained_drfs)
      UNIPET_CHECK(std::isfinite(d) && d >= 1, source << ": metadata '" << kTrainedDrfsKey << "' holds DRF " << d);
    std::sort(c.trained_drfs.begin(), c.trained_drfs.end());
  }
  // The blend is placed on the estimator's scale: one without the other cannot be used.
  UNIPET_CHECK(!c.blend || c.estimator, source << ": metadata has '" << kBlendKey << "' but no '" << kDrfEstimatorKey
                                               << "' to place the scan's noise level on it");
  return c;
}

std::string ModelCalibration::range_warning(const DrfEstimate& e) const {
  if (trained_drfs.empty()) return "";
  const double lo = trained_drfs.front(), hi = trained_drfs.back();
  std::ostringstream os;
  if (e.high() < lo)
    os << "the scan looks cleaner (" << e.summary() << ") than any the model was trained on (DRF " << io::drf_text(lo)
       << " to " << io::drf_text(hi) << ")";
  else if (e.low() > hi)
    os << "the scan looks noisier (" << e.summary() << ") than any the model was trained on (DRF " << io::drf_text(lo)
       << " to " << io::drf_text(hi) << ")";
  return os.str();
}

std::string ModelCalibration::describe() const {
  std::ostringstream os;
  if (!trained_drfs.empty()) {
    os << "trained on:  DRF";
    for (size_t i = 0; i < trained_drfs.size(); ++i) os << (i ? ", " : " ") << io::drf_text(trained_drfs[i]);
    os << "\n";
  }
  if (estimator) {
    os << "noise level: estimator fitted on " << estimator->images << " images of "
       << (estimator->dataset.empty() ? "an unnamed dataset" : estimator->dataset) << ", residual SD "
       << estimator->residual_sd << " (log2 DRF)\n";
  }
  if (blend) {
    os << "blend:       out = x + alpha(n) (f(x) - x), on by default (denoise --blend off for the network alone)\n";
    std::istringstream table(blend->table());
    for (std::string line; std::getline(table, line);) os << "             " << line << "\n";
  }
  return os.str();
}

ModelCalibration read_calibration(const std::string& model_path) {
  const auto file = io::read_safetensors(model_path);
  return ModelCalibration::from_metadata(file.metadata, model_path);
}

DrfEstimator require_estimator(const ModelCalibration& calibration, const std::string& model_path) {
  UNIPET_CHECK(calibration.estimator.has_value(),
               model_path << ": the model has no noise-level calibration (make one with unipet calibrate)");
  return *calibration.estimator;
}

}  // namespace unipet::infer
