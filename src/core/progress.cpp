#include "unipet/core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <utility>

namespace unipet {

Progress::Progress(std::ostream& out, std::string label, int64_t total, int64_t first)
    : Progress(out, std::move(label), total, first, ::isatty(STDERR_FILENO) == 1) {}

Progress::Progress(std::ostream& out, std::string label, int64_t total, int64_t first, bool terminal)
    : out_(out),
      label_(std::move(label)),
      total_(total),
      first_(first),
      terminal_(terminal),
      start_(std::chrono::steady_clock::now()),
      last_draw_() {}

double Progress::rate(int64_t done) const {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return seconds > 0 ? static_cast<double>(done - first_) / seconds : 0.0;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  else if (s >= 60)
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  return text;
}

std::string Progress::line(int64_t done, const std::string& status) const {
  const double r = rate(done);
  const double eta = r > 0 ? static_cast<double>(total_ - done) / r : NAN;
  std::ostringstream s;
  s << label_ << " ";
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = total_ > 0
                           ? static_cast<int>(kWidth * std::min<double>(1.0, static_cast<double>(done) /
                                                                                 static_cast<double>(total_)))
                           : 0;
    s << "[" << std::string(static_cast<size_t>(filled), '#')
      << std::string(static_cast<size_t>(kWidth - filled), '.') << "] ";
  }
  s << done << "/" << total_ << "  " << std::setprecision(3) << r << " it/s  ETA " << format_duration(eta);
  if (!status.empty()) s << "  " << status;
  return s.str();
}

void Progress::update(int64_t done, const std::string& status) {
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    if (drawn_ && done < total_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
    out_ << "\r\033[K" << line(done, status) << std::flush;
    drawn_ = true;
  } else {
    out_ << line(done, status) << "\n" << std::flush;
  }
  last_draw_ = now;
}

void Progress::message(const std::string& text) {
  if (terminal_ && drawn_) out_ << "\r\033[K";
  out_ << text << "\n" << std::flush;
  drawn_ = false;
}

void Progress::finish() {
  if (terminal_ && drawn_) out_ << "\n" << std::flush;
  drawn_ = false;
}

void DeferredProgress::operator()(int64_t done, int64_t total) {
  if (!progress_) progress_.emplace(out_, label_, total);
  if (progress_->terminal() || done == total || done % std::max<int64_t>(1, total / 10) == 0)
    progress_->update(done, "");
}

void DeferredProgress::finish() {
  if (progress_) progress_->finish();
}

}  // namespace unipet
