#pragma once
/// The style alignment network (SAN): from BDN's shallow features it computes hierarchical
/// domain-knowledge embeddings (latents), one per encoder, that drive the residual blocks' styles.
///
///   unipet::nn::SAN san(unipet::nn::SANOptions(64));
///   std::vector<torch::Tensor> latents = san(shallow);   // 4 × [N, 256, 1, 1, 1]
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace unipet::nn {

struct ChannelAttentionOptions {
  explicit ChannelAttentionOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, reduction) = 4;
};

/// Squeeze-and-excitation: x · sigmoid(conv(relu(conv(avgpool(x))))).
class ChannelAttentionImpl : public torch::nn::Module {
 public:
  explicit ChannelAttentionImpl(const ChannelAttentionOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  ChannelAttentionOptions options;
  torch::nn::Sequential se{nullptr};  ///< conv 1x1 (C -> C/r), ReLU, conv 1x1 (C/r -> C), sigmoid
};
TORCH_MODULE(ChannelAttention);

struct SANEncoderOptions {
  SANEncoderOptions(int64_t in_channels, int64_t out_channels, int64_t latent_size)
      : in_channels_(in_channels), out_channels_(out_channels), latent_size_(latent_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, latent_size);
  TORCH_ARG(int64_t, projection_factor) = 4;  ///< the attention works on in_channels / this
};

/// 1x1 conv → PReLU → channel attention → strided 3x3x3 conv → PReLU → 1x1 conv → PReLU gives
/// the next (half-resolution) features; global average pool → 1x1 conv → PReLU gives the latent.
/// Every activation is its own PReLU (the reference shares one by accident).
class SANEncoderImpl : public torch::nn::Module {
 public:
  explicit SANEncoderImpl(const SANEncoderOptions& options);
  /// x [N, in, D, H, W] -> (features [N, out, ⌈D/2⌉, ⌈H/2⌉, ⌈W/2⌉], latent [N, latent, 1, 1, 1]).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);

  SANEncoderOptions options;
  torch::nn::Sequential conv1{nullptr}, conv2{nullptr}, fc{nullptr};  ///< the reference's names
  ChannelAttention att{nullptr};
};
TORCH_MODULE(SANEncoder);

struct SANOptions {
  explicit SANOptions(int64_t in_channels) : in_channels_(in_channels) {}
  TORCH_ARG(int64_t, in_channels);    ///< BDN width (shallow feature channels)
  TORCH_ARG(int64_t, width) = 256;    ///< encoder width and latent size
  TORCH_ARG(int64_t, depth) = 4;      ///< number of encoders = number of latents
};

class SANImpl : public torch::nn::Module {
 public:
  explicit SANImpl(const SANOptions& options);
  /// shallow [N, in, D, H, W] -> `depth` latents [N, width, 1, 1, 1], coarse to fine order of
  /// the encoders (first = highest resolution).
  std::vector<torch::Tensor> forward(const torch::Tensor& shallow);

  SANOptions options;
  torch::nn::ModuleList body{nullptr};
};
TORCH_MODULE(SAN);

/// How many consecutive residual blocks each latent drives: as even as possible, the first
/// latents take the remainder (8 blocks, 4 latents -> 2,2,2,2; 10 blocks -> 3,3,2,2).
std::vector<int64_t> blocks_per_latent(int64_t blocks, int64_t latents);

}  // namespace unipet::nn
