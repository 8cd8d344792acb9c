#include "runtime/thread_pool.h"

#include <algorithm>

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

// About 30-100 us of polling before falling back to the condition variable.
constexpr int kSpinIterations = 2000;

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

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  while (true) {
    std::pair<int64_t, int64_t> range;
    const std::function<void(int64_t, int64_t)>* fn;
    for (int i = 0; i < kSpinIterations; ++i) {
      if (generation_.load(std::memory_order_acquire) != seen ||
          stop_.load(std::memory_order_acquire)) {
        break;
      }
      CpuRelax();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      range = ranges_[static_cast<size_t>(index)];
      fn = fn_;
    }
    if (range.first < range.second) (*fn)(range.first, range.second);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t min_chunk,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int64_t pieces = std::min<int64_t>(num_threads(), std::max<int64_t>(1, n / std::max<int64_t>(min_chunk, 1)));
  if (pieces <= 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  std::vector<std::pair<int64_t, int64_t>> ranges(static_cast<size_t>(num_threads()), {0, 0});
  int64_t per = (n + pieces - 1) / pieces;
  for (int64_t p = 0; p < pieces; ++p) {
    ranges[static_cast<size_t>(p)] = {std::min(n, p * per), std::min(n, (p + 1) * per)};
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ranges_ = std::move(ranges);
    fn_ = &fn;
    pending_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  work_cv_.notify_all();
  fn(ranges_[0].first, ranges_[0].second);
  for (int i = 0; i < kSpinIterations && pending_.load(std::memory_order_acquire) != 0; ++i) {
    CpuRelax();
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return pending_ == 0; });
}

ThreadPool* DefaultThreadPool() {
  static ThreadPool* pool = new ThreadPool(0);  // never destroyed: used until exit
  return pool;
}

}  // namespace anec::runtime
