#include <iostream>

#include "commands.h"
#include "unipet/infer/speed.h"

namespace unipet::cli {

void setup_speed(CLI::App& app) {
  auto options = std::make_shared<infer::SpeedOptions>();
  auto* cmd = app.add_subcommand("speed", "Time the network on a synthetic PET volume (random weights, or --model): shape, parameters, seconds per forward");
  cmd->add_option("--size", options->size(), "Cube side of the synthetic volume (voxels)")->capture_default_str();
  cmd->add_option("-m,--model", options->model_path(), "Model file (default: a fresh default UniPET)");
  cmd->add_option("--device", options->device(), "cpu, cuda, cuda:N or auto")->capture_default_str();
  // --precision as in every other command; --dtype, its older name here, still works.
  cmd->add_option("--precision,--dtype", options->precision(), "fp32 or bf16 (fp16 on CUDA)")->capture_default_str();
  cmd->add_option("--threads", options->threads(), "CPU threads (0: all)")->capture_default_str();
  cmd->add_option("--repeats", options->repeats(), "Timed forward passes")->capture_default_str();
  cmd->add_option("--seed", options->seed(), "Seed for weights and volume")->check(seed_check())->capture_default_str();
  cmd->callback([options] { std::cout << infer::run_speed_check(*options).summary(); });
}

}  // namespace unipet::cli
