#pragma once
/// What `unipet train` is asked, as typed, and the rules that make a run of it: the library side
/// of the command, so the CLI only parses and prints.
///
///   unipet::train::TrainRequest r;
///   r.dataset = "data/dataset.json"; r.out = "runs/bdn"; r.stage = "bdn"; r.config = "cpu";
///   r.argv = {"unipet", "train", ...};           // recorded in the model files
///   auto outcome = unipet::train::run_train_request(r, [] { return false; }, &std::cerr);
///
/// The rules: a continued run (`resume`) keeps its saved configuration (no `config`, no `init`,
/// the same stage) and `settings` may still change keys the network does not depend on; `drfs`
/// and a `drfs=` setting are never both given; `init` paths are made absolute so a continued
/// run finds them from any folder. `nproc` > 1 starts that many local workers (launcher.h) with
/// the same command line; in a torchrun or Slurm environment this process is one rank, on its
/// local rank's GPU and with the cores shared among the local ranks.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "unipet/core/compute.h"
#include "unipet/train/trainer.h"

namespace unipet::train {

struct TrainRequest {
  std::string dataset, out;
  std::optional<std::string> stage;   ///< bdn, disc or unipet; a continued run's own when absent
  std::optional<std::string> config;  ///< preset name or JSON file; default "paper"
  std::vector<std::string> settings;  ///< key=value over the configuration
  std::vector<double> drfs;           ///< train on these DRFs only (DRF-specific baselines)
  std::string init, init_critic;
  bool resume = false;
  ComputeOptions compute;  ///< precision fp32 or bf16; threads per process (0: shared among local ranks)
  int nproc = 1;           ///< local workers to start (torchrun --nproc-per-node)
  /// The command line as typed: recorded in model files (shell_command) and, without --nproc,
  /// what the workers run.
  std::vector<std::string> argv;
};

/// The run's options from the request (the configuration validated). Throws unipet::Error naming
/// the option at fault. Writes nothing.
TrainOptions resolve_train_request(const TrainRequest& request);

/// The workers' command line: this executable and `argv` without --nproc.
std::vector<std::string> worker_command(const std::vector<std::string>& argv);

struct TrainOutcome {
  bool launched_workers = false;  ///< --nproc > 1: the workers trained and printed; `result` is empty
  int64_t rank = 0;               ///< this process's rank (0 in one process)
  bool distributed = false;       ///< this process was one rank of several
  Stage stage = Stage::BDN;
  TrainResult result;
};

/// Resolves and runs the request; `should_stop` is polled after every step (a signal handler's
/// flag), `progress` receives rank 0's progress lines. Throws unipet::Error.
TrainOutcome run_train_request(const TrainRequest& request, std::function<bool()> should_stop,
                               std::ostream* progress);

}  // namespace unipet::train
