// Progress: one line per step on stderr with a bar, a count and an ETA from the rate so far.
// Redraws in place on a terminal; elsewhere (logs, tests) prints at most every 10% so logs stay
// short. A null stream disables output (tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace anec::pipeline {

class Progress {
 public:
  // `out` may be null (silent).
  Progress(std::FILE* out, std::string label, int64_t total);
  void Advance(int64_t n = 1);
  // Prints the final line with the elapsed time.
  void Done();
  double elapsed_seconds() const;

 private:
  void Draw(bool final);
  std::FILE* out_;
  std::string label_;
  int64_t total_, done_ = 0;
  int last_decile_ = -1;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

// "1h02m", "3m05s", "12.3s".
std::string FormatDuration(double seconds);

}  // namespace anec::pipeline
