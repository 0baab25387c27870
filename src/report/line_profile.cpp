#include <cmath>

#include "unipet/core/error.h"
#include "unipet/report/figures.h"
#include "unipet/report/plots.h"

namespace unipet::report {

std::string line_profile_svg(const std::vector<std::pair<std::string, std::vector<double>>>& series,
                             double spacing_mm, const std::string& y_label) {
  UNIPET_CHECK(!series.empty(), "line_profile_svg: no profiles to draw");
  UNIPET_CHECK(std::isfinite(spacing_mm) && spacing_mm > 0,
               "line_profile_svg: sample spacing must be positive, got " << spacing_mm << " mm");
  const size_t samples = series.front().second.size();
  UNIPET_CHECK(samples > 0, "line_profile_svg: profile '" << series.front().first << "' has no samples");
  LinePlot plot;
  plot.x_label = "Position along the profile (mm)";
  plot.y_label = y_label;
  // Markers on every voxel of a long profile would hide the lines they sit on.
  plot.markers = samples <= 24;
  for (size_t i = 0; i < samples; ++i) plot.x.push_back(static_cast<double>(i) * spacing_mm);
  for (const auto& [name, values] : series) {
    UNIPET_CHECK(values.size() == samples, "line_profile_svg: profile '" << name << "' has " << values.size()
                                                                         << " samples, the first has "
                                                                         << samples);
    plot.series.push_back({name, values, {}, {}});
  }
  return line_plot_svg(plot);
}

}  // namespace unipet::report
