#include "nets/io/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace vkwb::io {
namespace {
constexpr double kTtyInterval = 0.1;
constexpr int kBarWidth = 24;
}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s / 60) % 60));
  return buf;
}

Progress::Progress(int64_t total, std::string label, ProgressOptions opt)
    : total_(total), label_(std::move(label)), opt_(std::move(opt)) {
  tty_ = opt_.tty < 0 ? (opt_.stream && ::isatty(::fileno(opt_.stream))) : opt_.tty == 1;
  start_ = now();
  rate_time_ = start_;
}

Progress::~Progress() {
  if (!finished_) finish();
}

double Progress::now() const {
  if (opt_.clock) return opt_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Progress::line(int64_t done, const std::string& extra, double t) const {
  const double elapsed = t - start_;
  const double rate = rate_ > 0 ? rate_ : (elapsed > 0 ? done / elapsed : 0.0);
  std::string s = label_;
  char buf[128];
  if (total_ > 0) {
    const double frac = std::min(1.0, std::max(0.0, static_cast<double>(done) / total_));
    if (tty_) {
      const int filled = static_cast<int>(frac * kBarWidth);
      s += " [" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "]";
    }
    std::snprintf(buf, sizeof buf, " %3.0f%% %lld/%lld", 100.0 * frac, static_cast<long long>(done),
                  static_cast<long long>(total_));
    s += buf;
  } else {
    s += " " + std::to_string(done);
  }
  if (rate >= 100)
    std::snprintf(buf, sizeof buf, " %.0f/s", rate);
  else
    std::snprintf(buf, sizeof buf, " %.3g/s", rate);
  s += buf;
  if (total_ > 0 && done < total_) {
    s += " ETA " + (rate > 0 ? format_duration((total_ - done) / rate) : std::string("?"));
  } else {
    s += " " + format_duration(elapsed);
  }
  if (!extra.empty()) s += " " + extra;
  return s;
}

void Progress::update(int64_t done, const std::string& extra) {
  if (finished_) return;
  const double t = now();
  done_ = done;
  extra_ = extra;
  const double dt = t - rate_time_;
  if (dt >= 0.5) {
    const double inst = (done - rate_done_) / dt;
    rate_ = rate_ > 0 ? 0.7 * rate_ + 0.3 * inst : inst;
    rate_time_ = t;
    rate_done_ = done;
  }
  const double interval = tty_ ? kTtyInterval : opt_.plain_interval_seconds;
  if (t - last_draw_ >= interval) draw(t, false);
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  if (!extra.empty()) extra_ = extra;
  const double t = now();
  // The final line reports the overall rate, not the smoothed recent one.
  rate_ = (t - start_) > 0 ? done_ / (t - start_) : 0.0;
  draw(t, true);
  finished_ = true;
}

void Progress::draw(double t, bool final) {
  if (!opt_.stream) return;
  last_draw_ = t;
  const std::string s = line(done_, extra_, t);
  if (tty_) {
    // \r and "erase to end of line" so a shorter line does not leave remains of the last one.
    std::fprintf(opt_.stream, "\r%s\x1b[K%s", s.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(opt_.stream, "%s\n", s.c_str());
  }
  std::fflush(opt_.stream);
}

}  // namespace vkwb::io
