#include "unipet/train/train_request.h"

#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "unipet/core/command_line.h"
#include "unipet/core/error.h"
#include "unipet/train/distributed.h"
#include "unipet/train/launcher.h"

namespace unipet::train {

namespace {

namespace fs = std::filesystem;

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

}  // namespace

TrainOptions resolve_train_request(const TrainRequest& a) {
  TrainOptions o;
  if (a.resume) {
    // A continued run keeps its own configuration; --set may still change it (e.g. iterations).
    UNIPET_CHECK(!a.config, "--config: a continued run uses its saved configuration (change keys with --set)");
    const std::string saved = (fs::path(a.out) / "config.json").string();
    UNIPET_CHECK(fs::is_regular_file(saved), "--continue: " << a.out
                                                           << " is not a run folder (no config.json); leave out "
                                                              "--continue to start one");
    o.config = load_train_config(saved);
    UNIPET_CHECK(a.init.empty() && a.init_critic.empty(),
                 "--init: a continued run starts from its checkpoint (or, without one, from the --init it "
                 "was started with)");
    if (a.stage)
      UNIPET_CHECK(stage_from_string(*a.stage) == o.config.stage,
                   "--stage " << *a.stage << ": the run in " << a.out << " is a " << to_string(o.config.stage)
                              << " run");
  } else {
    UNIPET_CHECK(a.stage, "--stage is required (bdn, disc or unipet)");
    o.config = load_train_config(a.config.value_or("paper"));
    o.config.stage = stage_from_string(*a.stage);
    // Absolute, so a continued run finds them from any folder.
    if (!a.init.empty()) o.config.init = fs::absolute(a.init).lexically_normal().string();
    if (!a.init_critic.empty()) o.config.init_critic = fs::absolute(a.init_critic).lexically_normal().string();
  }
  for (const std::string& s : a.settings) {
    // Two options for one key: neither may silently win.
    UNIPET_CHECK(a.drfs.empty() || s.rfind("drfs=", 0) != 0,
                 "--drf and --set " << s << " both choose the DRFs; give one of them");
    apply_setting(o.config, s);
  }
  if (!a.drfs.empty()) o.config.drfs = a.drfs;
  o.config.validate();
  UNIPET_CHECK(a.compute.precision == "fp32" || a.compute.precision == "bf16",
               "--precision: expected fp32 or bf16, got '" << a.compute.precision << "'");
  const Compute compute = resolve_compute(a.compute);
  o.dataset = a.dataset;
  o.out = a.out;
  o.command = shell_command(a.argv);
  o.resume = a.resume;
  o.device = compute.device;
  o.bf16 = compute.dtype == torch::kBFloat16;
  return o;
}

std::vector<std::string> worker_command(const std::vector<std::string>& argv) {
  std::vector<std::string> command{fs::read_symlink("/proc/self/exe").string()};
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

TrainOutcome run_train_request(const TrainRequest& a, std::function<bool()> should_stop, std::ostream* progress) {
  TrainOptions o = resolve_train_request(a);
  // Said once: by the single process, or by rank 0 of the workers (not also by their launcher).
  if (progress && distributed_environment().rank == 0 && a.nproc <= 1) {
    const std::string warning = precision_warning(resolve_compute(a.compute));
    if (!warning.empty()) *progress << "unipet: warning: " << warning << "\n";
  }
  TrainOutcome outcome;
  outcome.stage = o.config.stage;
  const DistributedEnvironment env = distributed_environment();
  if (a.nproc > 1) {
    UNIPET_CHECK(env.world_size == 1, "--nproc: this process is already rank " << env.rank << " of " << env.world_size
                                                                               << " (" << env.source
                                                                               << " environment); use one launcher");
    // The options were checked above, once, before any worker starts.
    LaunchOptions launch;
    launch.command = worker_command(a.argv);
    launch.nproc = a.nproc;
    launch_local_workers(launch);
    outcome.launched_workers = true;
    return outcome;
  }
  int threads = resolve_threads(a.compute.threads);
  if (env.world_size > 1) {
    // One GPU per local rank, and the cores shared among the local ranks (torchrun's
    // OMP_NUM_THREADS=1 would leave cores idle on a CPU-only machine).
    if (o.device.is_cuda() && !o.device.has_index())
      o.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
    if (a.compute.threads == 0)
      threads = std::max<int>(1, static_cast<int>(std::thread::hardware_concurrency() / env.local_world_size));
  }
  set_threads(threads);
  o.progress = progress;
  o.should_stop = [hook = test_kill_hook(env.rank), should_stop] {
    if (hook) hook();
    return should_stop && should_stop();
  };
  if (env.world_size > 1) o.group = ProcessGroup::connect(env, o.device);
  outcome.rank = env.rank;
  outcome.distributed = env.world_size > 1;
  outcome.result = train(o);
  return outcome;
}

}  // namespace unipet::train
