#include "unipet/nn/san.h"

#include "unipet/core/error.h"

namespace unipet::nn {

namespace nn = torch::nn;

namespace {
nn::Conv3d conv(int64_t in, int64_t out, int64_t kernel, bool bias, int64_t stride = 1) {
  return nn::Conv3d(nn::Conv3dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(bias));
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
  // Sequentials named as the reference's, so its state_dict keys (conv1.0, conv2.3, fc.1...) load.
  conv1 = register_module("conv1", nn::Sequential(conv(options.in_channels(), a, 1, false), nn::PReLU()));
  att = register_module("att", ChannelAttention(ChannelAttentionOptions(a)));
  conv2 = register_module("conv2", nn::Sequential(conv(a, a, 3, false, 2), nn::PReLU(),
                                                  conv(a, options.out_channels(), 1, false), nn::PReLU()));
  fc = register_module("fc", nn::Sequential(nn::AdaptiveAvgPool3d(nn::AdaptiveAvgPool3dOptions(1)),
                                            conv(options.out_channels(), options.latent_size(), 1, true),
                                            nn::PReLU()));
}

std::pair<torch::Tensor, torch::Tensor> SANEncoderImpl::forward(const torch::Tensor& x) {
  auto out = conv2->forward(att(conv1->forward(x)));
  return {out, fc->forward(out)};
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
