#pragma once
/// Whole-volume denoising with a UniPET model file: units in and out, precision, device, tiles.
///
///   unipet::infer::DenoiseOptions o;  o.precision = "bf16";
///   unipet::infer::Denoiser denoiser("model.safetensors", o);
///   auto result = denoiser.denoise(volume_in_model_units);   // [D, H, W] tensor in, out
///
/// Reading and writing whole studies (files, DICOM) is studies.h's denoise_study, in unipet::core;
/// this header and the Denoiser need no image I/O (unipet::compute).
///
/// The network sees the image in its model file's units (SUV) through the model's intensity
/// mapping (nn::IntensityNormalization). With the reference's linear mapping (clip to
/// [0, clip_max], scale) what the clip takes away (negative voxels, hot spots above clip_max such
/// as a bladder at 40 SUV) is added back to the network's output, so those voxels pass through
/// rather than being flattened to the clip; the sqrt and log mappings clip nothing. The DRF is
/// never needed: the SAN infers the noise style from each tile. A calibrated model
/// (model_calibration.h) also carries a blend: the output is then x + α(n)·(f(x) − x), α chosen
/// by the scan's estimated noise level n, so a clean scan is not over-smoothed
/// (DenoiseOptions::blend turns it off).
#include <limits>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "unipet/core/compute.h"
#include "unipet/core/volume.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/infer/sliding_window.h"
#include "unipet/nn/intensity.h"
#include "unipet/nn/unipet.h"

namespace unipet::infer {

struct DenoiseOptions {
  /// Device and precision of the network; the threads are the command's (apply_compute), since
  /// LibTorch's thread count is the process's, not one denoiser's.
  ComputeOptions compute;
  SlidingWindowOptions window;
  /// Apply the model's calibrated blend when it has one (`--blend on|off`); a model without
  /// one gives the network's output either way.
  bool blend = true;
};

/// What sliding_window runs for a UniPET: clip and scale the tiles with `normalization`, run the
/// residual on `device` in `dtype`, add the float32 input back, undo the scaling and add back what
/// the clip removed. Tiles and predictions are in normalization.units.
TileFunction unipet_tile_function(nn::UniPET model, const nn::IntensityNormalization& normalization,
                                  torch::Device device, torch::ScalarType dtype);

/// A loaded model ready to denoise volumes.
class Denoiser {
 public:
  /// Loads `model_path`. Throws unipet::Error naming the file when it is missing, corrupt or
  /// not a UniPET model, or naming the option when the device or precision is unusable.
  Denoiser(const std::string& model_path, const DenoiseOptions& options);

  /// Denoises `volume` [D, H, W] given in normalization().units; the result has the same units
  /// and the volume's device is ignored (it runs on the denoiser's device). The network alone:
  /// the blend needs the volume's geometry, see blend_decision().
  SlidingWindowResult denoise(const torch::Tensor& volume) const;

  /// What the calibration does with one volume (in normalization().units, with its spacing):
  /// the noise estimate when the model has an estimator, and α when it has a blend and
  /// options().blend is on (nullopt: the network's output is used as is).
  struct BlendDecision {
    std::optional<DrfEstimate> noise;
    std::optional<double> alpha;
    std::string problem;  ///< why the noise could not be measured ("" when it was or no estimator)
  };
  BlendDecision blend_decision(const Volume& volume, const std::string& source) const;

  /// The model file's calibration (empty for an uncalibrated model).
  const ModelCalibration& calibration() const { return calibration_; }

  /// What sliding_window runs per batch of tiles (in normalization().units).
  TileFunction tile_function() const;

  const nn::IntensityNormalization& normalization() const { return normalization_; }
  const std::string& model_path() const { return model_path_; }
  const DenoiseOptions& options() const { return options_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }

 private:
  std::string model_path_;
  DenoiseOptions options_;
  torch::Device device_{torch::kCPU};
  torch::ScalarType dtype_ = torch::kFloat32;
  nn::UniPET model_{nullptr};
  nn::IntensityNormalization normalization_;
  ModelCalibration calibration_;
};

}  // namespace unipet::infer
