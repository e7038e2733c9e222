// Progress: progress reporting for long loops that never floods a log.
// On a terminal: one line redrawn in place (bar, count, rate, ETA), at most 10 times a second.
// Otherwise (log file, CI): a plain line at the first update and then at most every
// plain_interval_seconds, plus a final line from finish().
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace vkwb::io {

struct ProgressOptions {
  FILE* stream = stderr;
  double plain_interval_seconds = 10.0;
  int tty = -1;  // -1: ask isatty(stream); 0: plain lines; 1: redrawn bar
  // Seconds on a monotonic clock; tests inject a fake one. Default: std::chrono::steady_clock.
  std::function<double()> clock;
};

class Progress {
 public:
  // total <= 0 means unknown: shows count and rate, no bar or ETA.
  Progress(int64_t total, std::string label, ProgressOptions opt = {});
  ~Progress();  // calls finish() if it was not called
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(int64_t done, const std::string& extra = "");
  void finish(const std::string& extra = "");

  // The text of the line as it would be drawn now (without terminal control characters).
  std::string line(int64_t done, const std::string& extra, double now) const;

 private:
  double now() const;
  void draw(double now, bool final);

  int64_t total_;
  std::string label_;
  ProgressOptions opt_;
  bool tty_ = false;
  bool finished_ = false;
  double start_ = 0;
  double last_draw_ = -1e300;
  int64_t done_ = 0;
  std::string extra_;
  // Rate is smoothed over recent updates so a slow first batch does not dominate the ETA.
  double rate_ = 0;
  double rate_time_ = 0;
  int64_t rate_done_ = 0;
};

std::string format_duration(double seconds);  // "42s", "3m05s", "2h01m"

}  // namespace vkwb::io
