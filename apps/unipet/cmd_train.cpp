#include <atomic>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/train/config.h"
#include "unipet/train/trainer.h"

namespace unipet::cli {

namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void request_stop(int) { g_stop_requested.store(true); }

struct TrainCliOptions {
  std::string dataset;
  std::string out;
  std::optional<std::string> stage;
  std::optional<std::string> config;  ///< preset name or JSON file; default "paper"
  std::vector<std::string> settings;  ///< --set key=value
  std::vector<double> drfs;           ///< --drf (DRF-specific baselines)
  std::string init, init_critic;
  bool resume = false;
  std::string device = "auto";
  std::string precision = "fp32";
  int threads = 0;
};

void run_train(const TrainCliOptions& a) {
  train::TrainOptions o;
  if (a.resume) {
    // A continued run keeps its own configuration; --set may still change it (e.g. iterations).
    UNIPET_CHECK(!a.config,
                 "--config: a continued run uses its saved configuration (change keys with --set)");
    const std::string saved = (std::filesystem::path(a.out) / "config.json").string();
    UNIPET_CHECK(
        std::filesystem::is_regular_file(saved),
        "--continue: " << a.out
                       << " is not a run folder (no config.json); leave out --continue to start one");
    o.config = train::load_train_config(saved);
    UNIPET_CHECK(a.init.empty() && a.init_critic.empty(),
                 "--init: a continued run starts from its checkpoint (or, without one, from the --init it "
                 "was started with)");
    if (a.stage)
      UNIPET_CHECK(train::stage_from_string(*a.stage) == o.config.stage,
                   "--stage " << *a.stage << ": the run in " << a.out << " is a "
                              << train::to_string(o.config.stage) << " run");
  } else {
    UNIPET_CHECK(a.stage, "--stage is required (bdn, disc or unipet)");
    o.config = train::load_train_config(a.config.value_or("paper"));
    o.config.stage = train::stage_from_string(*a.stage);
    // Absolute, so a continued run finds them from any folder.
    if (!a.init.empty()) o.config.init = std::filesystem::absolute(a.init).lexically_normal().string();
    if (!a.init_critic.empty())
      o.config.init_critic = std::filesystem::absolute(a.init_critic).lexically_normal().string();
  }
  for (const std::string& s : a.settings) train::apply_setting(o.config, s);
  if (!a.drfs.empty()) o.config.drfs = a.drfs;
  o.config.validate();
  UNIPET_CHECK(a.precision == "fp32" || a.precision == "bf16",
               "--precision: expected fp32 or bf16, got '" << a.precision << "'");
  o.dataset = a.dataset;
  o.out = a.out;
  o.resume = a.resume;
  o.device = parse_device(a.device);
  o.bf16 = a.precision == "bf16";
  set_threads(resolve_threads(a.threads));
  o.progress = &std::cerr;
  // Ctrl-C or a scheduler's SIGTERM ends the step in progress, writes a checkpoint and exits 0.
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  o.should_stop = [] { return g_stop_requested.load(); };

  const train::TrainResult r = train::train(o);
  std::cout << std::fixed << std::setprecision(2);
  if (r.interrupted)
    std::cout << "interrupted at step " << r.step
              << "; checkpoint written. Resume with: unipet train --dataset " << a.dataset << " --out "
              << a.out << " --continue\n";
  else
    std::cout << "trained " << train::to_string(o.config.stage) << " for " << r.step << " steps; run folder "
              << a.out << "\n";
  if (r.best_step >= 0)
    std::cout << "best validation PSNR " << r.best_score << " dB at step " << r.best_step
              << " (low-dose input " << r.input_score << " dB)\n";
}

}  // namespace

void setup_train(CLI::App& app) {
  auto a = std::make_shared<TrainCliOptions>();
  auto* cmd =
      app.add_subcommand("train", "Train a stage: bdn (base network), disc (critic) or unipet (SAN + RALS)");
  cmd->add_option("--dataset", a->dataset, "dataset.json")->required();
  cmd->add_option("-o,--out", a->out, "Run folder (new, or with --continue an earlier run)")->required();
  cmd->add_option("--stage", a->stage, "bdn, disc or unipet");
  cmd->add_option("--config", a->config, "Preset (paper, cpu) or JSON file of settings; default paper");
  cmd->add_option("--set", a->settings,
                  "key=value over the configuration (repeatable), e.g. --set iterations=2000");
  cmd->add_option("--drf", a->drfs, "Train on these DRFs only (DRF-specific baselines)")->delimiter(',');
  cmd->add_option("--init", a->init, "Start from a model file or checkpoint (a BDN for disc and unipet)");
  cmd->add_option("--init-critic", a->init_critic,
                  "Start the unipet stage's critic from a disc-stage critic file");
  cmd->add_flag("--continue,-c", a->resume, "Resume the run in --out from its latest checkpoint");
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32 or bf16 (autocast convolutions)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0: all)")->capture_default_str();
  cmd->callback([a] { run_train(*a); });
}

}  // namespace unipet::cli
