#include "unipet/core/thread_pool.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace unipet {

IntraOpThreads::IntraOpThreads(int threads) : previous_(at::get_num_threads()) { at::set_num_threads(threads); }

IntraOpThreads::~IntraOpThreads() { at::set_num_threads(previous_); }

void run_on_workers(int64_t count, int workers, const std::function<void(int64_t)>& job) {
  std::atomic<int64_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto work = [&] {
    IntraOpThreads serial(1);
    for (int64_t k = next++; k < count; k = next++) {
      try {
        job(k);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < std::min<int64_t>(workers, count); ++w) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace unipet
