// HubProgress: download progress on stderr. On a terminal, one self-overwriting bar line per file
// with bytes, total and rate; elsewhere (logs, CI) a plain line every few seconds and one at the
// end, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace anec::io {

enum class ProgressMode {
  kAuto,  // kBar when the stream is a terminal, else kLines
  kBar,
  kLines,
  kQuiet,
};

// "1.5 GiB", "320.0 KiB", "12 B".
std::string FormatBytes(uint64_t bytes);

class HubProgress {
 public:
  // REQUIRES: `out` outlives this object, or is null (quiet).
  HubProgress(std::FILE* out, ProgressMode mode);
  ~HubProgress();

  // A new file: `total` bytes expected (0 when unknown), `already` of them on disk (resume).
  void Start(const std::string& name, uint64_t total, uint64_t already);
  void Advance(uint64_t bytes);
  void Finish();
  // A one-line note (retries, resumes), kept apart from the bar.
  void Note(const std::string& text);

 private:
  using Clock = std::chrono::steady_clock;
  void Draw(bool final);

  std::FILE* out_;
  ProgressMode mode_;
  std::string name_;
  uint64_t total_ = 0, done_ = 0, start_done_ = 0;
  Clock::time_point start_, last_draw_;
  bool active_ = false;
};

}  // namespace anec::io
