#include "unipet/report/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "svg_text.h"
#include "unipet/core/error.h"

namespace unipet::report {
namespace {

using detail::escape_xml;
using detail::svg_number;

// Okabe & Ito's palette, which stays distinguishable for the common colour-vision deficiencies;
// its yellow is left out because it vanishes on white. Past these, colours repeat dashed.
const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
constexpr int kPaletteSize = sizeof kPalette / sizeof kPalette[0];
constexpr int kMarkerShapes = 5;  // circle, square, triangle up, diamond, triangle down
constexpr double kWidth = 680, kHeight = 420;
const char* const kFont = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";

std::string format_g(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

void check_plot(const LinePlot& plot) {
  UNIPET_CHECK(!plot.x.empty(), "line plot '" << plot.title << "': no x values");
  for (double x : plot.x) {
    UNIPET_CHECK(std::isfinite(x), "line plot '" << plot.title << "': x value " << x << " is not finite");
    UNIPET_CHECK(!plot.log_x || x > 0, "line plot '" << plot.title << "': x value " << x
                                                     << " cannot be drawn on a logarithmic axis");
  }
  const size_t n = plot.x.size();
  UNIPET_CHECK(plot.x_highlight.empty() || plot.x_highlight.size() == n,
               "line plot '" << plot.title << "': " << plot.x_highlight.size() << " highlight flags for " << n
                             << " x values");
  for (const auto& s : plot.series) {
    UNIPET_CHECK(s.y.size() == n, "line plot '" << plot.title << "': series '" << s.name << "' has "
                                                << s.y.size() << " values for " << n << " x values");
    UNIPET_CHECK(
        (s.low.empty() || s.low.size() == n) && (s.high.empty() || s.high.size() == n),
        "line plot '" << plot.title << "': error bars of series '" << s.name << "' need " << n << " values");
  }
}

// Maps data to SVG coordinates inside the plot area.
struct Axes {
  double left, right, top, bottom;
  double x0, x1, y0, y1;
  bool log_x;
  double px(double x) const {
    const double f = log_x ? std::log10(x) : x, f0 = log_x ? std::log10(x0) : x0,
                 f1 = log_x ? std::log10(x1) : x1;
    return left + (f - f0) / (f1 - f0) * (right - left);
  }
  double py(double y) const { return bottom - (y - y0) / (y1 - y0) * (bottom - top); }
};

std::pair<double, double> finite_range(const LinePlot& plot) {
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (const auto& s : plot.series) {
    for (const auto* values : {&s.y, &s.low, &s.high}) {
      for (double v : *values) {
        if (std::isfinite(v)) low = std::min(low, v), high = std::max(high, v);
      }
    }
  }
  return {low, high};
}

// The x ticks: on a logarithmic axis the x values themselves (a handful of dose-reduction factors
// read best as labelled), otherwise round values.
std::vector<double> x_ticks(const LinePlot& plot, double x0, double x1) {
  if (!plot.log_x) return detail::linear_ticks(x0, x1, 6);
  std::vector<double> unique = plot.x;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  return unique.size() <= 12 ? unique : detail::log_ticks(x0, x1);
}

std::string marker(int shape, double x, double y, const std::string& colour, bool hollow) {
  std::ostringstream out;
  const std::string paint = hollow ? "fill=\"#fff\" stroke=\"" + colour + "\" stroke-width=\"1.8\""
                                   : "fill=\"" + colour + "\" stroke=\"" + colour + "\"";
  const double r = 4.5;
  auto point = [&](double dx, double dy) { return svg_number(x + dx) + "," + svg_number(y + dy); };
  switch (shape) {
    case 0:
      out << "<circle cx=\"" << svg_number(x) << "\" cy=\"" << svg_number(y) << "\" r=\"" << r << "\"";
      break;
    case 1:
      out << "<rect x=\"" << svg_number(x - r * 0.85) << "\" y=\"" << svg_number(y - r * 0.85)
          << "\" width=\"" << svg_number(r * 1.7) << "\" height=\"" << svg_number(r * 1.7) << "\"";
      break;
    case 2:
      out << "<polygon points=\"" << point(0, -r * 1.2) << " " << point(r * 1.1, r * 0.8) << " "
          << point(-r * 1.1, r * 0.8) << "\"";
      break;
    case 3:
      out << "<polygon points=\"" << point(0, -r * 1.25) << " " << point(r * 1.25, 0) << " "
          << point(0, r * 1.25) << " " << point(-r * 1.25, 0) << "\"";
      break;
    default:
      out << "<polygon points=\"" << point(0, r * 1.2) << " " << point(r * 1.1, -r * 0.8) << " "
          << point(-r * 1.1, -r * 0.8) << "\"";
      break;
  }
  out << " " << paint << "/>";
  return out.str();
}

void draw_axes(std::ostringstream& svg, const LinePlot& plot, const Axes& a, const std::vector<double>& xt,
               const std::vector<double>& yt) {
  const double y_step = yt.size() > 1 ? yt[1] - yt[0] : 1;
  const double x_step = xt.size() > 1 ? xt[1] - xt[0] : 1;
  svg << "<g stroke=\"#e3e3e3\" stroke-width=\"1\">";
  for (double y : yt)
    svg << "<line x1=\"" << a.left << "\" x2=\"" << a.right << "\" y1=\"" << svg_number(a.py(y)) << "\" y2=\""
        << svg_number(a.py(y)) << "\"/>";
  for (double x : xt)
    svg << "<line x1=\"" << svg_number(a.px(x)) << "\" x2=\"" << svg_number(a.px(x)) << "\" y1=\"" << a.top
        << "\" y2=\"" << a.bottom << "\"/>";
  svg << "</g><rect x=\"" << a.left << "\" y=\"" << a.top << "\" width=\"" << a.right - a.left
      << "\" height=\"" << a.bottom - a.top << "\" fill=\"none\" stroke=\"#555\"/>\n";
  svg << "<g font-size=\"12\" fill=\"#333\">";
  for (double y : yt) {
    svg << "<text x=\"" << a.left - 7 << "\" y=\"" << svg_number(a.py(y))
        << "\" dy=\"0.32em\" text-anchor=\"end\">" << detail::tick_label(y, y_step) << "</text>";
  }
  for (double x : xt) {
    svg << "<text x=\"" << svg_number(a.px(x)) << "\" y=\"" << a.bottom + 18 << "\" text-anchor=\"middle\">"
        << (plot.log_x ? format_g(x) : detail::tick_label(x, x_step)) << "</text>";
  }
  svg << "</g>\n<g font-size=\"13\" fill=\"#222\">";
  svg << "<text x=\"" << svg_number((a.left + a.right) / 2) << "\" y=\"" << a.bottom + 42
      << "\" text-anchor=\"middle\">" << escape_xml(plot.x_label) << "</text>";
  const double mid_y = (a.top + a.bottom) / 2;
  svg << "<text transform=\"translate(18 " << svg_number(mid_y) << ") rotate(-90)\" text-anchor=\"middle\">"
      << escape_xml(plot.y_label) << "</text></g>\n";
}

void draw_series(std::ostringstream& svg, const LinePlot& plot, const Axes& a, size_t index) {
  const auto& s = plot.series[index];
  const std::string colour = kPalette[index % kPaletteSize];
  const bool dashed = index >= static_cast<size_t>(kPaletteSize);
  const int shape = static_cast<int>(index % kMarkerShapes);
  svg << "<g class=\"series\"><title>" << escape_xml(s.name) << "</title>";
  // A NaN point breaks the line rather than joining its neighbours across the gap.
  std::string path;
  bool pen_down = false;
  for (size_t i = 0; i < plot.x.size(); ++i) {
    if (!std::isfinite(s.y[i])) {
      pen_down = false;
      continue;
    }
    path += (pen_down ? "L" : "M") + svg_number(a.px(plot.x[i])) + " " + svg_number(a.py(s.y[i]));
    pen_down = true;
  }
  if (!path.empty()) {
    svg << "<path d=\"" << path << "\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\""
        << (dashed ? " stroke-dasharray=\"6 3\"" : "") << "/>";
  }
  for (size_t i = 0; i < plot.x.size(); ++i) {
    if (s.low.empty() || s.high.empty() || !std::isfinite(s.low[i]) || !std::isfinite(s.high[i])) continue;
    const std::string x = svg_number(a.px(plot.x[i]));
    const std::string y_low = svg_number(a.py(s.low[i])), y_high = svg_number(a.py(s.high[i]));
    svg << "<path d=\"M" << x << " " << y_low << "V" << y_high << "M" << svg_number(a.px(plot.x[i]) - 4)
        << " " << y_low << "h8M" << svg_number(a.px(plot.x[i]) - 4) << " " << y_high << "h8\" stroke=\""
        << colour << "\" stroke-width=\"1.2\" fill=\"none\"/>";
  }
  for (size_t i = 0; plot.markers && i < plot.x.size(); ++i) {
    if (!std::isfinite(s.y[i])) continue;
    const bool hollow = !plot.x_highlight.empty() && plot.x_highlight[i];
    svg << marker(shape, a.px(plot.x[i]), a.py(s.y[i]), colour, hollow);
  }
  svg << "</g>\n";
}

void draw_legend(std::ostringstream& svg, const LinePlot& plot, double x, double y) {
  svg << "<g font-size=\"12\" fill=\"#222\">";
  for (size_t i = 0; i < plot.series.size(); ++i, y += 20) {
    const std::string colour = kPalette[i % kPaletteSize];
    svg << "<line x1=\"" << x << "\" x2=\"" << x + 24 << "\" y1=\"" << y << "\" y2=\"" << y << "\" stroke=\""
        << colour << "\" stroke-width=\"2\""
        << (i >= static_cast<size_t>(kPaletteSize) ? " stroke-dasharray=\"6 3\"" : "") << "/>"
        << (plot.markers ? marker(static_cast<int>(i % kMarkerShapes), x + 12, y, colour, false) : "")
        << "<text x=\"" << x + 32 << "\" y=\"" << y << "\" dy=\"0.32em\">" << escape_xml(plot.series[i].name)
        << "</text>";
  }
  if (std::find(plot.x_highlight.begin(), plot.x_highlight.end(), true) != plot.x_highlight.end()) {
    svg << marker(0, x + 12, y + 4, "#555", true) << "<text x=\"" << x + 32 << "\" y=\"" << y + 4
        << "\" dy=\"0.32em\" class=\"highlight-note\">" << escape_xml(plot.highlight_note) << "</text>";
  }
  svg << "</g>\n";
}

}  // namespace

std::string line_plot_svg(const LinePlot& plot) {
  check_plot(plot);
  // The legend sits right of the plot, as wide as its longest entry (about 7 px a character).
  size_t longest = plot.highlight_note.size();
  for (const auto& s : plot.series) longest = std::max(longest, s.name.size());
  const double legend_width = std::clamp(40.0 + 7.0 * longest, 110.0, 260.0);

  Axes a{};
  a.log_x = plot.log_x;
  a.left = 72;
  a.right = kWidth - legend_width - 12;
  a.top = plot.title.empty() ? 16 : 44;
  a.bottom = kHeight - 58;

  const auto [x_min, x_max] = std::minmax_element(plot.x.begin(), plot.x.end());
  if (plot.log_x) {
    // A little room beyond the outer points so their markers are not cut by the frame.
    a.x0 = *x_min / (*x_min == *x_max ? 2 : 1.15);
    a.x1 = *x_max * (*x_min == *x_max ? 2 : 1.15);
  } else {
    const double pad = *x_min == *x_max ? std::max(1.0, std::abs(*x_min) * 0.1) : 0;
    const auto ticks = detail::linear_ticks(*x_min - pad, *x_max + pad, 6);
    a.x0 = ticks.front();
    a.x1 = ticks.back();
  }
  auto [y_min, y_max] = finite_range(plot);
  const bool has_data = std::isfinite(y_min);
  if (!has_data) y_min = 0, y_max = 1;
  if (y_min == y_max) {
    const double pad = std::max(1e-6, std::abs(y_min) * 0.05);
    y_min -= pad, y_max += pad;
  }
  const std::vector<double> yt = detail::linear_ticks(y_min, y_max, 5);
  a.y0 = yt.front();
  a.y1 = yt.back();
  const std::vector<double> xt = x_ticks(plot, a.x0, a.x1);

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << kWidth << " " << kHeight
      << "\" width=\"" << kWidth << "\" height=\"" << kHeight << "\" role=\"img\" aria-label=\""
      << escape_xml(plot.title) << "\" font-family=\"" << kFont << "\">\n<title>" << escape_xml(plot.title)
      << "</title>\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  if (!plot.title.empty()) {
    svg << "<text x=\"" << svg_number((a.left + a.right) / 2)
        << "\" y=\"26\" text-anchor=\"middle\" font-size=\"15\" "
        << "font-weight=\"600\" fill=\"#111\">" << escape_xml(plot.title) << "</text>\n";
  }
  draw_axes(svg, plot, a, xt, yt);
  if (!has_data) {
    svg << "<text x=\"" << svg_number((a.left + a.right) / 2) << "\" y=\""
        << svg_number((a.top + a.bottom) / 2)
        << "\" text-anchor=\"middle\" font-size=\"13\" fill=\"#777\">no data</text>\n";
  }
  for (size_t i = 0; i < plot.series.size(); ++i) draw_series(svg, plot, a, i);
  draw_legend(svg, plot, a.right + 16, a.top + 10);
  svg << "</svg>";
  return svg.str();
}

}  // namespace unipet::report
