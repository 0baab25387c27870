#pragma once
/// The residual block of UniPET's base denoising network (BDN): two modulated 3x3x3 convolutions
/// with a PReLU between them, a learnable per-channel residual scale, and style affine maps that
/// turn the SAN latent into per-channel style codes.
///
///   unipet::nn::ResModBlock block(unipet::nn::ResModBlockOptions(64, 256));
///   auto [features, style] = block(x, latent);   // latent [N, 256, 1, 1, 1] or undefined
#include <cstdint>

#include <torch/torch.h>

#include "unipet/nn/modulated_conv.h"

namespace unipet::nn {

/// Per-channel mean and unbiased standard deviation over D·H·W, concatenated: [N, 2C] for
/// x [N, C, D, H, W]. This is the "style" of a feature map that the alignment loss compares.
torch::Tensor channel_style_statistics(const torch::Tensor& x);

struct ResModBlockOptions {
  ResModBlockOptions(int64_t channels, int64_t latent_size)
      : channels_(channels), latent_size_(latent_size) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, latent_size);  ///< width of the SAN latent that drives the style codes
  TORCH_ARG(int64_t, kernel_size) = 3;
};

struct BlockOutput {
  torch::Tensor features;  ///< [N, C, D, H, W]
  torch::Tensor style;     ///< [N, 2C], channel_style_statistics(features); undefined if not asked
};

class ResModBlockImpl : public torch::nn::Module {
 public:
  explicit ResModBlockImpl(const ResModBlockOptions& options);

  /// x [N, C, D, H, W]; latent [N, latent_size, 1, 1, 1], or undefined for all style codes zero
  /// (the plain BDN). Returns x + res_scale · conv2(prelu(conv1(x))) and, when `with_style`, its
  /// style statistics (inference skips them: they cost a full pass over the features).
  BlockOutput forward(const torch::Tensor& x, const torch::Tensor& latent, bool with_style = true);

  ResModBlockOptions options;
  ModulatedConv3d convmod1{nullptr}, convmod2{nullptr};
  torch::nn::PReLU act{nullptr};
  torch::Tensor res_scale;  ///< [1, C, 1, 1, 1], initialised to ones
  torch::nn::Conv3d sw1{nullptr}, sw2{nullptr};

 private:
  torch::Tensor activate(torch::Tensor h);
};
TORCH_MODULE(ResModBlock);

}  // namespace unipet::nn
