// `unipet demo`: the whole workflow on one simulated study (workflow/demo.h).
#include <iostream>
#include <memory>

#include "commands.h"
#include "unipet/workflow/demo.h"

namespace unipet::cli {

void setup_demo(CLI::App& app) {
  auto a = std::make_shared<workflow::DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Simulate one low-dose study at a few DRFs, denoise it with the shipped model, score it against the full "
      "dose and write an HTML report; prints PSNR and SSIM of low dose and denoised per DRF");
  cmd->add_option("-o,--out", a->out, "Demo folder (new, or an earlier demo's, which is reused)")->capture_default_str();
  cmd->add_option("-m,--model", a->model, "UniPET model file (default: the shipped model)");
  cmd->add_option("--drf", a->drfs, "Dose reduction factors, comma separated")->delimiter(',')->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the simulated study")->check(seed_check())->capture_default_str();
  cmd->add_option("--matrix", a->matrix, "Phantom transaxial size (voxels of 4 mm; smaller is faster)")->capture_default_str();
  cmd->add_option("--slices", a->slices, "Phantom axial size (voxels of 4 mm)")->capture_default_str();
  add_compute_options(cmd, a->compute);
  cmd->callback([a] { std::cout << workflow::run_demo(*a, std::cerr).table(); });
}

}  // namespace unipet::cli
