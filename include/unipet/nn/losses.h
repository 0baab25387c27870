#pragma once
/// UniPET's training losses and the RALS stylized-region mask. Shapes: images [N, 1, D, H, W],
/// styles [N, S], critic scores [N, 1]. All return tensors that carry gradients: scalars, or one
/// value per sample where the name says so.
///
///   auto out = model->forward_with_style(low);
///   auto loss = reconstruction_loss(out.image, full)
///             + 0.001 * style_alignment_loss(out.style, model->style_target(full));
#include <torch/torch.h>

#include "unipet/nn/discriminator.h"

namespace unipet::nn {

/// Mean absolute error between the denoised and the full-dose image.
torch::Tensor reconstruction_loss(const torch::Tensor& output, const torch::Tensor& target);

/// Mean absolute error between the low-dose path's style and the full-dose style target.
/// Mean absolute error of each sample: [N, ...] -> [N] (what per-sample weights multiply).
torch::Tensor per_sample_l1(const torch::Tensor& output, const torch::Tensor& target);

/// The lesion term of each sample, [N, 1, D, H, W] -> [N]: the mean over `scales` pool sizes
/// (2, 4, ..., 2^scales) of L1(max_pool(output), max_pool(target)) + L1(avg_pool(output),
/// avg_pool(target)). Max pooling keeps a lesion's peak, average pooling its mean, so a
/// prediction that flattens a small hot spot pays for it even when the voxel-wise L1 barely
/// notices. Every side must be at least 2^scales.
torch::Tensor lesion_loss(const torch::Tensor& output, const torch::Tensor& target, int64_t scales);

torch::Tensor style_alignment_loss(const torch::Tensor& style, const torch::Tensor& target_style);

/// WGAN critic loss: mean(D(fake)) − mean(D(real)).
torch::Tensor critic_loss(const torch::Tensor& d_real, const torch::Tensor& d_fake);

/// WGAN generator loss: −mean(D(fake)).
torch::Tensor generator_adversarial_loss(const torch::Tensor& d_fake);

/// WGAN-GP penalty λ · mean((‖∇D(x̂)‖₂ − 1)²) at x̂ = α·real + (1−α)·fake, α [N, 1, 1, 1, 1].
/// The graph is kept (create_graph) so the penalty can be back-propagated into the critic.
torch::Tensor gradient_penalty(Discriminator& critic, const torch::Tensor& real,
                               const torch::Tensor& fake, const torch::Tensor& alpha,
                               double lambda = 10.0);

/// As above with α drawn uniformly in [0, 1) per sample from `generator` (default generator when
/// undefined).
torch::Tensor gradient_penalty(Discriminator& critic, const torch::Tensor& real,
                               const torch::Tensor& fake, double lambda = 10.0,
                               c10::optional<torch::Generator> generator = c10::nullopt);

/// Local variance E[x²] − E[x]² over a 3x3x3 box (zero padding counted in the mean, as PyTorch's
/// avg_pool3d(3, 1, 1)), in the units of `full_dose` squared.
torch::Tensor local_variance(const torch::Tensor& full_dose);

/// 1 where local_variance(full_dose) >= threshold (the "stylized" voxels the critic sees), else 0;
/// same dtype and shape as `full_dose`.
torch::Tensor stylized_region_mask(const torch::Tensor& full_dose, double threshold);

}  // namespace unipet::nn
