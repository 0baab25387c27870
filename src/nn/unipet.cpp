#include "unipet/nn/unipet.h"

#include "unipet/core/error.h"

namespace unipet::nn {

UniPETImpl::UniPETImpl(const UniPETOptions& options_) : options(options_) {
  if (options.san_width() == 0) options.san_width(4 * options.width());
  UNIPET_CHECK(options.width() >= 16, "UniPETOptions: width must be at least 16 (the SAN attention works on width / 16 channels), got " << options.width());
  UNIPET_CHECK(options.blocks() > 0, "UniPETOptions: blocks must be positive, got " << options.blocks());
  UNIPET_CHECK(options.san_depth() > 0 && options.san_depth() <= options.blocks(),
               "UniPETOptions: san_depth must be in [1, blocks = " << options.blocks() << "], got "
                                                                   << options.san_depth());
  UNIPET_CHECK(options.san_width() >= 16,
               "UniPETOptions: san_width must be at least 16, got " << options.san_width());
  const int64_t w = options.width();
  conv0 = register_module("conv0", torch::nn::Conv3d(torch::nn::Conv3dOptions(1, w, 3).padding(1)));
  san = register_module("san", SAN(SANOptions(w).width(options.san_width()).depth(options.san_depth())));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.blocks(); ++i) {
    blocks->push_back(ResModBlock(ResModBlockOptions(w, options.san_width())));
  }
  reconstruct = register_module("reconstruct", torch::nn::Conv3d(torch::nn::Conv3dOptions(w, 1, 3).padding(1)));
}

UniPETOutput UniPETImpl::run(const torch::Tensor& x, bool with_style, bool add_input) {
  UNIPET_CHECK(x.dim() == 5 && x.size(1) == 1,
               "UniPET: input must be [N, 1, D, H, W], got " << x.sizes());
  UniPETOutput out;
  out.shallow_features = conv0(x);
  // One latent per block: each SAN latent drives a run of consecutive blocks.
  std::vector<torch::Tensor> block_latents(options.blocks());
  if (!san_bypassed_) {
    out.latents = san(out.shallow_features);
    const auto counts = blocks_per_latent(options.blocks(), options.san_depth());
    size_t b = 0;
    for (size_t k = 0; k < counts.size(); ++k) {
      for (int64_t j = 0; j < counts[k]; ++j) block_latents[b++] = out.latents[k];
    }
  }
  torch::Tensor features = out.shallow_features;
  std::vector<torch::Tensor> styles;
  for (int64_t i = 0; i < options.blocks(); ++i) {
    auto block_out = blocks[i]->as<ResModBlock>()->forward(features, block_latents[i], with_style);
    features = block_out.features;
    if (with_style) styles.push_back(block_out.style);
  }
  if (with_style) out.style = torch::cat(styles, 1);
  out.image = add_input ? reconstruct(features) + x : reconstruct(features);
  return out;
}

UniPETOutput UniPETImpl::forward_with_style(const torch::Tensor& x) { return run(x, true); }

torch::Tensor UniPETImpl::forward(const torch::Tensor& x) { return run(x, false).image; }

torch::Tensor UniPETImpl::residual(const torch::Tensor& x) { return run(x, false, false).image; }

torch::Tensor UniPETImpl::style_target(const torch::Tensor& full_dose) {
  torch::NoGradGuard no_grad;
  return forward_with_style(full_dose).style;
}

std::vector<torch::Tensor> UniPETImpl::style_parameters() const {
  std::vector<torch::Tensor> params = san->parameters();
  for (const auto& block : *blocks) {
    auto b = block->as<ResModBlock>();
    for (const auto& p : b->sw1->parameters()) params.push_back(p);
    for (const auto& p : b->sw2->parameters()) params.push_back(p);
  }
  return params;
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace unipet::nn
