#pragma once
/// Starts the ranks of a one-machine job as child processes, as `torchrun --nproc-per-node N`
/// does: what `unipet train --nproc N` runs.
///
///   unipet::train::LaunchOptions o;
///   o.command = {"/proc/self/exe", "train", "--dataset", "d.json", "--out", "run"};
///   o.nproc = 2;
///   unipet::train::launch_local_workers(o);   // returns when every rank exited 0
///
/// This process hosts the job's TCPStore on a free loopback port (so jobs started side by side
/// never collide) and starts `nproc` copies of `command` with RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and TORCHELASTIC_USE_AGENT_STORE=True set. Each
/// line a worker writes to stdout or stderr is copied to the same stream of this process,
/// prefixed "[rank K] ". When a worker exits non-zero or is killed, the others get SIGTERM and,
/// after `grace`, SIGKILL. SIGINT and SIGTERM sent to this process are passed to the workers
/// (which then checkpoint and exit). Workers die with this process (PR_SET_PDEATHSIG).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace unipet::train {

struct LaunchOptions {
  std::vector<std::string> command;  ///< argv of every worker; command[0] is the executable
  int64_t nproc = 1;
  std::chrono::milliseconds grace{5000};  ///< SIGTERM to SIGKILL when a worker failed
};

/// Runs the job. Throws unipet::Error naming the first rank that failed and how ("rank 1 (pid
/// 4242) was killed by signal 9 (Killed)"), or when a worker cannot be started.
void launch_local_workers(const LaunchOptions& options);

}  // namespace unipet::train
