// The c10d side of unipet::train::ProcessGroup: the only file that includes c10d's headers.
#include "unipet/train/distributed.h"

#include <torch/version.h>

// ProcessGroupGloo.hpp is empty unless USE_C10D_GLOO is defined, as LibTorch's CMake target
// does where LibTorch was built with Gloo (Debian's links libgloo.so.0; its headers are
// libgloo-dev, which CMake checks for). Every Linux LibTorch has Gloo, so it is assumed here.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// NCCL only where CMake found LibTorch's ProcessGroupNCCL (a CUDA build); UNIPET_HAVE_NCCL.
#if UNIPET_HAVE_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <cstring>

#include "unipet/core/error.h"

namespace unipet::train {
namespace {

// LibTorch 2 moved the collectives of ProcessGroupGloo/NCCL to a Backend base class.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

std::string message_of(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> group;
  torch::Device device = torch::kCPU;

  // Runs one collective and turns c10d's errors into one line that says which rank saw it.
  template <class F>
  void run(const DistributedEnvironment& env, const char* what, F&& collective) {
    try {
      collective();
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) + ": " + what +
                  " failed, another rank has probably stopped (see its error): " + message_of(e));
    }
  }
};

std::vector<std::vector<size_t>> plan_buckets(const std::vector<torch::Tensor>& tensors,
                                              int64_t bucket_bytes) {
  UNIPET_CHECK(bucket_bytes > 0, "plan_buckets: bucket_bytes must be positive, got " << bucket_bytes);
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const torch::Tensor& t = tensors[i];
    if (!t.defined()) continue;
    // A bucket is one flat tensor, so it holds one dtype on one device.
    const bool fits = !buckets.empty() && bytes < bucket_bytes &&
                      tensors[buckets.back().front()].scalar_type() == t.scalar_type() &&
                      tensors[buckets.back().front()].device() == t.device();
    if (!fits) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += t.numel() * static_cast<int64_t>(t.element_size());
  }
  return buckets;
}

std::shared_ptr<ProcessGroup> ProcessGroup::connect(const DistributedEnvironment& env, torch::Device device,
                                                    std::chrono::milliseconds timeout) {
  UNIPET_CHECK(env.world_size > 1, "ProcessGroup::connect: a job of one process needs no process group");
  auto impl = std::make_unique<Impl>();
  impl->device = device;
  std::string backend;
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(env.master_port);
    o.isServer = env.rank == 0 && !env.store_hosted_by_launcher;
    o.numWorkers = static_cast<std::size_t>(env.world_size);
    // Waiting at the store is for the rendezvous only; a wrong MASTER_ADDR fails within minutes.
    o.timeout = std::min<std::chrono::milliseconds>(timeout, std::chrono::minutes(5));
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    impl->store->setTimeout(timeout);
    if (device.is_cuda()) {
#if UNIPET_HAVE_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, static_cast<int>(env.rank),
                                                                static_cast<int>(env.world_size), options);
      backend = "nccl";
#else
      UNIPET_FAIL("--device " << device.str()
                              << ": distributed training on CUDA needs NCCL, and this LibTorch was built "
                                 "without it (train on the CPU with --device cpu, or build unipet against a "
                                 "CUDA LibTorch with NCCL)");
#endif
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // As torch.distributed: GLOO_SOCKET_IFNAME picks the interface; a loopback master means
      // one machine, where the loopback device works even without a resolvable host name.
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (is_loopback(env.master_addr))
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      // Gloo's own threads only move bytes; two keep a send and a receive in flight.
      options->threads = 2;
      impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, static_cast<int>(env.rank),
                                                                static_cast<int>(env.world_size), options);
      backend = "gloo";
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                ": cannot join the job at " + env.master_addr + ":" + std::to_string(env.master_port) + " (" +
                env.source + " environment): " + message_of(e));
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(env, std::move(impl), backend));
}

