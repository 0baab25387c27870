#pragma once
/// UniPET: one PET denoiser for every dose level.
///
///   unipet::nn::UniPET model(unipet::nn::UniPETOptions());        // width 64, 8 blocks, SAN 256×4
///   torch::Tensor denoised = model(low_dose);                      // [N, 1, D, H, W] -> same
///   auto out = model->forward_with_style(low_dose);                // + style [N, 2·width·blocks]
///   model->set_san_bypassed(true);                                 // the plain BDN
///
/// conv0 → SAN on the shallow features → residual blocks modulated by the SAN latents → output
/// conv + input. Inputs are normalised intensities (see IntensityNormalization), float32 or
/// bfloat16, on any device.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "unipet/nn/bdn.h"
#include "unipet/nn/san.h"

namespace unipet::nn {

struct UniPETOptions {
  TORCH_ARG(int64_t, width) = 64;       ///< BDN feature channels
  TORCH_ARG(int64_t, blocks) = 8;       ///< residual blocks
  TORCH_ARG(int64_t, san_width) = 0;    ///< SAN encoder width = latent size; 0: 4 × width
  TORCH_ARG(int64_t, san_depth) = 4;    ///< SAN encoders = latents; at most `blocks`
};

struct UniPETOutput {
  torch::Tensor image;                  ///< [N, 1, D, H, W]
  torch::Tensor style;                  ///< [N, 2·width·blocks]: every block's channel mean, std
  torch::Tensor shallow_features;       ///< conv0 output [N, width, D, H, W]
  std::vector<torch::Tensor> latents;   ///< SAN latents [N, san_width, 1, 1, 1]; empty if bypassed
};

class UniPETImpl : public torch::nn::Module {
 public:
  explicit UniPETImpl(const UniPETOptions& options = UniPETOptions());

  /// The denoised image [N, 1, D, H, W] for x [N, 1, D, H, W].
  torch::Tensor forward(const torch::Tensor& x);
  /// forward(x) − x, computed without adding x: in bfloat16 the sum would round the whole image
  /// to 8 bits of mantissa, while the caller can add this to a float32 input.
  torch::Tensor residual(const torch::Tensor& x);
  /// Everything the losses need. The SAN bypass switch applies.
  UniPETOutput forward_with_style(const torch::Tensor& x);
  /// Style statistics of a no-grad forward of `full_dose`: the alignment target.
  torch::Tensor style_target(const torch::Tensor& full_dose);

  /// When bypassed, every style code is zero and the SAN is not run: the base denoising network
  /// (BDN) used for pre-training and baselines.
  void set_san_bypassed(bool bypassed) { san_bypassed_ = bypassed; }
  bool san_bypassed() const { return san_bypassed_; }

  /// Parameters of the SAN and the style affine maps (what stage 2 adds to a pre-trained BDN).
  std::vector<torch::Tensor> style_parameters() const;

  UniPETOptions options;
  torch::nn::Conv3d conv0{nullptr}, reconstruct{nullptr};
  SAN san{nullptr};
  torch::nn::ModuleList blocks{nullptr};

 private:
  UniPETOutput run(const torch::Tensor& x, bool with_style, bool add_input = true);

  bool san_bypassed_ = false;
};
TORCH_MODULE(UniPET);

/// Number of elements over all parameters.
int64_t parameter_count(const torch::nn::Module& module);

}  // namespace unipet::nn
