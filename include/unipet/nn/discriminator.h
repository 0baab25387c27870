#pragma once
/// The RALS critic: the reference 3D PatchGAN (kernel 4, stride 2, InstanceNorm without affine,
/// LeakyReLU 0.2) followed by a linear layer over a 2×2×2 grid of patch scores.
///
///   unipet::nn::Discriminator critic(unipet::nn::DiscriminatorOptions().ndf(16));
///   torch::Tensor score = critic(patch);   // [N, 1, D, H, W], every side >= 32 -> [N, 1]
///
/// The reference flattens the last convolution's output into Linear(8, 1), which only works for
/// 64³ patches (the output grid is then exactly 2×2×2). We adaptive-average-pool that grid to
/// 2×2×2 first: the identity at 64³ (reference numbers unchanged), and any patch whose sides are
/// at least 2^(n_layers+2) (32 for the default) also works; larger patches average their scores
/// over eight octants, smaller ones (32³: a 1×1×1 grid) replicate the single score.
#include <cstdint>

#include <torch/torch.h>

namespace unipet::nn {

struct DiscriminatorOptions {
  TORCH_ARG(int64_t, in_channels) = 1;
  TORCH_ARG(int64_t, ndf) = 64;       ///< channels of the first convolution
  TORCH_ARG(int64_t, n_layers) = 3;   ///< intermediate strided convolutions
};

class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(const DiscriminatorOptions& options = DiscriminatorOptions());
  /// x [N, in_channels, D, H, W] with every spatial side >= min_patch_size() -> scores [N, 1].
  torch::Tensor forward(const torch::Tensor& x);
  /// Smallest accepted patch side.
  int64_t min_patch_size() const;

  DiscriminatorOptions options;
  torch::nn::Sequential model{nullptr};
  torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(Discriminator);

}  // namespace unipet::nn
