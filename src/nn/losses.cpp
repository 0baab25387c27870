#include "unipet/nn/losses.h"

#include "unipet/core/error.h"

namespace unipet::nn {

torch::Tensor reconstruction_loss(const torch::Tensor& output, const torch::Tensor& target) {
  UNIPET_CHECK(output.sizes() == target.sizes(), "reconstruction_loss: output " << output.sizes()
                                                                                << " vs target " << target.sizes());
  return torch::l1_loss(output, target);
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
