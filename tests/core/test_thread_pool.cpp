// Coarse parallel jobs: every job runs once, LibTorch's threads are restored, and a failing
// job's error reaches the caller after the others ended.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include <torch/torch.h>

#include "unipet/core/thread_pool.h"

namespace unipet {
namespace {

TEST(ThreadPool, RunsEveryJobOnceSeriallyInsideAndRestoresTheThreads) {
  const int before = torch::get_num_threads();
  std::vector<std::atomic<int>> runs(37);
  std::atomic<int> max_inner_threads{0};
  run_on_workers(37, 3, [&](int64_t k) {
    ++runs[static_cast<size_t>(k)];
    max_inner_threads = std::max(max_inner_threads.load(), torch::get_num_threads());
  });
  for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
  EXPECT_EQ(max_inner_threads.load(), 1);
  EXPECT_EQ(torch::get_num_threads(), before);
  {
    IntraOpThreads scope(1);
    EXPECT_EQ(torch::get_num_threads(), 1);
  }
  EXPECT_EQ(torch::get_num_threads(), before);
}

TEST(ThreadPool, RethrowsAFailedJobsErrorAfterTheOthersRan) {
  std::atomic<int> done{0};
  EXPECT_THROW(run_on_workers(10, 2,
                              [&](int64_t k) {
                                if (k == 3) throw std::runtime_error("job 3");
                                ++done;
                              }),
               std::runtime_error);
  EXPECT_EQ(done.load(), 9);
  run_on_workers(0, 4, [](int64_t) { FAIL() << "no job to run"; });
}

}  // namespace
}  // namespace unipet
