#include "unipet/infer/denoiser.h"

#include <sstream>

#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/infer/blend.h"
#include "unipet/nn/memory.h"
#include "unipet/nn/model_file.h"

namespace unipet::infer {

Denoiser::Denoiser(const std::string& model_path, const DenoiseOptions& options)
    : model_path_(model_path), options_(options) {
  options_.window.validate();
  const Compute compute = resolve_compute(options.compute);
  device_ = compute.device;
  dtype_ = compute.dtype;
  auto loaded = nn::load_unipet(model_path, device_);
  model_ = loaded.model;
  normalization_ = loaded.normalization;
  calibration_ = ModelCalibration::from_metadata(loaded.metadata, model_path);
  model_->eval();
  // A tile the machine cannot hold (--tile 512 is inside the accepted range) is refused here,
  // before any image is read, not killed by the kernel a minute into the first tile.
  if (device_.is_cpu()) {
    const int64_t t = options_.window.tile;
    std::ostringstream what;
    what << "--tile " << t << " / --batch " << options_.window.batch << ": a forward of the network";
    check_fits_in_memory(nn::inference_bytes(model_->options.width(), options_.window.batch * t * t * t, dtype_),
                         what.str());
  }
  model_->to(device_, dtype_);
}

TileFunction unipet_tile_function(nn::UniPET model, const nn::IntensityNormalization& normalization,
                                  torch::Device device, torch::ScalarType dtype) {
  return [model, normalization, device, dtype](const torch::Tensor& tiles) mutable {
    torch::NoGradGuard no_grad;
    const auto x = tiles.to(device, torch::kFloat32);
    const auto n = normalization.normalize(x);
    // The residual alone runs in the model's precision; the input is added back in float32, so
    // bfloat16 does not round every voxel to 8 bits of mantissa. What the clip removed passes
    // through (the linear mapping's clip; nothing for sqrt and log): the identity network returns
    // its input exactly.
    const auto y = n + model->residual(n.to(dtype)).to(torch::kFloat32);
    return normalization.denormalize(y) + normalization.clipped_part(x);
  };
}

TileFunction Denoiser::tile_function() const { return unipet_tile_function(model_, normalization_, device_, dtype_); }

SlidingWindowResult Denoiser::denoise(const torch::Tensor& volume) const {
  return sliding_window(volume.to(device_, torch::kFloat32), tile_function(), options_.window);
}

Denoiser::BlendDecision Denoiser::blend_decision(const Volume& volume, const std::string& source) const {
  BlendDecision d;
  // An uncalibrated model costs nothing extra and changes nothing: its output stays bit for bit.
  if (!calibration_.estimator) return d;
  try {
    d.noise = calibration_.estimator->estimate(volume, source);
  } catch (const Error& e) {
    // A scan whose noise cannot be measured (no body outline, a constant image) is still
    // denoised, as an uncalibrated model would: the caller reports why there was no blend.
    d.problem = std::string(e.what()) + "; the network's output is used without the blend";
    return d;
  }
  if (options_.blend && calibration_.blend) d.alpha = calibration_.blend->alpha_at(d.noise->log2_drf);
  return d;
}

}  // namespace unipet::infer
