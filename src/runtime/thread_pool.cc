#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace anec::runtime {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// How long a thread polls before it sleeps on a condition variable. Decode issues a few hundred
// parallel calls per token with sequential ops between them; a futex sleep and wake per call
// costs more than the row blocks. A time, not a count of pause instructions: one pause takes
// 11 ns on this project's Xeon and a few cycles on other CPUs (2,000 pauses, the count used
// before, polled 23 us here and let the worker sleep ~130 times per SmolLM2 token).
constexpr auto kSpinBudget = std::chrono::microseconds(200);

// Polls `done` with pause instructions for up to kSpinBudget; true when it held.
template <class Done>
bool SpinUntil(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
  while (true) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  num_threads = std::max(num_threads, 1);
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunRanges() {
  while (true) {
    const int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (c >= chunks_) return;
    // Chunk c covers [c * n / chunks, (c + 1) * n / chunks): sizes differ by at most one.
    (*fn_)(c * n_ / chunks_, (c + 1) * n_ / chunks_);
  }
}

void ThreadPool::WorkerLoop(int /*index*/) {
  uint64_t seen = 0;
  while (true) {
    SpinUntil([&] {
      return generation_.load(std::memory_order_acquire) != seen ||
             stop_.load(std::memory_order_acquire);
    });
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    RunRanges();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t min_chunk,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t chunks = std::min<int64_t>(
      num_threads() * kChunksPerThread, std::max<int64_t>(1, n / std::max<int64_t>(min_chunk, 1)));
  if (chunks <= 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    chunks_ = chunks;
    next_chunk_.store(0, std::memory_order_relaxed);
    pending_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  work_cv_.notify_all();
  RunRanges();
  SpinUntil([&] { return pending_.load(std::memory_order_acquire) == 0; });
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return pending_ == 0; });
}

ThreadPool* DefaultThreadPool() {
  static ThreadPool* pool = new ThreadPool(0);  // never destroyed: used until exit
  return pool;
}

}  // namespace anec::runtime
