#include "unipet/nn/losses.h"

#include "unipet/core/error.h"

namespace unipet::nn {

torch::Tensor reconstruction_loss(const torch::Tensor& output, const torch::Tensor& target) {
  UNIPET_CHECK(output.sizes() == target.sizes(), "reconstruction_loss: output " << output.sizes()
                                                                                << " vs target " << target.sizes());
  return torch::l1_loss(output, target);
}

torch::Tensor per_sample_l1(const torch::Tensor& output, const torch::Tensor& target) {
  UNIPET_CHECK(output.sizes() == target.sizes() && output.dim() >= 2,
               "per_sample_l1: output " << output.sizes() << " vs target " << target.sizes());
  return (output - target).abs().flatten(1).mean(1);
}

torch::Tensor lesion_loss(const torch::Tensor& output, const torch::Tensor& target, int64_t scales) {
  UNIPET_CHECK(output.sizes() == target.sizes() && output.dim() == 5,
               "lesion_loss: output " << output.sizes() << " vs target " << target.sizes());
  UNIPET_CHECK(scales >= 1, "lesion_loss: scales must be >= 1, got " << scales);
  const int64_t largest = int64_t{1} << scales;
  for (int64_t axis = 2; axis < 5; ++axis)
    UNIPET_CHECK(output.size(axis) >= largest,
                 "lesion_loss: every side must be at least " << largest << ", got " << output.sizes());
  torch::Tensor total = torch::zeros({output.size(0)}, output.options());
  for (int64_t k = 1; k <= scales; ++k) {
    const int64_t size = int64_t{1} << k;
    total = total + per_sample_l1(torch::max_pool3d(output, size, size), torch::max_pool3d(target, size, size)) +
            per_sample_l1(torch::avg_pool3d(output, size, size), torch::avg_pool3d(target, size, size));
  }
  return total / static_cast<double>(scales);
}

torch::Tensor style_alignment_loss(const torch::Tensor& style, const torch::Tensor& target_style) {
  UNIPET_CHECK(style.sizes() == target_style.sizes(),
               "style_alignment_loss: style " << style.sizes() << " vs target " << target_style.sizes());
  return torch::l1_loss(style, target_style);
}

torch::Tensor critic_loss(const torch::Tensor& d_real, const torch::Tensor& d_fake) {
  return d_fake.mean() - d_real.mean();
}

torch::Tensor generator_adversarial_loss(const torch::Tensor& d_fake) { return -d_fake.mean(); }

torch::Tensor gradient_penalty(Discriminator& critic, const torch::Tensor& real,
                               const torch::Tensor& fake, const torch::Tensor& alpha, double lambda) {
  UNIPET_CHECK(real.sizes() == fake.sizes(),
               "gradient_penalty: real " << real.sizes() << " vs fake " << fake.sizes());
  UNIPET_CHECK(alpha.dim() == real.dim() && alpha.size(0) == real.size(0),
               "gradient_penalty: alpha must be [N, 1, 1, 1, 1], got " << alpha.sizes());
  auto interpolate = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(true);
  auto scores = critic(interpolate);
  auto grads = torch::autograd::grad({scores}, {interpolate}, {torch::ones_like(scores)},
                                     /*retain_graph=*/true, /*create_graph=*/true)[0];
  auto norms = grads.reshape({grads.size(0), -1}).norm(2, 1);
  return (norms - 1).pow(2).mean() * lambda;
}

torch::Tensor gradient_penalty(Discriminator& critic, const torch::Tensor& real,
                               const torch::Tensor& fake, double lambda,
                               c10::optional<torch::Generator> generator) {
  std::vector<int64_t> shape(real.dim(), 1);
  shape[0] = real.size(0);
  auto alpha = torch::rand(shape, generator, real.options());
  return gradient_penalty(critic, real, fake, alpha, lambda);
}

torch::Tensor local_variance(const torch::Tensor& full_dose) {
  UNIPET_CHECK(full_dose.dim() == 5, "local_variance: expected [N, C, D, H, W], got " << full_dose.sizes());
  auto mean_of_square = torch::avg_pool3d(full_dose * full_dose, 3, 1, 1);
  auto mean = torch::avg_pool3d(full_dose, 3, 1, 1);
  return mean_of_square - mean * mean;
}

torch::Tensor stylized_region_mask(const torch::Tensor& full_dose, double threshold) {
  return (local_variance(full_dose) >= threshold).to(full_dose.dtype());
}

}  // namespace unipet::nn
