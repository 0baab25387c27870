#pragma once
/// Every setting of a training run, in one validated struct that is saved with the run and in
/// every checkpoint.
///
///   auto cfg = unipet::train::load_train_config("cpu");          // a preset name or a JSON file
///   unipet::train::apply_setting(cfg, "iterations=2000");        // what --set key=value does
///   cfg.validate();
///   std::string json = unipet::train::to_json(cfg);              // every key, resolved
///
/// JSON keys are the field names below. Reading is strict: an unknown key, a value of the wrong
/// type or out of range is an error naming the key and where it came from.
#include <cstdint>
#include <string>
#include <vector>

#include "unipet/nn/intensity.h"

namespace unipet::train {

/// What a run trains (see unipet::train::train).
enum class Stage {
  BDN,     ///< the base network, SAN bypassed, L1 only (DRF-specific or vanilla universal)
  Critic,  ///< discriminator pre-training against a frozen generator ("disc")
  UniPET   ///< SAN + BDN with L1, style alignment and the region-aware adversarial loss
};

/// "bdn", "disc", "unipet".
std::string to_string(Stage stage);
/// Inverse of to_string; throws unipet::Error naming `option` on anything else.
Stage stage_from_string(const std::string& text, const std::string& option = "--stage");

struct TrainConfig {
  Stage stage = Stage::BDN;

  // Generator (UniPET / BDN) and critic shapes.
  int64_t width = 64;       ///< BDN feature channels
  int64_t blocks = 8;       ///< residual blocks
  int64_t san_width = 256;  ///< SAN encoder width = latent size
  int64_t san_depth = 4;    ///< SAN encoders
  int64_t critic_ndf = 16;  ///< the reference's Discriminator(ndf=16)
  int64_t critic_layers = 3;

  // Data.
  int64_t patch = 64;           ///< side of the cubic training patch, voxels
  int64_t batch = 2;            ///< patches per step
  std::vector<double> drfs;     ///< DRFs to train on; empty: every DRF of the dataset
  /// How SUV becomes a network value (nn::IntensityNormalization): "linear" (clip to
  /// [0, clip_max], ÷ clip_max: the reference), "sqrt" or "log" (no clip; scale intensity_scale).
  std::string intensity = "linear";
  double clip_max = 20.0;         ///< linear: SUV clipped to [0, clip_max], then divided by it
  double intensity_scale = 20.0;  ///< sqrt and log: the SUV that maps to 1 (sqrt) or log 2 (log)
  /// Share of samples that are identity pairs: the full dose as input and as target ("DRF 1"),
  /// so the network learns to leave a clean image alone. Their DRF is logged as 1.
  double identity_fraction = 0;
  double body_fraction = 0.8;   ///< share of patches centred on a body voxel
  /// Share of patches centred on one of the hottest 0.5% of the subject's body voxels (hot organs,
  /// lesions), where a network that smooths edges loses most at low DRF. Drawn only when > 0.
  double hot_fraction = 0;
  double body_threshold = 0.1;  ///< SUV above which a full-dose voxel is "body"
  bool augment = true;          ///< random flips and axis permutations
  double cache_gb = 4.0;        ///< memory for loaded volumes (least recently used evicted)
  int64_t prefetch = 2;         ///< batches prepared ahead by a background thread; 0: none
  std::string train_split = "train";
  std::string val_split = "val";

  // Optimisation (AdamW, as the reference).
  int64_t iterations = 300000;
  double lr = 1e-4;  ///< generator learning rate
  double lr_critic = 1e-4;
  double beta1 = 0.9, beta2 = 0.999;               ///< generator
  double beta1_critic = 0.9, beta2_critic = 0.99;  ///< critic
  double weight_decay = 0.01;                      ///< AdamW's default
  double grad_clip = 0;                            ///< max global gradient norm; 0: no clipping
  /// Decay of an exponential moving average of the generator's weights, updated after every
  /// generator step; when > 0 the average is what is validated and saved (model_best,
  /// model_final), the raw weights only train. 0: off, the raw weights are the model. The
  /// raw weights' validation swings by 1-2 dB between checkpoints 300 steps apart at lr 4e-4
  /// (results/benchmark/runs/balanced/log.jsonl), so a run's end point was a draw.
  double ema = 0;
  uint64_t seed = 1;

