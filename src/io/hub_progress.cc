#include "io/hub_progress.h"

#include <fmt/format.h>
#include <unistd.h>

namespace anec::io {

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024.0 && unit < 4) {
    v /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

HubProgress::HubProgress(std::FILE* out, ProgressMode mode) : out_(out), mode_(mode) {
  if (out_ == nullptr) mode_ = ProgressMode::kQuiet;
  if (mode_ == ProgressMode::kAuto) {
    mode_ = isatty(fileno(out_)) ? ProgressMode::kBar : ProgressMode::kLines;
  }
}

HubProgress::~HubProgress() {
  if (active_) Finish();
}

void HubProgress::Start(const std::string& name, uint64_t total, uint64_t already) {
  if (active_) Finish();
  name_ = name;
  total_ = total;
  done_ = start_done_ = already;
  start_ = last_draw_ = Clock::now();
  active_ = true;
  if (mode_ == ProgressMode::kLines) {
    fmt::print(out_, "downloading {} ({}{})\n", name_,
               total_ ? FormatBytes(total_) : "size unknown",
               already ? fmt::format(", resuming at {}", FormatBytes(already)) : "");
    std::fflush(out_);
  }
}

void HubProgress::Advance(uint64_t bytes) {
  if (!active_) return;
  done_ += bytes;
  auto now = Clock::now();
  auto every = mode_ == ProgressMode::kBar ? std::chrono::milliseconds(100)
                                           : std::chrono::milliseconds(5000);
  if (now - last_draw_ >= every) {
    last_draw_ = now;
    Draw(false);
  }
}

void HubProgress::Finish() {
  if (!active_) return;
  Draw(true);
  active_ = false;
}

void HubProgress::Note(const std::string& text) {
  if (mode_ == ProgressMode::kQuiet) return;
  fmt::print(out_, "{}{}\n", mode_ == ProgressMode::kBar && active_ ? "\n" : "", text);
  std::fflush(out_);
}

void HubProgress::Draw(bool final) {
  if (mode_ == ProgressMode::kQuiet) return;
  double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  double rate = seconds > 0 ? static_cast<double>(done_ - start_done_) / seconds : 0.0;
  std::string amount =
      total_ ? fmt::format("{} / {}", FormatBytes(done_), FormatBytes(total_)) : FormatBytes(done_);
  std::string speed = FormatBytes(static_cast<uint64_t>(rate)) + "/s";
  if (mode_ == ProgressMode::kBar) {
    constexpr int kWidth = 24;
    int filled = total_ ? static_cast<int>(kWidth * static_cast<double>(done_) / total_) : 0;
    if (filled > kWidth) filled = kWidth;
    fmt::print(out_, "\r{:<32.32} [{}{}] {}  {}\033[K{}", name_, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), amount, speed, final ? "\n" : "");
  } else {
    fmt::print(out_, "{} {}: {}  {}\n", final ? "downloaded" : "  ", name_, amount, speed);
  }
  std::fflush(out_);
}

}  // namespace anec::io
