#include "steps.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include "random_stream.h"
#include "unipet/core/error.h"
#include "unipet/eval/evaluation.h"
#include "unipet/eval/metrics.h"
#include "unipet/nn/losses.h"

namespace unipet::train::detail {
namespace {

// Autocast to bfloat16 for the generator's forward pass: its convolutions run in bfloat16 while
// the weights (the optimizer's master copy) and the losses stay float32.
class Autocast {
 public:
  Autocast(torch::Device device, bool enabled) : enabled_(enabled), device_(device) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(device_.type(), at::kBFloat16);
    at::autocast::set_autocast_enabled(device_.type(), true);
#else
    if (device_.is_cuda()) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~Autocast() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(device_.type(), false);
#else
    if (device_.is_cuda())
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
#endif
  }
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool enabled_;
  torch::Device device_;
};

bool uses_critic(const TrainConfig& c) {
  return c.stage == Stage::Critic || (c.stage == Stage::UniPET && c.lambda_adv > 0);
}

torch::Device device_of(const Networks& n) { return n.generator->conv0->weight.device(); }

// Global gradient norm of `params` (clipped to grad_clip when set).
double clip_gradients(const std::vector<torch::Tensor>& params, double grad_clip) {
  const double max_norm = grad_clip > 0 ? grad_clip : std::numeric_limits<double>::infinity();
  return torch::nn::utils::clip_grad_norm_(params, max_norm);
}

void set_requires_grad(torch::nn::Module& m, bool on) {
  for (auto& p : m.parameters()) p.requires_grad_(on);
}

// Averages the gradients of `params` over the ranks (a no-op in one process). Done before
// clipping, so the norm and the update are the global batch's on every rank.
void average_gradients(const Networks& n, const std::vector<torch::Tensor>& params, StepLosses& out) {
  if (!n.group) return;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) grads.push_back(p.grad());
  const auto start = std::chrono::steady_clock::now();
  out.reduced_bytes += n.group->all_reduce_mean(grads);
  out.reduce_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void check_finite(double value, const char* what, int64_t step) {
  UNIPET_CHECK(std::isfinite(value), "training diverged at step " << step + 1 << ": " << what << " is "
                                                                  << value
                                                                  << " (try a lower lr, or grad_clip)");
}

}  // namespace

std::vector<torch::Tensor> optimized_parameters(const torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> params;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  return params;
}

nn::UniPET& model_of(Networks& n) { return n.average ? n.average : n.generator; }

namespace {

// average = keep × average + (1 − keep) × generator for every parameter (keep 0: a plain copy,
// which also replaces a non-finite average); buffers are copied.
void pull_average(Networks& n, double keep) {
  if (!n.average) return;
  torch::NoGradGuard no_grad;
  const auto from = n.generator->parameters(), to = n.average->parameters();
  for (size_t i = 0; i < to.size(); ++i) {
    if (keep == 0)
      to[i].copy_(from[i]);
    else
      to[i].mul_(keep).add_(from[i], 1 - keep);
  }
  const auto from_b = n.generator->buffers(), to_b = n.average->buffers();
  for (size_t i = 0; i < to_b.size(); ++i) to_b[i].copy_(from_b[i]);
}

}  // namespace

void reset_average(Networks& n) { pull_average(n, 0); }

void update_average(Networks& n, double decay) { pull_average(n, decay); }

