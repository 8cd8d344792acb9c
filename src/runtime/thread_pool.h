// A fixed pool of worker threads for data-parallel kernel loops.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace anec::runtime {

class ThreadPool {
 public:
  static constexpr int64_t kChunksPerThread = 4;

  // `num_threads` total workers including the calling thread; 0 = hardware concurrency.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint ranges covering [0, n), and waits for all. The ranges are
  // fixed by n, min_chunk and num_threads() (up to kChunksPerThread per thread, each at least
  // `min_chunk` items); which thread runs which is not: the caller and the workers take the
  // next range from a shared counter until none is left, so a worker that wakes late, or a
  // range that runs slow, leaves its share to the others instead of being waited for.
  // Not reentrant: fn must not call ParallelFor on the same pool.
  void ParallelFor(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  // Runs ranges from the shared counter until none is left.
  void RunRanges();

  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, chunks_ = 0;
  std::atomic<int64_t> next_chunk_{0};
  // Written under mu_; also read without it by the short spin before a blocking wait (decode
  // calls ParallelFor a few hundred times per token, and a futex wake-up per call costs more
  // than the work between calls).
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex call_mu_;  // serializes ParallelFor callers
};

// The process-wide pool the kernels use (created on first use).
ThreadPool* DefaultThreadPool();

}  // namespace anec::runtime
