#pragma once
/// What `unipet calibrate` adds to a model file: the noise-level estimator (noise_level.h), the
/// blend (blend.h) and the DRFs the model was trained on, as safetensors metadata:
///   "unipet.drf_estimator"  DrfEstimator::to_json()
///   "unipet.blend"          Blend::to_json()
///   "unipet.trained_drfs"   JSON array of DRFs, e.g. [2,4,10,20,50,100]
/// A model without these keys is an uncalibrated model and denoises exactly as before.
///
///   auto c = unipet::infer::read_calibration("model.safetensors");
///   if (c.estimator) std::cout << c.estimator->estimate(volume).summary();
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "unipet/infer/blend.h"
#include "unipet/infer/noise_level.h"

namespace unipet::infer {

inline constexpr const char* kDrfEstimatorKey = "unipet.drf_estimator";
inline constexpr const char* kBlendKey = "unipet.blend";
inline constexpr const char* kTrainedDrfsKey = "unipet.trained_drfs";

struct ModelCalibration {
  std::optional<DrfEstimator> estimator;
  std::optional<Blend> blend;
  std::vector<double> trained_drfs;  ///< ascending; empty when unknown

  /// The metadata entries of what is present (nothing for an empty calibration).
  std::map<std::string, std::string> metadata() const;
  /// Reads the keys above from a model file's metadata; absent keys stay empty. Throws
  /// unipet::Error naming `source` and the key when a value is malformed.
  static ModelCalibration from_metadata(const std::map<std::string, std::string>& metadata,
                                        const std::string& source);

  /// "" when `estimate`'s 90% interval overlaps [min, max] of trained_drfs (or either is
  /// unknown), else one sentence saying the scan looks noisier or cleaner than anything the
  /// model was trained on.
  std::string range_warning(const DrfEstimate& estimate) const;
  /// Lines for `unipet info MODEL` ("" when nothing is calibrated).
  std::string describe() const;
};

/// The calibration in a model file's metadata. Throws unipet::Error naming the file when it is
/// missing or not a model, or a key is malformed.
ModelCalibration read_calibration(const std::string& model_path);

/// The estimator of `model_path`, or unipet::Error naming the file and saying how to calibrate it.
DrfEstimator require_estimator(const ModelCalibration& calibration, const std::string& model_path);

}  // namespace unipet::infer
