// Progress: one line per step on stderr with a bar, a count and an ETA from the rate so far.
// Counts are items (chunks, files) or weights (matrix elements written, shown as 12.3M/134.5M
// with a rate), so a step that converts one big chunk still moves. On a terminal the line is
// redrawn in place (at most 10 times a second); elsewhere (logs, tests) it is quiet: a line at
// most every 10%. A null stream disables output (tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace anec::pipeline {

enum class ProgressUnit { kItems, kWeights };

class Progress {
 public:
  // `out` may be null (silent).
  Progress(std::FILE* out, std::string label, int64_t total,
           ProgressUnit unit = ProgressUnit::kItems);
  void Advance(int64_t n = 1);
  // Prints the final line with the elapsed time.
  void Done();
  double elapsed_seconds() const;

 private:
  void Draw(bool final);
  std::FILE* out_;
  std::string label_;
  int64_t total_, done_ = 0;
  ProgressUnit unit_;
  int last_decile_ = -1;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "950", "12.3K", "4.56M", "1.20G": a count in short form.
std::string FormatCount(double n);

// "1h02m", "3m05s", "12.3s".
std::string FormatDuration(double seconds);

}  // namespace anec::pipeline
