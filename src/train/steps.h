#pragma once
// One optimisation step of each stage, and validation. Internal to unipet::train.
#include <map>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "unipet/nn/discriminator.h"
#include "unipet/nn/unipet.h"
#include "unipet/train/config.h"
#include "unipet/train/distributed.h"
#include "unipet/train/sampler.h"

namespace unipet::train::detail {

/// Everything a run optimises. critic/critic_optimizer are null when the stage has no critic.
struct Networks {
  nn::UniPET generator{nullptr};
  /// The moving average of the generator's weights (config.ema > 0 and a stage that trains the
  /// generator), else null: what is validated and saved.
  nn::UniPET average{nullptr};
  nn::Discriminator critic{nullptr};
  std::unique_ptr<torch::optim::AdamW> generator_optimizer, critic_optimizer;
  bool bf16 = false;
  /// Data-parallel runs: gradients are averaged over its ranks after every backward pass, and
  /// validation crops are shared out among them. Null: one process.
  ProcessGroup* group = nullptr;
};

/// The parameters `optimizer` updates, in its order (what the all-reduce and clipping see).
std::vector<torch::Tensor> optimized_parameters(const torch::optim::Optimizer& optimizer);

/// Builds the generator (SAN bypassed for the bdn stage and for san=false), the critic when the
/// stage uses one, and their AdamW optimizers, seeded by config.seed, on `device`.
Networks build_networks(const TrainConfig& config, torch::Device device, bool bf16);

/// The network a run validates and saves: the average when there is one, else the generator.
nn::UniPET& model_of(Networks& n);

/// Sets the average's weights and buffers to the generator's (a new run, after --init, or a
/// checkpoint saved without an average). Does nothing without an average.
void reset_average(Networks& n);

/// average = decay × average + (1 − decay) × generator, for every parameter; buffers copied.
void update_average(Networks& n, double decay);

/// The voxels the adversarial terms see: the stylized mask (full-dose local variance in SUV²
/// >= stylized_threshold) with RALS, every voxel without. Both the critic and the generator are
/// shown image × mask, so with RALS no gradient reaches a voxel outside the stylized region.
torch::Tensor adversarial_mask(const TrainConfig& config, const torch::Tensor& full);

/// Per-sample loss weights [N] (dose_weighting): ones, or 1 / (the low-dose input's L1 on the
/// patch + dose_weight_floor × the patch's mean level).
torch::Tensor sample_weights(const TrainConfig& config, const torch::Tensor& low, const torch::Tensor& full);

/// The reconstruction part of the generator loss: plain L1 (the reference), or the weighted L1
/// plus lambda_lesion × the weighted lesion term. Logs "l1" (unweighted, always), "l1_weighted"
/// and "lesion" into `logged`.
torch::Tensor reconstruction_terms(const TrainConfig& config, const torch::Tensor& image, const torch::Tensor& low,
                                   const torch::Tensor& full, std::map<std::string, double>& logged);

struct StepLosses {
  std::map<std::string, double> values;  ///< loss terms by name, for the log
  double grad_norm = 0;                  ///< generator's (or the critic's, in the disc stage)
  int64_t reduced_bytes = 0;             ///< gradient bytes all-reduced in this step
  double reduce_seconds = 0;             ///< wall time of those all-reduces (waits for the slowest rank)
  /// Wall time of the generator step's phases: forward, critic, losses, backward, all_reduce,
  /// optimizer (what the trainer logs as the step's time split, with the data wait).
  std::map<std::string, double> seconds;
};

/// One critic update on `batch` against the generator's current output (WGAN-GP).
StepLosses critic_step(Networks& n, const TrainConfig& config, const Batch& batch, int64_t repeat);

/// One generator update: L1 (+ style alignment + adversarial term, as configured and staged).
/// In the unipet stage with a critic, the critic is updated first (critic_steps times) against
/// the same forward pass's output, then the generator against the updated critic: the
/// reference's order, with one generator forward pass where the reference makes two.
StepLosses generator_step(Networks& n, const TrainConfig& config, const Batch& batch);

/// Mean PSNR and SSIM (SUV, data range clip_max) per DRF over `crops`, of the generator's output
/// (or, with `input_only`, of the low-dose crops themselves). With a process group, rank r scores
/// crops r, r + world_size, ... and the sums are reduced: every rank returns the same scores.
struct ValidationScores {
  std::map<double, double> psnr, ssim;
  double mean_psnr = 0, mean_ssim = 0;
};
ValidationScores validate(Networks& n, const TrainConfig& config, const std::vector<ValidationCrop>& crops,
                          bool input_only);

}  // namespace unipet::train::detail
