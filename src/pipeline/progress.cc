#include "pipeline/progress.h"

#include <fmt/format.h>
#include <unistd.h>

namespace anec::pipeline {

std::string FormatDuration(double s) {
  if (s < 60) return fmt::format("{:.1f}s", s);
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t < 3600) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}h{:02d}m", t / 3600, (t % 3600) / 60);
}

std::string FormatCount(double n) {
  if (n < 1e3) return fmt::format("{:.0f}", n);
  if (n < 1e6) return fmt::format("{:.1f}K", n / 1e3);
  if (n < 1e9) return fmt::format("{:.2f}M", n / 1e6);
  return fmt::format("{:.2f}G", n / 1e9);
}

Progress::Progress(std::FILE* out, std::string label, int64_t total, ProgressUnit unit)
    : out_(out),
      label_(std::move(label)),
      total_(total > 0 ? total : 1),
      unit_(unit),
      tty_(out != nullptr && isatty(fileno(out))),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {
  Draw(false);
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Advance(int64_t n) {
  done_ = std::min(total_, done_ + n);
  Draw(false);
}

void Progress::Done() {
  done_ = total_;
  Draw(true);
}

void Progress::Draw(bool final) {
  if (out_ == nullptr) return;
  const double frac = static_cast<double>(done_) / static_cast<double>(total_);
  const int decile = static_cast<int>(frac * 10);
  if (!tty_ && !final && decile == last_decile_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_ && !final && done_ > 0 && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  last_decile_ = decile;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const double el = elapsed_seconds();
  std::string tail;
  if (final) {
    tail = "done in " + FormatDuration(el);
  } else if (done_ > 0) {
    tail = "ETA " + FormatDuration(el / frac - el);
  }
  std::string count = fmt::format("{}/{}", done_, total_);
  if (unit_ == ProgressUnit::kWeights) {
    count = FormatCount(static_cast<double>(done_)) + "/" +
            FormatCount(static_cast<double>(total_)) + " weights";
    if (el > 0 && done_ > 0) count += ", " + FormatCount(static_cast<double>(done_) / el) + "/s";
  }
  fmt::print(out_, "{}{} [{}] {} {}{}", tty_ ? "\r" : "", label_, bar, count, tail,
             tty_ ? (final ? "\n" : "\033[K") : "\n");
  std::fflush(out_);
}

}  // namespace anec::pipeline
