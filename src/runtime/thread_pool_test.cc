#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace anec::runtime {
namespace {

// Runs one ParallelFor and returns the ranges it called fn with (sorted).
std::vector<std::pair<int64_t, int64_t>> Ranges(ThreadPool& pool, int64_t n, int64_t min_chunk) {
  std::mutex mu;
  std::set<std::pair<int64_t, int64_t>> ranges;
  pool.ParallelFor(n, min_chunk, [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lock(mu);
    ranges.insert({b, e});
  });
  return {ranges.begin(), ranges.end()};
}

TEST(ThreadPoolTest, RangesCoverEveryIndexOnceWithAtLeastMinChunkItems) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 16, 100, 1000}) {
      for (int64_t min_chunk : {1, 4, 16, 1000}) {
        std::vector<std::pair<int64_t, int64_t>> r = Ranges(pool, n, min_chunk);
        ASSERT_FALSE(r.empty());
        EXPECT_EQ(r.front().first, 0);
        EXPECT_EQ(r.back().second, n);
        for (size_t i = 0; i < r.size(); ++i) {
          EXPECT_LT(r[i].first, r[i].second);
          if (i > 0) {
            EXPECT_EQ(r[i].first, r[i - 1].second) << "gap or overlap";
          }
          if (r.size() > 1) {
            EXPECT_GE(r[i].second - r[i].first, min_chunk);
          }
        }
        EXPECT_LE(static_cast<int64_t>(r.size()), threads * ThreadPool::kChunksPerThread)
            << threads << " threads, n " << n << " min_chunk " << min_chunk;
      }
    }
  }
}

TEST(ThreadPoolTest, ManyCallsInARowAndCallsAfterTheWorkersSleep) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int call = 0; call < 5000; ++call) {
    pool.ParallelFor(64, 1, [&](int64_t b, int64_t e) { sum += e - b; });
  }
  EXPECT_EQ(sum.load(), 5000 * 64);
  // Longer than the workers poll: they sleep on the condition variable and must be woken.
  for (int call = 0; call < 3; ++call) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pool.ParallelFor(64, 1, [&](int64_t b, int64_t e) { sum += e - b; });
  }
  EXPECT_EQ(sum.load(), 5003 * 64);
}

TEST(ThreadPoolTest, ALateWorkersShareIsRunByTheOthers) {
  ThreadPool pool(2);
  // The first range to start blocks until the seven others have run, so the other thread must
  // take all of them (with ranges fixed per thread this would hang).
  std::atomic<int> done{0}, started{0};
  pool.ParallelFor(8, 1, [&](int64_t, int64_t) {
    if (started.fetch_add(1) == 0) {
      while (done.load() < 7) std::this_thread::yield();
    }
    done.fetch_add(1);
  });
  EXPECT_EQ(done.load(), 8);
}

}  // namespace
}  // namespace anec::runtime
