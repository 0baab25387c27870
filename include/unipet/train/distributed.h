#pragma once
/// Data-parallel training on LibTorch's c10d: one process per rank, a TCPStore rendezvous, Gloo
/// on the CPU and NCCL on CUDA (where LibTorch was built with it).
///
///   auto env = unipet::train::distributed_environment();        // torchrun or Slurm variables
///   if (env.world_size > 1) {
///     auto group = unipet::train::ProcessGroup::connect(env, torch::kCPU);
///     group->broadcast(tensors);                                 // rank 0's values everywhere
///     group->all_reduce_mean(gradients);                         // bucketed, in place
///   }
///
/// This is the one place beyond torch/torch.h where unipet touches LibTorch: the c10d headers
/// stay in src/train/distributed.cpp. Every collective is blocking and must be called by every
/// rank in the same order with tensors of the same shapes; a rank that dies makes the others'
/// next collective throw unipet::Error (Gloo sees the closed connection) instead of hanging.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace unipet::train {

/// Where this process sits in a job, as a launcher describes it.
struct DistributedEnvironment {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;        ///< index on this machine (picks the GPU)
  int64_t local_world_size = 1;  ///< processes on this machine (divides the CPU threads)
  std::string master_addr;       ///< host of the TCPStore
  int master_port = 0;
  /// True when the launcher hosts the TCPStore (torchrun's TORCHELASTIC_USE_AGENT_STORE, and
  /// `unipet train --nproc`); otherwise rank 0 hosts it, as torch.distributed's env:// does.
  bool store_hosted_by_launcher = false;
  std::string source;  ///< "torchrun", "slurm" or "single", for messages
};

/// The first host of a Slurm node list: "node[01-04],gpu7" -> "node01", "a,b" -> "a",
/// "rack[2-3]-n[5,7]" -> "rack2-n5". Throws unipet::Error on an empty or malformed list.
std::string first_host(const std::string& nodelist);

/// Reads a job's layout from `env` (variable -> value). torchrun's RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT come first; without RANK, Slurm's SLURM_PROCID,
/// SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE (or SLURM_TASKS_PER_NODE) with MASTER_ADDR
/// or else the first host of SLURM_JOB_NODELIST, and MASTER_PORT (default 29500). Neither: one
/// process. Throws unipet::Error naming the variable on a missing, non-numeric or inconsistent
/// value (RANK >= WORLD_SIZE, a port outside 1-65535, ...).
DistributedEnvironment distributed_environment(const std::map<std::string, std::string>& env);

/// The same, from this process's environment.
DistributedEnvironment distributed_environment();

/// Gradients are summed in flat buffers of about this many bytes: a step sends a few large
/// messages, not one per parameter (PyTorch's DistributedDataParallel uses 25 MB too).
constexpr int64_t kDefaultBucketBytes = 25 * 1024 * 1024;

/// How all_reduce_mean groups `tensors`: consecutive runs of the same dtype and device, each
/// bucket closed once it holds at least `bucket_bytes` (a tensor is never split). Returns the
/// tensor indices of every bucket.
std::vector<std::vector<size_t>> plan_buckets(const std::vector<torch::Tensor>& tensors,
                                              int64_t bucket_bytes);

/// One process's membership of a job: a c10d process group (Gloo or NCCL) over a TCPStore.
class ProcessGroup {
 public:
  /// Joins the job `env` describes on `device` (CUDA: NCCL, else Gloo). Collectives give up
  /// after `timeout` (a rank that stops answering but does not die). Throws unipet::Error when
  /// the rendezvous fails, or on CUDA when LibTorch was built without NCCL.
  static std::shared_ptr<ProcessGroup> connect(const DistributedEnvironment& env, torch::Device device,
                                               std::chrono::milliseconds timeout = std::chrono::minutes(30));
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const { return env_.rank; }
  int64_t world_size() const { return env_.world_size; }
  int64_t local_rank() const { return env_.local_rank; }
  const std::string& backend() const { return backend_; }  ///< "gloo" or "nccl"

  /// Replaces every tensor (contiguous, on the group's device) by rank `root`'s, in buckets.
  void broadcast(const std::vector<torch::Tensor>& tensors, int64_t root = 0);
  /// Rank `root`'s bytes on every rank (checkpoints, configurations).
  std::string broadcast_bytes(const std::string& bytes, int64_t root = 0);
  /// Replaces every tensor by the mean over ranks, in buckets of `bucket_bytes`; undefined
  /// tensors are skipped (every rank runs the same graph, so all skip the same ones). Returns
  /// the bytes reduced.
  int64_t all_reduce_mean(const std::vector<torch::Tensor>& tensors,
                          int64_t bucket_bytes = kDefaultBucketBytes);
  /// Sum (or, with `max`, maximum) over ranks of a float64 CPU vector, in place.
  void all_reduce(std::vector<double>& values, bool max = false);
  void barrier();

 private:
  struct Impl;
  ProcessGroup(const DistributedEnvironment& env, std::unique_ptr<Impl> impl, std::string backend);
  DistributedEnvironment env_;
  std::unique_ptr<Impl> impl_;
  std::string backend_;
};

/// Hosts a job's TCPStore in this process (a launcher's, so no worker has to), on `port` of
/// `host` (0: a free port the system picks).
class RendezvousServer {
 public:
  RendezvousServer(const std::string& host, int port, int64_t world_size);
  ~RendezvousServer();
  RendezvousServer(const RendezvousServer&) = delete;
  RendezvousServer& operator=(const RendezvousServer&) = delete;
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace unipet::train
