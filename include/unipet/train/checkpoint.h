#pragma once
/// Training checkpoints: everything a run needs to continue exactly where it stopped, in one file
/// written atomically (a temporary file renamed into place).
///
///   unipet::train::save_checkpoint("run/checkpoint_latest.pt", parts, state);
///   auto state = unipet::train::load_checkpoint("run/checkpoint_latest.pt", parts, device);
///
/// The file is a LibTorch archive holding the generator, the critic, both AdamW optimizers (moments
/// and step counts), the step, the best validation score, and the resolved configuration as JSON.
/// The sampler needs no state of its own: its stream is a function of the seed and the step
/// (see PatchSampler). Model files for inference are written separately (nn::save_unipet).
#include <cstdint>
#include <limits>
#include <string>

#include <torch/torch.h>

#include "unipet/nn/discriminator.h"
#include "unipet/nn/unipet.h"

namespace unipet::train {

struct CheckpointState {
  int64_t step = 0;                                              ///< steps completed
  double best_score = -std::numeric_limits<double>::infinity();  ///< best mean validation PSNR, dB
  int64_t best_step = -1;
  std::string config_json;  ///< to_json(TrainConfig)
  /// Set by loading: the file held the generator's moving average (CheckpointParts::average).
  bool average_loaded = false;
};

/// What a checkpoint holds; a null critic or optimizer is left out (a BDN run has no critic).
struct CheckpointParts {
  nn::UniPET generator{nullptr};
  nn::Discriminator critic{nullptr};
  torch::optim::Optimizer* generator_optimizer = nullptr;
  torch::optim::Optimizer* critic_optimizer = nullptr;
  /// The generator's moving average (TrainConfig::ema). Optional when loading: a file saved
  /// without one leaves it as it is and average_loaded false.
  nn::UniPET average{nullptr};
};

/// Writes `parts` and `state` to `path` atomically.
void save_checkpoint(const std::string& path, const CheckpointParts& parts, const CheckpointState& state);

/// The bytes save_checkpoint writes (a distributed run sends rank 0's state to the other ranks).
std::string checkpoint_bytes(const CheckpointParts& parts, const CheckpointState& state);

/// load_checkpoint from checkpoint_bytes' output; `name` stands for the file in errors.
CheckpointState load_checkpoint_bytes(const std::string& bytes, const std::string& name,
                                      const CheckpointParts& parts, torch::Device device);

/// Loads into `parts` (modules and optimizers built with the same configuration) on `device`.
/// A part that is null in `parts` is skipped; a part that `parts` wants but the file lacks is an
/// error. Throws unipet::Error naming `path` on a missing, corrupt or mismatched file.
CheckpointState load_checkpoint(const std::string& path, const CheckpointParts& parts, torch::Device device);

/// The configuration JSON stored in a checkpoint (to rebuild the modules before loading).
std::string checkpoint_config(const std::string& path);

/// True when `path` looks like a checkpoint (ends in .pt) rather than a model file.
bool is_checkpoint_path(const std::string& path);

}  // namespace unipet::train
