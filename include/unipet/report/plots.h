#pragma once
/// Line plots of scores against the dose-reduction factor, as self-contained SVG text that
/// HtmlReport::figure inlines (or that can be saved as a .svg file).
///
///   LinePlot plot;
///   plot.title = "PSNR"; plot.x_label = "Dose reduction factor"; plot.y_label = "PSNR (dB)";
///   plot.log_x = true;
///   plot.x = {2, 4, 10, 20, 50, 100};
///   plot.series = {{"UniPET", {41.2, 39.8, 37.1, 35.9, 33.0, 31.4}, {}, {}}};
///   plot.x_highlight = {false, false, true, false, true, false};  // DRFs not seen in training
///   html.figure(unipet::report::line_plot_svg(plot), "PSNR per DRF");
#include <string>
#include <vector>

namespace unipet::report {

struct LinePlot {
  std::string title, x_label, y_label;
  bool log_x = false;     ///< logarithmic x axis; every x must then be positive
  std::vector<double> x;  ///< shared by all series, finite

  struct Series {
    std::string name;
    std::vector<double> y;          ///< one per x; NaN points are left out (and break the line)
    std::vector<double> low, high;  ///< optional error bar ends: empty, or one per x (NaN: no bar)
  };
  std::vector<Series> series;
  bool markers = true;  ///< a marker at every point (turn off for long, dense profiles)

  /// Optional, empty or one per x: points drawn with hollow markers, explained in the legend by
  /// `highlight_note` (e.g. DRFs not seen in training).
  std::vector<bool> x_highlight;
  std::string highlight_note = "hollow: not seen in training";
};

/// The plot as an `<svg>` element with axes, ticks at round values, axis labels, a legend and
/// one colour-blind-safe colour and marker shape per series. All text is XML-escaped. Throws
/// unipet::Error when sizes disagree, an x is not finite, or (log_x) an x is not positive.
std::string line_plot_svg(const LinePlot& plot);

}  // namespace unipet::report
