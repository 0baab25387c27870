#include "unipet/infer/blend.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "unipet/core/error.h"
#include "unipet/core/percentile.h"

// Applying a blend: what denoising runs on every image, so it needs none of the fit's machinery.

namespace unipet::infer {

namespace {

// The square-root scale, sign kept, on which Poisson-like noise has about one SD at every level:
// a hot organ's larger absolute noise is not mistaken for structure, nor a cold region's smaller.
torch::Tensor stabilised(const torch::Tensor& t) { return t.sign() * t.abs().sqrt(); }
torch::Tensor unstabilised(const torch::Tensor& t) { return t * t.abs(); }

}  // namespace

double blend_step_scale(const torch::Tensor& input, const torch::Tensor& network) {
  UNIPET_CHECK(input.sizes() == network.sizes(), "blend: input " << input.sizes() << " and network output "
                                                                 << network.sizes() << " differ in shape");
  const auto f = network.detach().to(torch::kCPU, torch::kFloat32);
  const auto x = input.detach().to(torch::kCPU, torch::kFloat32);
  const auto level = f.abs();
  const auto body = level > static_cast<float>(0.05 * percentile(level, 99.9));
  const auto step = (stabilised(f) - stabilised(x)).abs().masked_select(body);
  return step.numel() > 0 ? 1.4826 * unipet::median(step) : 0.0;
}

torch::Tensor limit_step(const torch::Tensor& input, const torch::Tensor& network, double bound) {
  UNIPET_CHECK(input.sizes() == network.sizes(), "blend: input " << input.sizes() << " and network output "
                                                                 << network.sizes() << " differ in shape");
  UNIPET_CHECK(bound >= 0, "blend: step bound " << bound << " is negative");
  const auto f = network.to(input.device(), input.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32);
  if (std::isinf(bound)) return f;
  const auto x = input.to(f.scalar_type());
  const auto sx = stabilised(x);
  return unstabilised(sx + (stabilised(f) - sx).clamp(-bound, bound));
}

namespace {

// Linear in log2 n between knots, clamped beyond the ends: `value(k)` of each knot.
template <typename Value>
double interpolate_knots(const std::vector<BlendKnot>& knots, double log2_n, Value value) {
  UNIPET_CHECK(!knots.empty(), "blend: no knots");
  if (log2_n <= knots.front().log2_n) return value(knots.front());
  if (log2_n >= knots.back().log2_n) return value(knots.back());
  size_t i = 1;
  while (knots[i].log2_n < log2_n) ++i;
  const BlendKnot &a = knots[i - 1], &b = knots[i];
  const double t = (log2_n - a.log2_n) / (b.log2_n - a.log2_n);
  return value(a) + t * (value(b) - value(a));
}

}  // namespace

double Blend::alpha_at(double log2_n) const {
  return interpolate_knots(knots, log2_n, [](const BlendKnot& k) { return k.alpha; });
}

std::vector<double> Blend::band_alpha_at(double log2_n) const {
  std::vector<double> out;
  for (size_t b = 0; b < band_centre_log2.size(); ++b)
    out.push_back(interpolate_knots(knots, log2_n, [b](const BlendKnot& k) { return k.band_alpha.at(b); }));
  return out;
}

torch::Tensor Blend::alpha_map(double log2_n, const torch::Tensor& network) const {
  if (!banded()) return torch::tensor(static_cast<float>(alpha_at(log2_n)), network.options().dtype(torch::kFloat32));
  const auto a = band_alpha_at(log2_n);
  const auto level = network.to(torch::kFloat32).clamp_min(static_cast<float>(std::exp2(kBlendGridLog2Low))).log2();
  // Piecewise linear in log2 f through (centre_b, α_b), constant beyond the end centres.
  auto alpha = torch::full_like(level, static_cast<float>(a.front()));
  for (size_t b = 0; b + 1 < a.size(); ++b) {
    const double width = band_centre_log2[b + 1] - band_centre_log2[b];
    alpha += static_cast<float>(a[b + 1] - a[b]) *
             ((level - static_cast<float>(band_centre_log2[b])) / static_cast<float>(width)).clamp(0, 1);
  }
  return alpha.clamp(0, 1);
}

bool Blend::limited() const {
  return std::any_of(knots.begin(), knots.end(), [](const BlendKnot& k) { return !std::isinf(k.step_limit); });
}

double Blend::step_limit_at(double log2_n) const {
  // 1/k is what varies smoothly: none (k = inf) is 1/k = 0, so a limit fades out towards it.
  const double inverse = interpolate_knots(knots, log2_n, [](const BlendKnot& k) { return 1 / k.step_limit; });
  return inverse > 0 ? 1 / inverse : kNoStepLimit;
}

torch::Tensor Blend::apply(const torch::Tensor& input, const torch::Tensor& network, double log2_n) const {
  const double k = step_limit_at(log2_n);
  // α follows the network's own level; only the step it scales is cut.
  const auto step = std::isinf(k) ? network : limit_step(input, network, k * blend_step_scale(input, network));
  if (!banded()) return apply_blend(input, step, alpha_at(log2_n));
  return apply_blend(input, step, alpha_map(log2_n, network.to(input.device())));
}

torch::Tensor apply_blend(const torch::Tensor& input, const torch::Tensor& network, double alpha) {
  UNIPET_CHECK(input.sizes() == network.sizes(), "blend: input " << input.sizes() << " and network output "
                                                                 << network.sizes() << " differ in shape");
  UNIPET_CHECK(alpha >= 0 && alpha <= 1, "blend: alpha " << alpha << " is outside [0, 1]");
  // The ends exactly: α = 0 must give the input bit for bit (a clean scan passes untouched).
  if (alpha == 0) return input.to(torch::kFloat32);
  if (alpha == 1) return network.to(torch::kFloat32);
  const auto x = input.to(torch::kFloat32);
  return x + static_cast<float>(alpha) * (network.to(x.device(), torch::kFloat32) - x);
}

torch::Tensor apply_blend(const torch::Tensor& input, const torch::Tensor& network, const torch::Tensor& alpha) {
  UNIPET_CHECK(input.sizes() == network.sizes(), "blend: input " << input.sizes() << " and network output "
                                                                 << network.sizes() << " differ in shape");
  const auto x = input.to(torch::kFloat32);
  const auto a = alpha.to(x.device(), torch::kFloat32);
  UNIPET_CHECK(a.numel() > 0 && a.min().item<float>() >= 0 && a.max().item<float>() <= 1,
               "blend: alpha is outside [0, 1]");
  return x + a * (network.to(x.device(), torch::kFloat32) - x);
}

}  // namespace unipet::infer
