#pragma once
// How a run starts (run_start.cpp): the checks that a continued run is the run it continues, and
// the loading of --init and --init-critic. Internal to src/train (trainer.cpp).
#include <cstdint>
#include <filesystem>
#include <string>

#include <torch/torch.h>

#include "steps.h"
#include "unipet/train/config.h"

namespace unipet::train::detail {

/// Refuses, naming the key, a continued run whose configuration changes the network or what its
/// values mean (stage, width, blocks, SAN, critic, intensity mapping) against `saved_path`
/// (the run's config.json). Called before anything is written.
void check_same_network(const std::string& saved_path, const TrainConfig& c);

/// Loads the generator that a run starts from (`init`: a model file or a checkpoint, whose critic
/// comes along when both have one of the same shape), refusing another shape or intensity mapping.
void load_init(Networks& n, const TrainConfig& c, const std::string& init, torch::Device device);

/// Loads c.init_critic into the run's critic, refusing another critic shape.
void load_init_critic(Networks& n, const TrainConfig& c, torch::Device device);

/// Keeps the log lines of steps up to `step` (a resumed run repeats nothing).
void trim_log(const std::filesystem::path& log, int64_t step);

}  // namespace unipet::train::detail