Networks build_networks(const TrainConfig& c, torch::Device device, bool bf16) {
  Networks n;
  n.bf16 = bf16;
  // Each network from a seed of its own, so the generator is the same whether a critic exists.
  torch::manual_seed(c.seed);
  n.generator = nn::UniPET(
      nn::UniPETOptions().width(c.width).blocks(c.blocks).san_width(c.san_width).san_depth(c.san_depth));
  n.generator->set_san_bypassed(c.stage == Stage::BDN || !c.san);
  n.generator->to(device);
  if (c.stage != Stage::Critic) {
    std::vector<torch::Tensor> params = n.generator->parameters();
    if (n.generator->san_bypassed()) {
      // The SAN and the style maps get no gradient when bypassed; leaving them out keeps AdamW's
      // weight decay from shrinking weights that a later stage starts from.
      std::set<const void*> style;
      for (const auto& p : n.generator->style_parameters()) style.insert(p.unsafeGetTensorImpl());
      std::vector<torch::Tensor> base;
      for (const auto& p : params)
        if (!style.count(p.unsafeGetTensorImpl())) base.push_back(p);
      params = base;
    }
    n.generator_optimizer =
        std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(c.lr)
                                                          .betas(std::make_tuple(c.beta1, c.beta2))
                                                          .weight_decay(c.weight_decay));
  } else {
    set_requires_grad(*n.generator, false);
  }
  if (c.ema > 0 && c.stage != Stage::Critic) {
    n.average = nn::UniPET(
        nn::UniPETOptions().width(c.width).blocks(c.blocks).san_width(c.san_width).san_depth(c.san_depth));
    n.average->set_san_bypassed(n.generator->san_bypassed());
    n.average->to(device);
    set_requires_grad(*n.average, false);
    reset_average(n);
  }
  if (uses_critic(c)) {
    torch::manual_seed(c.seed ^ 0x5bd1e995ULL);
    n.critic = nn::Discriminator(nn::DiscriminatorOptions().ndf(c.critic_ndf).n_layers(c.critic_layers));
    n.critic->to(device);
    n.critic_optimizer = std::make_unique<torch::optim::AdamW>(
        n.critic->parameters(), torch::optim::AdamWOptions(c.lr_critic)
                                    .betas(std::make_tuple(c.beta1_critic, c.beta2_critic))
                                    .weight_decay(c.weight_decay));
  }
  return n;
}

torch::Tensor adversarial_mask(const TrainConfig& c, const torch::Tensor& full) {
  if (!c.rals) return torch::ones_like(full);
  // The threshold is in SUV² (the reference thresholds the patch before normalisation).
  return nn::stylized_region_mask(c.normalization().denormalize(full), c.stylized_threshold);
}

namespace {

// One critic update against `fake` (the generator's current output, no gradient).
StepLosses critic_update(Networks& n, const TrainConfig& c, const Batch& batch, const torch::Tensor& full,
                         const torch::Tensor& fake, const torch::Tensor& mask, int64_t repeat) {
  const torch::Device device = device_of(n);
  const int64_t step = batch.step;
  const torch::Tensor real_seen = full * mask, fake_seen = fake * mask;
  // Interpolation weights from the step's own stream, so a resumed run draws the same ones; a
  // rank skips the weights of the samples before its own, so the ranks together draw those of
  // one process with the whole batch.
  RandomStream r(c.seed, static_cast<uint64_t>(step), 1000 + static_cast<uint64_t>(repeat));
  for (int64_t k = 0; k < batch.first_sample; ++k) r.next();
  std::vector<float> weights;
  for (int64_t k = 0; k < full.size(0); ++k) weights.push_back(static_cast<float>(r.uniform()));
  const torch::Tensor alpha = torch::tensor(weights).view({full.size(0), 1, 1, 1, 1}).to(device);

  const torch::Tensor d_real = n.critic->forward(real_seen), d_fake = n.critic->forward(fake_seen);
  const torch::Tensor wasserstein = nn::critic_loss(d_real, d_fake);
  const torch::Tensor gp = nn::gradient_penalty(n.critic, real_seen, fake_seen, alpha, c.lambda_gp);
  const torch::Tensor loss = wasserstein + gp;
  n.critic_optimizer->zero_grad();
  loss.backward();
  StepLosses out;
  average_gradients(n, n.critic->parameters(), out);
  out.grad_norm = clip_gradients(n.critic->parameters(), c.grad_clip);
  n.critic_optimizer->step();
  out.values["critic"] = loss.item<double>();
  out.values["gp"] = gp.item<double>();
  out.values["w_distance"] = -wasserstein.item<double>();
  out.values["stylized_fraction"] = mask.mean().item<double>();
  check_finite(out.values["critic"], "the critic loss", step);
  return out;
}

}  // namespace

