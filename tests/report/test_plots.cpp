#include "unipet/report/plots.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"

namespace unipet::test {
namespace {

using report::line_plot_svg;
using report::LinePlot;

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

LinePlot drf_plot() {
  LinePlot plot;
  plot.title = "PSNR";
  plot.x_label = "Dose reduction factor";
  plot.y_label = "PSNR (dB)";
  plot.log_x = true;
  plot.x = {2, 4, 10, 20, 50, 100};
  plot.series = {{"UniPET", {41.2, 39.8, 37.1, 35.9, 33.0, 31.4}, {}, {}},
                 {"Low dose", {38.0, 35.1, NAN, 28.3, 24.9, 22.0}, {}, {}}};
  return plot;
}

TEST(PlotSvg, IsOneSvgElementWithTitleLabelsAndLegend) {
  const std::string svg = line_plot_svg(drf_plot());
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
  EXPECT_EQ(count(svg, "<svg"), 1u);
  for (const char* text : {">PSNR</text>", ">Dose reduction factor</text>", ">PSNR (dB)</text>",
                           ">UniPET</text>", ">Low dose</text>"}) {
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  }
}

TEST(PlotSvg, LabelsALogAxisAtTheDoseReductionFactors) {
  const std::string svg = line_plot_svg(drf_plot());
  for (const char* tick :
       {">2</text>", ">4</text>", ">10</text>", ">20</text>", ">50</text>", ">100</text>"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  // y ticks are round: PSNR 22 to 41.2 gets 20, 25, ..., 45.
  for (const char* tick : {">20</text>", ">30</text>", ">45</text>"})
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
}

TEST(PlotSvg, NanPointsAreSkippedAndBreakTheLine) {
  const std::string svg = line_plot_svg(drf_plot());
  // Series 0 (circles) has 6 points plus its legend marker; series 1 (squares) 5 plus its legend.
  EXPECT_EQ(count(svg, "<circle"), 7u);
  EXPECT_EQ(count(svg, "<rect x="), 1u + 5 + 1);  // the frame, 5 points, the legend marker
  const size_t second = svg.find("<g class=\"series\"><title>Low dose");
  ASSERT_NE(second, std::string::npos);
  const std::string path = svg.substr(svg.find("<path d=\"", second), 200);
  EXPECT_EQ(count(path.substr(0, path.find("\" ")), "M"), 2u) << path;
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(PlotSvg, HighlightedPointsAreHollowAndExplained) {
  LinePlot plot = drf_plot();
  plot.x_highlight = {false, true, false, false, true, false};
  plot.highlight_note = "hollow: DRF not seen in training";
  const std::string svg = line_plot_svg(plot);
  // Two hollow points in each series (neither is a NaN point) and the legend's example.
  EXPECT_EQ(count(svg, "fill=\"#fff\" stroke="), 2u * 2 + 1);
  EXPECT_NE(svg.find(">hollow: DRF not seen in training</text>"), std::string::npos);
  EXPECT_EQ(line_plot_svg(drf_plot()).find("highlight-note"), std::string::npos);
}

TEST(PlotSvg, SeriesGetDistinctColoursAndErrorBars) {
  LinePlot plot = drf_plot();
  plot.series[0].low = {40, 39, 36, 35, 32, 30};
  plot.series[0].high = {42, 41, 38, 37, 34, NAN};
  const std::string svg = line_plot_svg(plot);
  EXPECT_NE(svg.find("stroke=\"#0072B2\""), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#D55E00\""), std::string::npos);
  EXPECT_EQ(count(svg, "h8M"), 5u);  // one capped bar per point with both ends
}

TEST(PlotSvg, EscapesText) {
  LinePlot plot = drf_plot();
  plot.series[0].name = "<script>alert(1)</script>";
  plot.title = "A & B";
  const std::string svg = line_plot_svg(plot);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">A &amp; B</text>"), std::string::npos);
}

TEST(PlotSvg, AllNanSeriesDrawEmptyAxes) {
  LinePlot plot = drf_plot();
  plot.series = {{"empty", std::vector<double>(6, NAN), {}, {}}};
  const std::string svg = line_plot_svg(plot);
  EXPECT_NE(svg.find(">no data</text>"), std::string::npos);
  EXPECT_EQ(svg.find("<path d=\"M"), std::string::npos);
}

TEST(PlotSvg, RejectsMismatchedSizesAndNonPositiveLogX) {
  LinePlot plot = drf_plot();
  plot.series[1].y.pop_back();
  expect_error([&] { line_plot_svg(plot); }, {"PSNR", "Low dose", "5 values for 6"});
  plot = drf_plot();
  plot.x[0] = 0;
  expect_error([&] { line_plot_svg(plot); }, {"x value 0", "logarithmic"});
  plot = drf_plot();
  plot.x_highlight = {true};
  expect_error([&] { line_plot_svg(plot); }, {"1 highlight flags for 6"});
}

}  // namespace
}  // namespace unipet::test
