#include "unipet/nn/discriminator.h"

#include <algorithm>

#include "unipet/core/error.h"

namespace unipet::nn {

namespace nn = torch::nn;

namespace {
nn::Conv3d strided_conv(int64_t in, int64_t out) {
  return nn::Conv3d(nn::Conv3dOptions(in, out, 4).stride(2).padding(1));
}
nn::LeakyReLU leaky() { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)); }
nn::InstanceNorm3d instance_norm(int64_t channels) {
  return nn::InstanceNorm3d(nn::InstanceNorm3dOptions(channels).affine(false).track_running_stats(false));
}
}  // namespace

DiscriminatorImpl::DiscriminatorImpl(const DiscriminatorOptions& options_) : options(options_) {
  UNIPET_CHECK(options.in_channels() > 0 && options.ndf() > 0,
               "DiscriminatorOptions: in_channels and ndf must be positive");
  UNIPET_CHECK(options.n_layers() >= 1 && options.n_layers() <= 6,
               "DiscriminatorOptions: n_layers must be in [1, 6], got " << options.n_layers());
  const int64_t ndf = options.ndf();
  // Module indices follow the reference's nn.Sequential so its state_dict keys load as they are.
  model = nn::Sequential(strided_conv(options.in_channels(), ndf), leaky());
  int64_t mult = 1;
  for (int64_t n = 1; n <= options.n_layers(); ++n) {
    const int64_t prev = mult;
    mult = std::min<int64_t>(int64_t{1} << n, 8);
    model->push_back(strided_conv(ndf * prev, ndf * mult));
    model->push_back(instance_norm(ndf * mult));
    model->push_back(leaky());
  }
  model->push_back(strided_conv(ndf * mult, 1));
  register_module("model", model);
  linear = register_module("linear", nn::Linear(8, 1));
}

int64_t DiscriminatorImpl::min_patch_size() const { return int64_t{1} << (options.n_layers() + 2); }

torch::Tensor DiscriminatorImpl::forward(const torch::Tensor& x) {
  UNIPET_CHECK(x.dim() == 5 && x.size(1) == options.in_channels(),
               "Discriminator: input must be [N, " << options.in_channels() << ", D, H, W], got "
                                                   << x.sizes());
  for (int d = 2; d < 5; ++d) {
    UNIPET_CHECK(x.size(d) >= min_patch_size(), "Discriminator: patch sides must be at least "
                                                    << min_patch_size() << ", got " << x.sizes());
  }
  auto scores = model->forward(x);
  if (scores.size(2) != 2 || scores.size(3) != 2 || scores.size(4) != 2) {
    scores = torch::adaptive_avg_pool3d(scores, {2, 2, 2});
  }
  return linear(scores.reshape({x.size(0), 8}));
}

}  // namespace unipet::nn