torch::Tensor sample_weights(const TrainConfig& c, const torch::Tensor& low, const torch::Tensor& full) {
  if (c.dose_weighting == "none") return torch::ones({full.size(0)}, full.options());
  // The input's own error, floored by a share of the patch's level (or of 1 SUV in air), so an
  // identity pair or an empty patch gets a large but finite weight.
  const torch::Tensor level = full.abs().flatten(1).mean(1).clamp_min(c.normalization().normalize_value(1.0));
  return 1.0 / (nn::per_sample_l1(low, full) + c.dose_weight_floor * level);
}

torch::Tensor reconstruction_terms(const TrainConfig& c, const torch::Tensor& image, const torch::Tensor& low,
                                   const torch::Tensor& full, std::map<std::string, double>& logged) {
  if (c.dose_weighting == "none" && c.lambda_lesion == 0) {
    const torch::Tensor l1 = nn::reconstruction_loss(image, full);
    logged["l1"] = l1.item<double>();
    return l1;
  }
  const torch::Tensor l1 = nn::per_sample_l1(image, full);
  logged["l1"] = l1.mean().item<double>();
  const torch::Tensor w = sample_weights(c, low, full);
  torch::Tensor loss = (w * l1).mean();
  if (c.dose_weighting != "none") logged["l1_weighted"] = loss.item<double>();
  if (c.lambda_lesion > 0) {
    const torch::Tensor lesion = (w * nn::lesion_loss(image, full, c.lesion_scales)).mean();
    logged["lesion"] = lesion.item<double>();
    loss = loss + c.lambda_lesion * lesion;
  }
  return loss;
}

StepLosses critic_step(Networks& n, const TrainConfig& c, const Batch& batch, int64_t repeat) {
  const torch::Device device = device_of(n);
  const torch::Tensor low = batch.low.to(device), full = batch.full.to(device);
  torch::Tensor fake;
  {
    torch::NoGradGuard no_grad;
    Autocast autocast(device, n.bf16);
    fake = n.generator->forward(low);
  }
  return critic_update(n, c, batch, full, fake.to(torch::kFloat32), adversarial_mask(c, full), repeat);
}

StepLosses generator_step(Networks& n, const TrainConfig& c, const Batch& batch) {
  // Wall time of each phase (host time: on CUDA the kernels of a phase may still be running when
  // the next starts, so there the split shows where the host waits).
  auto mark = std::chrono::steady_clock::now();
  std::map<std::string, double> seconds;
  const auto lap = [&](const char* phase) {
    const auto now = std::chrono::steady_clock::now();
    seconds[phase] += std::chrono::duration<double>(now - mark).count();
    mark = now;
  };
  const torch::Device device = device_of(n);
  const torch::Tensor low = batch.low.to(device), full = batch.full.to(device);
  const bool align = c.stage == Stage::UniPET && c.lambda_align > 0;
  const bool adversarial = c.stage == Stage::UniPET && c.lambda_adv > 0 && n.critic;
  torch::Tensor image, style, target;
  {
    Autocast autocast(device, n.bf16);
    if (align) {
      nn::UniPETOutput out = n.generator->forward_with_style(low);
      image = out.image;
      style = out.style;
      target = n.generator->style_target(full);  // the full-dose style (no gradient)
    } else {
      image = n.generator->forward(low);
    }
  }
  image = image.to(torch::kFloat32);
  lap("forward");
  StepLosses out;
  int64_t critic_bytes = 0;
  double critic_seconds = 0;
  // One mask for the critic's and the generator's terms (a 3x3x3 variance of the patch).
  const torch::Tensor mask = adversarial ? adversarial_mask(c, full) : torch::Tensor();
  if (adversarial) {
    // The critic learns first, on this very output: the generator has not changed since, so this
    // is the reference's critic step without its second generator forward pass.
    for (int64_t r = 0; r < c.critic_steps; ++r) {
      out = critic_update(n, c, batch, full, image.detach(), mask, r);
      critic_bytes += out.reduced_bytes;
      critic_seconds += out.reduce_seconds;
    }
    lap("critic");
  }
  torch::Tensor loss = reconstruction_terms(c, image, low, full, out.values);
  if (align) {
    const torch::Tensor a = nn::style_alignment_loss(style.to(torch::kFloat32), target.to(torch::kFloat32));
    loss = loss + c.lambda_align * a;
    out.values["align"] = a.item<double>();
  }
  if (adversarial) {
    // Only the input's gradient is needed from the critic here.
    set_requires_grad(*n.critic, false);
    const torch::Tensor adv = nn::generator_adversarial_loss(n.critic->forward(image * mask));
    set_requires_grad(*n.critic, true);
    loss = loss + c.lambda_adv * adv;
    out.values["adv"] = adv.item<double>();
  }
  out.values["loss"] = loss.item<double>();
  check_finite(out.values["loss"], "the generator loss", batch.step);
  lap("losses");
  n.generator_optimizer->zero_grad();
  loss.backward();
  lap("backward");
  const std::vector<torch::Tensor> params = optimized_parameters(*n.generator_optimizer);
  out.reduced_bytes = critic_bytes;
  out.reduce_seconds = critic_seconds;
  average_gradients(n, params, out);
  lap("all_reduce");
  out.grad_norm = clip_gradients(params, c.grad_clip);
  n.generator_optimizer->step();
  lap("optimizer");
  // The critic's all-reduce is inside its phase; it is reported once, under all_reduce.
  if (adversarial) seconds["critic"] -= critic_seconds;
  seconds["all_reduce"] += critic_seconds;
  out.seconds = seconds;
  return out;
}

