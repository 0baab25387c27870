#include "unipet/infer/blend.h"

#include <cmath>
#include <vector>

#include "unipet/core/error.h"

// The only part of fitting that touches images: one validation image reduced to sums, so the fit
// itself (blend_fit.cpp) works on a few numbers per image however many images there are.

namespace unipet::infer {

BlendObservation blend_observation(const torch::Tensor& input, const torch::Tensor& network,
                                   const torch::Tensor& full_dose, const torch::Tensor& mask, double drf,
                                   double log2_n) {
  UNIPET_CHECK(input.sizes() == network.sizes() && input.sizes() == full_dose.sizes(),
               "blend: input " << input.sizes() << ", network output " << network.sizes() << " and full dose "
                               << full_dose.sizes() << " differ in shape");
  UNIPET_CHECK(!mask.defined() || mask.sizes() == input.sizes(), "blend: the mask's shape " << mask.sizes()
                                                                                            << " is not the image's");
  auto select = [&](const torch::Tensor& t) {
    const auto d = t.to(torch::kCPU, torch::kFloat64);
    return mask.defined() ? d.masked_select(mask.to(torch::kCPU, torch::kBool)) : d.flatten();
  };
  const auto x = select(input), f = select(network), step = f - x, target = select(full_dose) - x;
  const auto product = step * target, square = step.square();
  BlendObservation o;
  o.drf = drf, o.log2_n = log2_n;
  o.numerator = product.sum().item<double>(), o.denominator = square.sum().item<double>();
  // The fine grid of log2 f: the fit chooses its bands from the pooled counts.
  const auto level = f.clamp_min(std::exp2(kBlendGridLog2Low)).log2();
  const auto bin = ((level - kBlendGridLog2Low) / kBlendGridLog2Step).floor().clamp(0, kBlendGridBins - 1).to(torch::kLong);
  auto sums = [&](const torch::Tensor& weights) {
    const auto t = torch::bincount(bin, weights, kBlendGridBins).to(torch::kFloat64).contiguous();
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + kBlendGridBins);
  };
  o.bin_numerator = sums(product);
  o.bin_denominator = sums(square);
  o.bin_count = sums(torch::ones_like(level));
  o.bin_log2_sum = sums(level);
  // The step limits: the same sums with the step cut at each k × the whole image's step scale
  // (as denoise computes it, without the mask).
  o.input_error = target.square().sum().item<double>();
  const double scale = blend_step_scale(input, network);
  for (double k : kBlendStepLimits) {
    const auto cut = limit_step(x, f, k * scale).to(torch::kFloat64) - x;
    const auto cut_product = cut * target, cut_square = cut.square();
    BlendSums limited;
    limited.numerator = cut_product.sum().item<double>(), limited.denominator = cut_square.sum().item<double>();
    limited.bin_numerator = sums(cut_product), limited.bin_denominator = sums(cut_square);
    o.limited.push_back(std::move(limited));
  }
  return o;
}

}  // namespace unipet::infer
