#pragma once
/// StyleGAN2-style modulated 3D convolution, as used in every UniPET residual block.
///
///   unipet::nn::ModulatedConv3d conv(unipet::nn::ModulatedConv3dOptions(64, 64));
///   torch::Tensor y = conv(x, style);   // x [N, 64, D, H, W], style [N, 64] -> y [N, 64, D, H, W]
///
/// Per sample n the weight is w'[o, i, ...] = w[o, i, ...] · (style[n, i] + 1), demodulated by
/// rsqrt(Σ_{i,kd,kh,kw} w'² + eps) for every output channel o; "same" padding, stride 1, no bias.
/// The style scales *input* channels: that is what the reference code's broadcasting does and
/// what StyleGAN2 does. A zero style leaves a plain weight-normalised convolution.
#include <cstdint>

#include <torch/torch.h>

namespace unipet::nn {

struct ModulatedConv3dOptions {
  ModulatedConv3dOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size) = 3;  ///< odd, so "same" padding is symmetric
  TORCH_ARG(double, eps) = 1e-8;        ///< added to the squared norm before rsqrt
};

class ModulatedConv3dImpl : public torch::nn::Module {
 public:
  explicit ModulatedConv3dImpl(const ModulatedConv3dOptions& options);

  /// x: [N, in, D, H, W]; style: [N, in] (undefined means zeros). Returns [N, out, D, H, W].
  /// Batch 1 runs one plain convolution; N > 1 one grouped convolution (groups = N).
  /// `output_scale` [out], when given, multiplies each output channel; it is folded into the
  /// weights, so it costs no pass over the output.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& style,
                        const torch::Tensor& output_scale = {});

  /// The modulated, demodulated weights [N, out, in, k, k, k] for `style` [N, in], in float32.
  torch::Tensor modulated_weight(const torch::Tensor& style) const;

  void reset_parameters();

  ModulatedConv3dOptions options;
  torch::Tensor weight;  ///< [out, in, k, k, k]
};
TORCH_MODULE(ModulatedConv3d);

}  // namespace unipet::nn
