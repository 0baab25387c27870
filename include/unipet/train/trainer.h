#pragma once
/// The paper's training recipe as one call: BDN pre-training, critic pre-training, and UniPET
/// with style alignment and the region-aware WGAN-GP adversarial loss (RALS).
///
///   unipet::train::TrainOptions o;
///   o.config = unipet::train::load_train_config("cpu");
///   o.config.stage = unipet::train::Stage::BDN;
///   o.dataset = "data/sim/dataset.json";
///   o.out = "runs/bdn";
///   auto result = unipet::train::train(o);
///
/// The run folder `out` receives config.json (the resolved configuration), log.jsonl (one JSON
/// object per logged step and per validation), checkpoint_latest.pt and checkpoint_best.pt
/// (by mean validation PSNR), model_final.safetensors and model_best.safetensors (UniPET model
/// files for inference; the bdn stage writes them with the SAN bypassed) and, when a critic was
/// trained, critic_final.safetensors. Every file is written atomically.
///
/// Determinism: the patch stream and every random draw are functions of (seed, step), so on the
/// CPU in float32 a run stopped at step N and continued gives bit-for-bit the weights of a run
/// that never stopped.
///
/// Data parallel (`options.group`): rank r trains on samples r·batch .. (r + 1)·batch − 1 of each
/// step's stream and the gradients are averaged over the ranks before clipping and AdamW, so W
/// ranks of `batch` patches follow one process with W·batch patches to float32 round-off. Every
/// loss is a mean over equal-sized per-rank batches, the WGAN-GP interpolation weights are drawn
/// per global sample, and the networks hold no batch statistics, so the averaged gradient is the
/// global batch's. Checkpoints hold no world size: a run continues on any number of ranks.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "unipet/core/volume.h"
#include "unipet/train/config.h"
#include "unipet/train/distributed.h"

namespace unipet::train {

struct TrainOptions {
  TrainConfig config;
  std::string dataset;  ///< dataset.json
  std::string out;      ///< run folder: new or empty, or with `resume` a run folder
  /// The command line that started this invocation, recorded in model files
  /// ("unipet.train.command") so anyone can see how a model was made; empty: not recorded.
  std::string command;
  /// Continue from out/checkpoint_latest.pt (`--continue`); without one yet (a run stopped
  /// before its first checkpoint), start again from config.init.
  bool resume = false;
  torch::Device device = torch::kCPU;
  bool bf16 = false;  ///< autocast the generator's convolutions to bfloat16
  /// Polled after every step; true makes the run write a checkpoint and return (SIGINT/SIGTERM).
  std::function<bool()> should_stop;
  std::ostream* progress = nullptr;  ///< progress and validation lines; null: silent
  /// Data-parallel training (see distributed.h): every rank calls train() with the same options
  /// and `config.batch` patches of its own per step; rank 0 alone writes to `out` and prints.
  /// Null: one process.
  std::shared_ptr<ProcessGroup> group;
};

struct TrainResult {
  int64_t step = 0;          ///< steps completed
  bool interrupted = false;  ///< stopped by should_stop before `iterations`
  double best_score = -std::numeric_limits<double>::infinity();  ///< best mean validation PSNR (dB)
  int64_t best_step = -1;
  double last_score = std::numeric_limits<double>::quiet_NaN();   ///< last mean validation PSNR
  double input_score = std::numeric_limits<double>::quiet_NaN();  ///< mean PSNR of the low-dose crops
  /// Distributed runs: a hash of this rank's final weights (generator and critic), equal on every
  /// rank when the replicas agree bit for bit. Empty in one process.
  std::string weights_fingerprint;
};

/// Runs `options.config.stage` (config validated first), reading the dataset's images with
/// `read_volume` (given each resolved path; e.g. volumes kept in memory), which the sampler's
/// background thread calls too, so it must be thread-safe. Throws unipet::Error naming the file
/// or key at fault before anything is written: an invalid configuration, a dataset without the
/// requested DRF or split, an `init` model of another shape, an output that is not new.
TrainResult train(const TrainOptions& options, const VolumeReader& read_volume);

/// The same, reading the image files with io::read_image. Defined in unipet::core, not in the
/// ITK-free unipet::compute.
TrainResult train(const TrainOptions& options);

}  // namespace unipet::train