ValidationScores validate(Networks& n, const TrainConfig& c, const std::vector<ValidationCrop>& crops,
                          bool input_only) {
  torch::NoGradGuard no_grad;
  const torch::Device device = device_of(n);
  std::map<double, double> psnr_sum, ssim_sum;
  std::map<double, int64_t> count;
  const nn::IntensityNormalization norm = c.normalization();
  // The linear mapping's runs have always been scored on its own scale; the others on the
  // evaluation's data range.
  const double range = norm.mapping == nn::IntensityMapping::Linear ? c.clip_max : eval::EvaluationOptions().data_range;
  const size_t rank = n.group ? static_cast<size_t>(n.group->rank()) : 0;
  const size_t ranks = n.group ? static_cast<size_t>(n.group->world_size()) : 1;
  for (size_t i = rank; i < crops.size(); i += ranks) {
    const ValidationCrop& crop = crops[i];
    const torch::Tensor full = norm.denormalize(crop.full.to(torch::kFloat64));
    for (const auto& [drf, low] : crop.low) {
      torch::Tensor out = low;
      if (!input_only) {
        Autocast autocast(device, n.bf16);
        out = model_of(n)->forward(low.to(device));
      }
      out = norm.denormalize(out.to(torch::kCPU, torch::kFloat64));
      psnr_sum[drf] += eval::psnr(full, out, range);
      ssim_sum[drf] += eval::ssim(full, out, range);
      ++count[drf];
    }
  }
  if (n.group) {
    // Every rank knows every crop's DRFs, so all hold the same keys, in the same order.
    std::vector<double> sums;
    for (const ValidationCrop& crop : crops)
      for (const auto& entry : crop.low) {
        psnr_sum.emplace(entry.first, 0.0);
        ssim_sum.emplace(entry.first, 0.0);
        count.emplace(entry.first, 0);
      }
    for (const auto& [drf, k] : count) sums.insert(sums.end(), {psnr_sum[drf], ssim_sum[drf], double(k)});
    n.group->all_reduce(sums);
    size_t j = 0;
    for (auto& [drf, k] : count) {
      psnr_sum[drf] = sums[j++];
      ssim_sum[drf] = sums[j++];
      k = static_cast<int64_t>(sums[j++]);
    }
  }
  ValidationScores s;
  for (const auto& [drf, k] : count) {
    s.psnr[drf] = psnr_sum[drf] / static_cast<double>(k);
    s.ssim[drf] = ssim_sum[drf] / static_cast<double>(k);
    s.mean_psnr += s.psnr[drf] / static_cast<double>(count.size());
    s.mean_ssim += s.ssim[drf] / static_cast<double>(count.size());
  }
  return s;
}

}  // namespace unipet::train::detail
