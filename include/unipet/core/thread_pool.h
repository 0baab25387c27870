#pragma once
/// Coarse parallel jobs for work whose pieces are whole (a reconstruction, a subject): a fixed
/// number of workers, each running its jobs serially with LibTorch's own threading off.
///
///   unipet::run_on_workers(images.size(), 2, [&](int64_t k) { out[k] = reconstruct(k); });
#include <cstdint>
#include <functional>

namespace unipet {

/// Sets LibTorch's intra-op threads of the calling thread for a scope, and restores them.
class IntraOpThreads {
 public:
  explicit IntraOpThreads(int threads);
  ~IntraOpThreads();
  IntraOpThreads(const IntraOpThreads&) = delete;
  IntraOpThreads& operator=(const IntraOpThreads&) = delete;

 private:
  int previous_;
};

/// Runs job(0) ... job(count - 1) on `workers` threads (the caller's among them), each with
/// LibTorch's own threading off, and rethrows the first job's exception after all have ended.
/// Coarse jobs instead of one OpenMP fork-join per tensor operation: measured on a 2-core
/// machine shared with other work, the fine-grained version spent most of its time spinning at
/// OpenMP barriers (85 s with 2 threads against 12 s with 1). Every job runs serially, so
/// results are identical whatever the number of workers.
void run_on_workers(int64_t count, int workers, const std::function<void(int64_t)>& job);

}  // namespace unipet
