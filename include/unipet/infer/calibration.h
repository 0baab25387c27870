#pragma once
/// `unipet calibrate` and `unipet estimate-drf`: fit a model's noise-level estimator and blend on
/// a dataset and store them in a copy of the model file; estimate a scan's noise level with them.
///
///   unipet::infer::CalibrateOptions o;
///   o.dataset = "data/dataset.json"; o.model = "model.safetensors"; o.out = "calibrated.safetensors";
///   auto result = unipet::infer::calibrate_model(o, std::cerr);
///   std::cout << result.table();
///   auto noise = unipet::infer::estimate_scan_noise("scan.nii.gz", "calibrated.safetensors");
///
/// The estimator is fitted on the dataset's train split (every image, full doses as DRF 1), the
/// blend on its validation split only (whole volumes through infer::Denoiser, scored against the
/// full dose inside its body outline): the test split is never looked at.
#include <iosfwd>
#include <string>

#include "unipet/infer/denoiser.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/io/image_io.h"

namespace unipet::infer {

struct CalibrateOptions {
  std::string dataset;                  ///< dataset.json
  std::string model;                    ///< the UniPET model file to calibrate (only read)
  std::string out;                      ///< the calibrated copy (.safetensors); never an input
  DenoiseOptions denoise;               ///< device, precision and tiles of the blend's inference
  std::string estimator_split = "train";  ///< or "keep": the model's own estimator (refit the blend alone)
  /// A calibrated model file whose estimator is taken instead of fitting one (refit the blend
  /// alone). The estimator reads the image only, not the network, so a network retrained on the
  /// same data can reuse it without that data. Excludes estimator_split "keep".
  std::string estimator_from;
  std::string blend_split = "val";        ///< never "test": the blend is scored there
  bool fit_blend = true;                ///< false: the estimator only (no network runs)
  bool fit_step_limit = true;           ///< false: α alone, the network's step never cut (blend.h)
  /// true: each blend subject's full dose is also an input ("DRF 1", the identity pairs training
  /// uses), whose best α is 0: a knot that takes α down to 0 at the full dose's noise level, so
  /// a scan cleaner than the cleanest calibrated DRF keeps more of itself instead of the lowest
  /// knot's α (constant beyond the ends).
  bool blend_identity = false;
  DrfFitOptions fit;
};

struct CalibrateResult {
  ModelCalibration calibration;
  /// The fitted estimator (residual SD, reference counts) and blend table, as printed.
  std::string table() const;
};

/// Fits and writes OUT atomically: the model's weights and metadata, with the calibration keys
/// replaced. "unipet.trained_drfs" keeps the model's own value when it has one, else takes the
/// dataset's DRFs. Every check (output path, dataset, splits, model) comes before the fit.
/// Throws unipet::Error naming the file or option at fault. Progress lines go to `log`.
CalibrateResult calibrate_model(const CalibrateOptions& options, std::ostream& log);

/// How a scan is read for estimate-drf and info.
struct ScanNoiseOptions {
  std::string series_uid;       ///< picks a PET series in a DICOM folder with several
  io::ReadImageOptions read;
};

struct ScanNoise {
  DrfEstimate estimate;
  std::string warning;  ///< ModelCalibration::range_warning ("" inside the trained range)
  /// "scan: effective DRF 9.6 (90% interval 5.1 to 18)" and the warning, on one line.
  std::string summary(const std::string& scan) const;
  /// One JSON object: the estimate's fields, "scan", "model", "trained_drfs" and "warning".
  std::string to_json(const std::string& scan, const std::string& model, const ModelCalibration& c) const;
};

/// The noise level of an image file or DICOM folder with `model_path`'s estimator. The estimate
/// does not depend on the image's units (noise_level.h), so no SUV factor is needed. Throws
/// unipet::Error naming the model when it has no calibration, or the scan when it cannot be read.
ScanNoise estimate_scan_noise(const std::string& scan, const std::string& model_path,
                              const ScanNoiseOptions& options = {});

/// One line for `unipet info SCAN`: "noise level: ..." with `model_path`'s estimator; a scan whose
/// noise cannot be measured gives a line saying why. `model_path` "": the default model, and ""
/// (no line) when there is none or it is not calibrated; a given model without calibration
/// gives a line saying so.
std::string describe_scan_noise(const std::string& scan, const std::string& model_path,
                                const ScanNoiseOptions& options = {});

/// `unipet estimate-drf --dataset D --split S`: the model's estimator scored on every image of
/// the split against the effective and the nominal DRF (drf_validation_table), with the
/// reference counts of the estimator's own calibration data.
std::string validate_drf_estimator(const std::string& model_path, const std::string& dataset_path,
                                   const std::string& split, std::ostream& log);

}  // namespace unipet::infer