ProcessGroup::ProcessGroup(const DistributedEnvironment& env, std::unique_ptr<Impl> impl, std::string backend)
    : env_(env), impl_(std::move(impl)), backend_(std::move(backend)) {}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, int64_t root) {
  for (const auto& bucket : plan_buckets(tensors, kDefaultBucketBytes)) {
    std::vector<torch::Tensor> parts;
    for (size_t i : bucket) parts.push_back(tensors[i].reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(parts)};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->run(env_, "broadcast", [&] { impl_->group->broadcast(flat, o)->wait(); });
    torch::NoGradGuard no_grad;
    int64_t offset = 0;
    for (size_t i : bucket) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(flat[0].narrow(0, offset, n).view(tensors[i].sizes()));
      offset += n;
    }
  }
}

std::string ProcessGroup::broadcast_bytes(const std::string& bytes, int64_t root) {
  std::vector<torch::Tensor> size{torch::tensor({static_cast<int64_t>(bytes.size())}).to(impl_->device)};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  impl_->run(env_, "broadcast", [&] { impl_->group->broadcast(size, o)->wait(); });
  const int64_t n = size[0].item<int64_t>();
  torch::Tensor data = torch::empty({n}, torch::kUInt8);
  if (env_.rank == root) std::memcpy(data.data_ptr(), bytes.data(), bytes.size());
  std::vector<torch::Tensor> buffer{data.to(impl_->device)};
  impl_->run(env_, "broadcast", [&] { impl_->group->broadcast(buffer, o)->wait(); });
  data = buffer[0].to(torch::kCPU).contiguous();
  return std::string(static_cast<const char*>(data.data_ptr()), static_cast<size_t>(n));
}

int64_t ProcessGroup::all_reduce_mean(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  const auto buckets = plan_buckets(tensors, bucket_bytes);
  std::vector<std::vector<torch::Tensor>> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  int64_t bytes = 0;
  // Every bucket is sent before the first is waited for, so Gloo's threads overlap them.
  impl_->run(env_, "all-reduce", [&] {
    for (const auto& bucket : buckets) {
      std::vector<torch::Tensor> parts;
      for (size_t i : bucket) parts.push_back(tensors[i].reshape({-1}));
      flats.push_back({torch::cat(parts)});
      bytes += flats.back()[0].numel() * static_cast<int64_t>(flats.back()[0].element_size());
      works.push_back(impl_->group->allreduce(flats.back()));
    }
    for (auto& w : works) w->wait();
  });
  torch::NoGradGuard no_grad;
  const double scale = 1.0 / static_cast<double>(env_.world_size);
  for (size_t b = 0; b < buckets.size(); ++b) {
    torch::Tensor flat = flats[b][0].mul_(scale);
    int64_t offset = 0;
    for (size_t i : buckets[b]) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(flat.narrow(0, offset, n).view(tensors[i].sizes()));
      offset += n;
    }
  }
  return bytes;
}

void ProcessGroup::all_reduce(std::vector<double>& values, bool max) {
  if (values.empty()) return;
  std::vector<torch::Tensor> t{torch::tensor(values, torch::kFloat64).to(impl_->device)};
  c10d::AllreduceOptions o;
  o.reduceOp = max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
  impl_->run(env_, "all-reduce", [&] { impl_->group->allreduce(t, o)->wait(); });
  const torch::Tensor cpu = t[0].to(torch::kCPU).contiguous();
  for (size_t i = 0; i < values.size(); ++i) values[i] = cpu[static_cast<int64_t>(i)].item<double>();
}

void ProcessGroup::barrier() {
  impl_->run(env_, "barrier", [&] { impl_->group->barrier()->wait(); });
}

struct RendezvousServer::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
};

RendezvousServer::RendezvousServer(const std::string& host, int port, int64_t world_size)
    : impl_(std::make_unique<Impl>()) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(port);
  o.isServer = true;
  o.numWorkers = static_cast<std::size_t>(world_size);
  // The workers connect later; the launcher must not wait for them here.
  o.waitWorkers = false;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(host, o);
  } catch (const std::exception& e) {
    throw Error("cannot host the rendezvous on " + host + ":" + std::to_string(port) + ": " + message_of(e));
  }
}

RendezvousServer::~RendezvousServer() = default;

int RendezvousServer::port() const { return impl_->store->getPort(); }

}  // namespace unipet::train
