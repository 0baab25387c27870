#pragma once
/// The one progress style of every long-running command: on a terminal a single line redrawn in
/// place (bar, count, rate, ETA, status); elsewhere (a log file, CI) one plain line per update.
///
///   unipet::Progress progress(std::cerr, "train", 1000, first_step);
///   progress.update(step, "loss 0.0123");      // cheap: a terminal is redrawn at most 5×/s
///   progress.message("validation: PSNR 41.2 dB");  // a line that stays
///   progress.finish();
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace unipet {

class Progress {
 public:
  /// `total` units of work, `first` of them already done before this run (a resumed run), so
  /// the rate and ETA count only this run's work. `terminal`: redraw in place; by default
  /// whether standard error is a terminal.
  Progress(std::ostream& out, std::string label, int64_t total, int64_t first = 0);
  Progress(std::ostream& out, std::string label, int64_t total, int64_t first, bool terminal);

  /// `done` units finished; `status` is shown after the counters.
  void update(int64_t done, const std::string& status);
  /// A line that stays above the progress line.
  void message(const std::string& line);
  /// Ends the progress line (a terminal keeps its last state).
  void finish();

  /// Units per second since the start, over this run's work.
  double rate(int64_t done) const;
  /// Whether the line is redrawn in place (callers may update a log file less often).
  bool terminal() const { return terminal_; }

 private:
  std::string line(int64_t done, const std::string& status) const;

  std::ostream& out_;
  std::string label_;
  int64_t total_, first_;
  bool terminal_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// A Progress made at the first report, when the total is known (the tiles of a volume are
/// counted only once it is read), drawing a terminal bar at every report but writing a log a
/// line per tenth of the work.
///
///   DeferredProgress progress(std::cerr, "denoise tiles");
///   options.progress = [&](int64_t done, int64_t total) { progress(done, total); };
class DeferredProgress {
 public:
  DeferredProgress(std::ostream& out, std::string label) : out_(out), label_(std::move(label)) {}
  void operator()(int64_t done, int64_t total);
  /// Ends the line, if anything was reported.
  void finish();

 private:
  std::ostream& out_;
  std::string label_;
  std::optional<Progress> progress_;
};

/// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace unipet
