#include "unipet/nn/modulated_conv.h"

#include "unipet/core/error.h"

namespace unipet::nn {

ModulatedConv3dImpl::ModulatedConv3dImpl(const ModulatedConv3dOptions& options_) : options(options_) {
  UNIPET_CHECK(options.in_channels() > 0 && options.out_channels() > 0,
               "ModulatedConv3dOptions: channels must be positive, got " << options.in_channels()
                                                                         << " -> " << options.out_channels());
  UNIPET_CHECK(options.kernel_size() > 0 && options.kernel_size() % 2 == 1,
               "ModulatedConv3dOptions: kernel_size must be odd, got " << options.kernel_size());
  UNIPET_CHECK(options.eps() > 0, "ModulatedConv3dOptions: eps must be positive");
  const int64_t k = options.kernel_size();
  weight = register_parameter(
      "weight", torch::empty({options.out_channels(), options.in_channels(), k, k, k}));
  reset_parameters();
}

void ModulatedConv3dImpl::reset_parameters() {
  // The reference's kaiming_normal_(a=0, fan_in, leaky_relu): std = sqrt(2 / fan_in).
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_normal_(weight, 0.0, torch::kFanIn, torch::kLeakyReLU);
}

torch::Tensor ModulatedConv3dImpl::modulated_weight(const torch::Tensor& style) const {
  UNIPET_CHECK(style.dim() == 2 && style.size(1) == options.in_channels(),
               "ModulatedConv3d: style must be [N, " << options.in_channels() << "], got "
                                                     << style.sizes());
  // Always in float32: a bfloat16 sum of 1728 squares would lose the demodulation's precision.
  // [N, 1, in, 1, 1, 1] * [1, out, in, k, k, k]
  auto w = weight.to(torch::kFloat32).unsqueeze(0) *
           (style.to(torch::kFloat32).view({style.size(0), 1, -1, 1, 1, 1}) + 1);
  auto demod = torch::rsqrt(w.pow(2).sum({2, 3, 4, 5}, /*keepdim=*/true) + options.eps());
  return w * demod;
}

torch::Tensor ModulatedConv3dImpl::forward(const torch::Tensor& x, const torch::Tensor& style,
                                           const torch::Tensor& output_scale) {
  UNIPET_CHECK(x.dim() == 5 && x.size(1) == options.in_channels(),
               "ModulatedConv3d: input must be [N, " << options.in_channels()
                                                     << ", D, H, W], got " << x.sizes());
  const int64_t n = x.size(0);
  const torch::Tensor s = style.defined() ? style : torch::zeros({n, options.in_channels()}, x.options());
  UNIPET_CHECK(s.size(0) == n, "ModulatedConv3d: style batch " << s.size(0) << " != input batch " << n);
  const int64_t pad = options.kernel_size() / 2;
  torch::Tensor w = modulated_weight(s);
  if (output_scale.defined()) {
    UNIPET_CHECK(output_scale.numel() == options.out_channels(),
                 "ModulatedConv3d: output_scale must have " << options.out_channels() << " values, got "
                                                            << output_scale.sizes());
    w = w * output_scale.to(torch::kFloat32).reshape({1, -1, 1, 1, 1, 1});
  }
  w = w.to(x.dtype());
  if (n == 1) return torch::conv3d(x, w[0], {}, 1, pad);
  // One grouped convolution handles a batch of different styles: sample n is group n.
  auto y = torch::conv3d(x.reshape({1, n * options.in_channels(), x.size(2), x.size(3), x.size(4)}),
                         w.reshape({n * options.out_channels(), options.in_channels(),
                                    w.size(3), w.size(4), w.size(5)}),
                         {}, 1, pad, 1, n);
  return y.view({n, options.out_channels(), x.size(2), x.size(3), x.size(4)});
}

}  // namespace unipet::nn
