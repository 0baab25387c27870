#include <iostream>

#include "commands.h"
#include "unipet/infer/speed.h"

namespace unipet::cli {

void setup_speed(CLI::App& app) {
  auto options = std::make_shared<infer::SpeedOptions>();
  auto* cmd = app.add_subcommand("speed", "Time the network on a synthetic PET volume (random weights, or --model): shape, parameters, seconds per forward");
  cmd->add_option("--size", options->size(), "Cube side of the synthetic volume (voxels)")->capture_default_str();
  cmd->add_option("-m,--model", options->model_path(), "Model file (default: a fresh default UniPET)");
  // --precision as in every other command; --dtype, its older name here, still works.
  ComputeHelp help;
  help.precision_names = "--precision,--dtype";
  add_compute_options(cmd, options->compute(), help);
  cmd->add_option("--repeats", options->repeats(), "Timed forward passes")->capture_default_str();
  cmd->add_option("--seed", options->seed(), "Seed for weights and volume")->check(seed_check())->capture_default_str();
  cmd->callback([options] { std::cout << infer::run_speed_check(*options).summary(); });
}

}  // namespace unipet::cli
