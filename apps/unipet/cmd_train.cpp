#include <atomic>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <memory>

#include "commands.h"
#include "unipet/train/train_request.h"

namespace unipet::cli {

namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void request_stop(int) { g_stop_requested.store(true); }

void run_train(const train::TrainRequest& a) {
  // Ctrl-C or a scheduler's SIGTERM ends the step in progress, writes a checkpoint and exits 0.
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  const train::TrainOutcome outcome =
      train::run_train_request(a, [] { return g_stop_requested.load(); }, &std::cerr);
  if (outcome.launched_workers) return;
  const train::TrainResult& r = outcome.result;
  if (outcome.distributed) std::cout << "rank " << outcome.rank << " weights fingerprint " << r.weights_fingerprint << "\n";
  if (outcome.rank != 0) return;
  std::cout << std::fixed << std::setprecision(2);
  if (r.interrupted)
    std::cout << "interrupted at step " << r.step
              << "; checkpoint written. Resume with: unipet train --dataset " << a.dataset << " --out "
              << a.out << " --continue\n";
  else
    std::cout << "trained " << train::to_string(outcome.stage) << " for " << r.step << " steps; run folder "
              << a.out << "\n";
  if (r.best_step >= 0)
    std::cout << "best validation PSNR " << r.best_score << " dB at step " << r.best_step
              << " (low-dose input " << r.input_score << " dB)\n";
}

}  // namespace

void setup_train(CLI::App& app, int argc, char** argv) {
  auto a = std::make_shared<train::TrainRequest>();
  a->argv.assign(argv, argv + argc);
  auto* cmd =
      app.add_subcommand("train", "Train a stage: bdn (base network), disc (critic) or unipet (SAN + RALS)");
  cmd->add_option("--dataset", a->dataset, "dataset.json")->required();
  cmd->add_option("-o,--out", a->out, "Run folder (new, or with --continue an earlier run)")->required();
  cmd->add_option("--stage", a->stage, "bdn, disc or unipet");
  cmd->add_option("--config", a->config, "Preset (paper, cpu, cpu-balanced) or JSON file of settings; default paper");
  cmd->add_option("--set", a->settings,
                  "key=value over the configuration (repeatable), e.g. --set iterations=2000");
  cmd->add_option("--drf", a->drfs, "Train on these DRFs only (DRF-specific baselines)")->delimiter(',');
  cmd->add_option("--init", a->init, "Start from a model file or checkpoint (a BDN for disc and unipet)");
  cmd->add_option("--init-critic", a->init_critic,
                  "Start the unipet stage's critic from a disc-stage critic file");
  cmd->add_flag("--continue,-c", a->resume, "Resume the run in --out from its latest checkpoint");
  ComputeHelp help;
  help.precisions = "fp32 or bf16 (autocast convolutions)";
  help.threads = "CPU threads per process (0: all, shared among local ranks)";
  add_compute_options(cmd, a->compute, help);
  cmd->add_option("--nproc", a->nproc,
                  "Start N local workers, data-parallel (as torchrun --nproc-per-node N); without it a "
                  "torchrun or Slurm environment (RANK, WORLD_SIZE, ...) makes this process one rank")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->callback([a] { run_train(*a); });
}

}  // namespace unipet::cli
