#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "commands.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/train/config.h"
#include "unipet/train/distributed.h"
#include "unipet/train/launcher.h"
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
  int nproc = 1;                  ///< --nproc: local workers to start (torchrun --nproc-per-node)
  std::vector<std::string> argv;  ///< the command line, for the workers --nproc starts
};

// The workers' command line: this executable and our arguments without --nproc.
std::vector<std::string> worker_command(const std::vector<std::string>& argv) {
  std::vector<std::string> command{std::filesystem::read_symlink("/proc/self/exe").string()};
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--nproc") {
      ++i;
      continue;
    }
    if (argv[i].rfind("--nproc=", 0) == 0) continue;
    command.push_back(argv[i]);
  }
  return command;
}

// Test hook (documented in tests/cli/test_cli_train_distributed.cpp): with
// UNIPET_TEST_KILL_RANK_AT_STEP=R:S, rank R kills itself with SIGKILL after its S-th step, the
// way an out-of-memory killer or a failed node ends a worker.
std::function<void()> test_kill_hook(int64_t rank) {
  const char* spec = std::getenv("UNIPET_TEST_KILL_RANK_AT_STEP");
  if (!spec) return {};
  int64_t kill_rank = -1, kill_step = -1;
  UNIPET_CHECK(std::sscanf(spec, "%" SCNd64 ":%" SCNd64, &kill_rank, &kill_step) == 2,
               "UNIPET_TEST_KILL_RANK_AT_STEP=" << spec << ": expected RANK:STEP");
  if (kill_rank != rank) return {};
  auto steps = std::make_shared<int64_t>(0);
  return [steps, kill_step] {
    if (++*steps == kill_step) std::raise(SIGKILL);
  };
}

// The command line as a shell would take it back (POSIX quoting), with the program as "unipet":
// model files record it, and a path to the binary says nothing about how the model was made.
std::string shell_command(const std::vector<std::string>& argv) {
  std::string line = "unipet";
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    const bool plain = !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_./=,:+-@%") == std::string::npos;
    line += ' ';
    if (plain) {
      line += arg;
      continue;
    }
    line += '\'';
    for (char ch : arg) line += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    line += '\'';
  }
  return line;
}

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
  for (const std::string& s : a.settings) {
    // Two options for one key: neither may silently win.
    UNIPET_CHECK(a.drfs.empty() || s.rfind("drfs=", 0) != 0,
                 "--drf and --set " << s << " both choose the DRFs; give one of them");
    train::apply_setting(o.config, s);
  }
  if (!a.drfs.empty()) o.config.drfs = a.drfs;
  o.config.validate();
  UNIPET_CHECK(a.precision == "fp32" || a.precision == "bf16",
               "--precision: expected fp32 or bf16, got '" << a.precision << "'");
  o.dataset = a.dataset;
  o.out = a.out;
  o.command = shell_command(a.argv);
  o.resume = a.resume;
  o.device = parse_device(a.device);
  o.bf16 = a.precision == "bf16";
  const train::DistributedEnvironment env = train::distributed_environment();
  if (a.nproc > 1) {
    UNIPET_CHECK(env.world_size == 1, "--nproc: this process is already rank " << env.rank << " of "
                                                                               << env.world_size << " ("
                                                                               << env.source
                                                                               << " environment); use one launcher");
    // The options were checked above, once, before any worker starts.
    train::LaunchOptions launch;
    launch.command = worker_command(a.argv);
    launch.nproc = a.nproc;
    train::launch_local_workers(launch);
    return;
  }
  int threads = resolve_threads(a.threads);
  if (env.world_size > 1) {
    // One GPU per local rank, and the cores shared among the local ranks (torchrun's
    // OMP_NUM_THREADS=1 would leave cores idle on a CPU-only machine).
    if (o.device.is_cuda() && !o.device.has_index())
      o.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
    if (a.threads == 0)
      threads = std::max<int>(1, static_cast<int>(std::thread::hardware_concurrency() / env.local_world_size));
  }
  set_threads(threads);
  o.progress = &std::cerr;
  // Ctrl-C or a scheduler's SIGTERM ends the step in progress, writes a checkpoint and exits 0.
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  o.should_stop = [hook = test_kill_hook(env.rank)] {
    if (hook) hook();
    return g_stop_requested.load();
  };
  if (env.world_size > 1) o.group = train::ProcessGroup::connect(env, o.device);

  const train::TrainResult r = train::train(o);
  if (o.group) std::cout << "rank " << env.rank << " weights fingerprint " << r.weights_fingerprint << "\n";
  if (env.rank != 0) return;
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

void setup_train(CLI::App& app, int argc, char** argv) {
  auto a = std::make_shared<TrainCliOptions>();
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
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32 or bf16 (autocast convolutions)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads per process (0: all, shared among local ranks)")
      ->capture_default_str();
  cmd->add_option("--nproc", a->nproc,
                  "Start N local workers, data-parallel (as torchrun --nproc-per-node N); without it a "
                  "torchrun or Slurm environment (RANK, WORLD_SIZE, ...) makes this process one rank")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->callback([a] { run_train(*a); });
}

}  // namespace unipet::cli
