#include "unipet/nn/bdn.h"

#include "unipet/core/error.h"

namespace unipet::nn {

torch::Tensor channel_style_statistics(const torch::Tensor& x) {
  UNIPET_CHECK(x.dim() == 5, "channel_style_statistics: expected [N, C, D, H, W], got " << x.sizes());
  UNIPET_CHECK(x.size(2) * x.size(3) * x.size(4) > 1,
               "channel_style_statistics: need more than one voxel for an unbiased std");
  auto flat = x.flatten(2);
  // std_mean computes both in one pass over the (large) feature map.
  auto [std, mean] = torch::std_mean(flat, {2}, /*unbiased=*/true);
  return torch::cat({mean, std}, 1);
}

ResModBlockImpl::ResModBlockImpl(const ResModBlockOptions& options_) : options(options_) {
  UNIPET_CHECK(options.channels() > 0 && options.latent_size() > 0,
               "ResModBlockOptions: channels and latent_size must be positive");
  const int64_t c = options.channels();
  convmod1 = register_module(
      "convmod1", ModulatedConv3d(ModulatedConv3dOptions(c, c).kernel_size(options.kernel_size())));
  act = register_module("act", torch::nn::PReLU());
  convmod2 = register_module(
      "convmod2", ModulatedConv3d(ModulatedConv3dOptions(c, c).kernel_size(options.kernel_size())));
  res_scale = register_parameter("res_scale", torch::ones({1, c, 1, 1, 1}));
  sw1 = register_module("sw1", torch::nn::Conv3d(torch::nn::Conv3dOptions(options.latent_size(), c, 1)));
  sw2 = register_module("sw2", torch::nn::Conv3d(torch::nn::Conv3dOptions(options.latent_size(), c, 1)));
}

torch::Tensor ResModBlockImpl::activate(torch::Tensor h) {
  // Inference on the CPU: a one-slope PReLU is leaky_relu, and doing it in place on the fresh
  // convolution output skips a feature-map allocation (4× faster than prelu in float32).
  if (!torch::GradMode::is_enabled() && h.is_cpu() && act->weight.numel() == 1) {
    return torch::leaky_relu_(h, act->weight.item<double>());
  }
  return act(h);
}

BlockOutput ResModBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& latent, bool with_style) {
  const int64_t n = x.size(0), c = options.channels();
  torch::Tensor style1, style2;  // undefined: zero style codes
  if (latent.defined()) {
    UNIPET_CHECK(latent.dim() == 5 && latent.size(0) == n && latent.size(1) == options.latent_size(),
                 "ResModBlock: latent must be [" << n << ", " << options.latent_size()
                                                 << ", 1, 1, 1], got " << latent.sizes());
    style1 = sw1(latent).view({n, c});
    style2 = sw2(latent).view({n, c});
  }
  const auto h = activate(convmod1(x, style1));
  torch::Tensor out;
  if (torch::GradMode::is_enabled()) {
    out = torch::addcmul(x, convmod2(h, style2), res_scale);  // x + res · res_scale, one pass
  } else {
    // Inference: res_scale folded into conv2's weights and the skip added in place into the
    // fresh convolution output, so no extra feature map is allocated or read.
    out = convmod2(h, style2, res_scale).add_(x);
  }
  return {out, with_style ? channel_style_statistics(out) : torch::Tensor()};
}

}  // namespace unipet::nn