  // Losses.
  /// "none": plain L1 over the batch. "input_error": each sample's L1 is divided by the low-dose
  /// input's own L1 error on that patch (+ dose_weight_floor × the patch's mean full-dose value),
  /// so every DRF contributes comparably instead of the noisiest dominating; the term is then the
  /// share of the input's error left (1: no better than the input).
  std::string dose_weighting = "none";
  double dose_weight_floor = 0.01;
  /// Weight of the lesion term: L1 between max-pooled and between average-pooled prediction and
  /// full dose at lesion_scales scales (pool sizes 2, 4, 8, ...), which penalises lost local
  /// maxima and means (after LeqMod, arXiv 2404.17994). Weighted per sample like the L1.
  double lambda_lesion = 0;
  int64_t lesion_scales = 3;
  bool san = true;                    ///< false: the SAN is bypassed (ablation "w/o SAN")
  bool rals = true;                   ///< false: adversarial terms see the whole patch
  double lambda_align = 0.001;        ///< style alignment weight
  double lambda_adv = 0.001;          ///< generator adversarial weight; 0: no critic at all
  double lambda_gp = 10.0;            ///< WGAN-GP weight
  double stylized_threshold = 0.001;  ///< full-dose local variance (SUV²) that marks a stylized voxel
  int64_t critic_steps = 1;           ///< critic updates per generator update

  // Bookkeeping.
  int64_t log_every = 10;
  int64_t validate_every = 1000;  ///< 0: never
  int64_t checkpoint_every = 1000;
  int64_t val_crops = 4;     ///< validation crops per subject (each seen at every DRF)
  int64_t val_crop = 64;     ///< side of a validation crop, voxels
  int64_t val_subjects = 8;  ///< at most this many validation subjects; 0: all

  // Where the run starts (absolute paths; kept so a continued run that had no checkpoint yet
  // starts from the same place, and so model files record their origin).
  /// Generator: a UniPET model file (.safetensors) or a checkpoint (.pt; its critic is taken too
  /// when the stage has one). Required by the disc stage.
  std::string init;
  std::string init_critic;  ///< a discriminator model file for the unipet stage
  /// Allow `init` to come from a model of another intensity mapping (fine-tuning it into this
  /// run's mapping); otherwise such an init is refused.
  bool init_any_mapping = false;

  /// Throws unipet::Error naming the first key out of range.
  void validate() const;
  /// The intensity mapping of this run (intensity, clip_max, intensity_scale; units SUV).
  nn::IntensityNormalization normalization() const;
};

/// Names of the built-in presets: "paper" (the reference configuration), "cpu" (a smaller
/// network that learns in one to two hours on two CPU cores) and "cpu-balanced" (cpu with no
/// clip, dose-balanced loss, identity pairs and the lesion term).
std::vector<std::string> preset_names();

/// A preset by name, or a JSON file (keys override the "paper" defaults). Throws unipet::Error
/// naming the file and key.
TrainConfig load_train_config(const std::string& preset_or_file);

/// Every key with its value, as a pretty-printed JSON object.
std::string to_json(const TrainConfig& config);

/// Reads a JSON object of settings over `base`; `source` names it in errors.
TrainConfig train_config_from_json(const std::string& json, const std::string& source,
                                   const TrainConfig& base = TrainConfig());

/// Applies one "key=value" (the value parsed as JSON when it is JSON, else as a string, so
/// `drfs=[4,20]`, `rals=false` and `val_split=test` all work). Throws unipet::Error naming
/// "--set key" on an unknown key or a bad value.
void apply_setting(TrainConfig& config, const std::string& key_equals_value);

}  // namespace unipet::train
