#include "unipet/nn/san.h"

#include "unipet/core/error.h"

namespace unipet::nn {

namespace nn = torch::nn;

namespace {
nn::Conv3d conv(int64_t in, int64_t out, int64_t kernel, bool bias, int64_t stride = 1) {
  return nn::Conv3d(nn::Conv3dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(bias));
}

// A 1x1x1 convolution as one matrix product. LibTorch 1.13's CPU conv3d takes a slow path for
// 1x1x1 kernels (about 30× slower than the product here), and the SAN's 1x1 convolutions on full-
// resolution features were then most of UniPET's overhead over its 3x3x3 convolutions.
torch::Tensor pointwise(const nn::Conv3d& conv, const torch::Tensor& x) {
  const auto& w = conv->weight;
  auto y = torch::matmul(w.view({w.size(0), w.size(1)}), x.flatten(2));
  if (conv->options.bias()) y = y + conv->bias.view({-1, 1});
  return y.view({x.size(0), w.size(0), x.size(2), x.size(3), x.size(4)});
}
}  // namespace

ChannelAttentionImpl::ChannelAttentionImpl(const ChannelAttentionOptions& options_) : options(options_) {
  UNIPET_CHECK(options.reduction() > 0 && options.channels() >= options.reduction(),
               "ChannelAttentionOptions: channels (" << options.channels()
                                                     << ") must be at least the reduction ("
                                                     << options.reduction() << ")");
  const int64_t c = options.channels(), r = c / options.reduction();
  se = register_module("se", nn::Sequential(conv(c, r, 1, true), nn::ReLU(), conv(r, c, 1, true),
                                            nn::Sigmoid()));
}

torch::Tensor ChannelAttentionImpl::forward(const torch::Tensor& x) {
  return se->forward(torch::adaptive_avg_pool3d(x, {1, 1, 1})) * x;
}

SANEncoderImpl::SANEncoderImpl(const SANEncoderOptions& options_) : options(options_) {
  UNIPET_CHECK(options.projection_factor() > 0 && options.in_channels() >= options.projection_factor(),
               "SANEncoderOptions: in_channels " << options.in_channels()
                                                 << " is smaller than the projection factor");
  const int64_t a = options.in_channels() / options.projection_factor();
  project = conv(options.in_channels(), a, 1, false);
  downsample = conv(a, a, 3, false, 2);
  expand = conv(a, options.out_channels(), 1, false);
  to_latent = conv(options.out_channels(), options.latent_size(), 1, true);
  for (auto& act : acts) act = nn::PReLU();
  // The Sequentials only name the parameters as the reference does (conv1.0, conv2.3, fc.1, ...);
  // forward() calls the layers directly so 1x1 convolutions can run as matrix products.
  conv1 = register_module("conv1", nn::Sequential(project, acts[0]));
  att = register_module("att", ChannelAttention(ChannelAttentionOptions(a)));
  conv2 = register_module("conv2", nn::Sequential(downsample, acts[1], expand, acts[2]));
  fc = register_module("fc", nn::Sequential(nn::AdaptiveAvgPool3d(nn::AdaptiveAvgPool3dOptions(1)),
                                            to_latent, acts[3]));
}

std::pair<torch::Tensor, torch::Tensor> SANEncoderImpl::forward(const torch::Tensor& x) {
  auto h = att(acts[0](pointwise(project, x)));
  auto out = acts[2](pointwise(expand, acts[1](downsample(h))));
  auto latent = acts[3](pointwise(to_latent, torch::adaptive_avg_pool3d(out, {1, 1, 1})));
  return {out, latent};
}

SANImpl::SANImpl(const SANOptions& options_) : options(options_) {
  UNIPET_CHECK(options.depth() > 0, "SANOptions: depth must be positive, got " << options.depth());
  UNIPET_CHECK(options.width() > 0, "SANOptions: width must be positive, got " << options.width());
  body = register_module("body", nn::ModuleList());
  for (int64_t k = 0; k < options.depth(); ++k) {
    const int64_t in = k == 0 ? options.in_channels() : options.width();
    body->push_back(SANEncoder(SANEncoderOptions(in, options.width(), options.width())));
  }
}

std::vector<torch::Tensor> SANImpl::forward(const torch::Tensor& shallow) {
  std::vector<torch::Tensor> latents;
  torch::Tensor x = shallow;
  for (const auto& module : *body) {
    auto [features, latent] = module->as<SANEncoder>()->forward(x);
    x = features;
    latents.push_back(latent);
  }
  return latents;
}

std::vector<int64_t> blocks_per_latent(int64_t blocks, int64_t latents) {
  UNIPET_CHECK(latents > 0 && blocks >= latents,
               "need at least one residual block per SAN latent: " << blocks << " blocks, "
                                                                   << latents << " latents");
  std::vector<int64_t> counts(latents, blocks / latents);
  for (int64_t i = 0; i < blocks % latents; ++i) ++counts[i];
  return counts;
}

}  // namespace unipet::nn
