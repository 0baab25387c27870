// Opens a sample report in Debian's headless Chromium: the page must load without console
// errors, keep its table, charts and pictures in the DOM, decode every picture, and draw
// something. The screenshot is kept at build/report_test_screenshot.png for a person to look at.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "png_test_util.h"
#include "report/browser_test_util.h"
#include "test_util.h"
#include "unipet/report/figures.h"
#include "unipet/report/html.h"
#include "unipet/report/plots.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;
using namespace unipet::report;


// A torso-like phantom: an elliptic body of SUV 1 with a hot sphere (SUV 6) above and to the
// patient's left of centre, and a slowly varying "noisy" copy of it.
Volume phantom(bool noisy) {
  const int64_t d = 48, h = 40, w = 56;
  auto z = torch::arange(d, torch::kFloat32).view({d, 1, 1});
  auto y = torch::arange(h, torch::kFloat32).view({1, h, 1});
  auto x = torch::arange(w, torch::kFloat32).view({1, 1, w});
  auto body = ((x - 27.5) / 24).pow(2) + ((y - 19.5) / 15).pow(2) <= 1;
  auto lesion = (x - 36).pow(2) + (y - 16).pow(2) + ((z - 32) * 1.5).pow(2) <= 16;
  auto data = body.to(torch::kFloat32) * (1 + 0.4 * torch::sin(z / 6)) + lesion.to(torch::kFloat32) * 5;
  if (noisy) data = data * (1 + 0.25 * torch::sin(x * 1.7 + y * 2.3 + z * 0.9));
  Volume v;
  v.data = data.expand({d, h, w}).contiguous();
  v.spacing = {2.0, 2.0, 3.0};
  return v;
}

std::string sample_page() {
  const Volume full = phantom(false), low = phantom(true);
  HtmlReport page;
  page.title("unipet evaluate: browser test");
  page.paragraph("Synthetic phantom; scores are made up. A name with markup: <script>alert(1)</script>");
  page.table({{"Method", "PSNR (dB)", "SSIM"},
              {{"Low dose", "31.0", "0.870"}, {"UniPET <script>alert(1)</script>", "38.2", "0.941"}},
              {{}, {false, true, true}},
              "DRF 20, test set"});
  LinePlot plot;
  plot.title = "PSNR per dose reduction factor";
  plot.x_label = "Dose reduction factor";
  plot.y_label = "PSNR (dB)";
  plot.log_x = true;
  plot.x = {2, 4, 10, 20, 50, 100};
  plot.series = {{"UniPET",
                  {44.1, 42.0, 39.3, 38.2, 35.6, 33.9},
                  {43.5, 41.2, 38.5, 37.2, 34.4, 32.5},
                  {44.7, 42.8, 40.1, 39.2, 36.8, 35.3}},
                 {"Low dose", {40.2, 36.9, 33.1, 31.0, NAN, 25.2}, {}, {}}};
  plot.x_highlight = {false, false, true, false, true, false};
  page.heading("Scores");
  page.figure(line_plot_svg(plot), "PSNR (mean and 95% interval over patients)");
  std::vector<double> through_lesion_low, through_lesion_full;
  for (int64_t x = 20; x < 52; ++x) {
    through_lesion_low.push_back(low.data[32][16][x].item<double>());
    through_lesion_full.push_back(full.data[32][16][x].item<double>());
  }
  page.figure(
      line_profile_svg({{"Low dose", through_lesion_low}, {"Full dose", through_lesion_full}}, 2.0, "SUV"),
      "Profile through the lesion");
  page.heading("Images");
  const Window suv{0, 6};
  page.figure(data_uri_png(coronal_mip(full, suv, 320)), "Full dose, coronal MIP");
  page.figure(data_uri_png(coronal_mip(low, suv, 320)), "Low dose, coronal MIP");
  page.figure(data_uri_png(axial_slice(low, 32, suv, 320)), "Low dose, axial slice through the lesion");
  page.figure(data_uri_png(coronal_slice(low, 16, suv, 320)), "Low dose, coronal slice through the lesion");
  page.figure(data_uri_png(difference_slice(low, full, 32, 1.5, 320)), "Low minus full dose (SUV ±1.5)");
  page.code_block("unipet evaluate --data test/ --report-dir report/");
  return page.str();
}

TEST(ReportBrowser, RendersInHeadlessChromium) {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "chromium is not installed (./run installs Debian's chromium package)";
  }
  TempDir dir;
  std::string html = sample_page();
  html.insert(html.rfind("</body>"), kProbe);
  write_bytes(dir / "index.html", html);

  const BrowserRun dom = run_chromium(dir, "--dump-dom", dir / "index.html");
  ASSERT_EQ(dom.status, 0) << dom.log;
  EXPECT_NE(dom.log.find("unipet-probe-ran"), std::string::npos)
      << "console messages did not reach the log:\n"
      << dom.log;
  EXPECT_EQ(unexpected_console_lines(dom.log), std::vector<std::string>{});
  EXPECT_NE(dom.out.find("<table>"), std::string::npos);
  EXPECT_NE(dom.out.find("38.2 <span class=\"best-mark\""), std::string::npos);
  EXPECT_EQ(count(dom.out, "alert(1)"), 2u);  // both as text, never as a script
  EXPECT_EQ(count(dom.out, "<script>alert"), 0u);
  EXPECT_EQ(count(dom.out, "<img "), 5u);
  EXPECT_EQ(count(dom.out, "<svg "), 2u);
  EXPECT_NE(dom.out.find("data-decoded=\"5/5\""), std::string::npos) << "a picture failed to decode";

  // The plot on its own, as a .svg file, must be well-formed XML (else Chromium shows a parser error).
  LinePlot plot;
  plot.title = "x & <y>";
  plot.x = {1, 2};
  plot.series = {{"\"quoted\" & 'apostrophe'", {1, 2}, {}, {}}};
  write_bytes(dir / "plot.svg", line_plot_svg(plot));
  const BrowserRun svg = run_chromium(dir, "--dump-dom", dir / "plot.svg");
  ASSERT_EQ(svg.status, 0) << svg.log;
  EXPECT_EQ(svg.out.find("parsererror"), std::string::npos) << svg.out;
  EXPECT_NE(svg.out.find("<svg"), std::string::npos);

  // Stable path beside the test binary, so a person can look at the last rendering.
  const fs::path screenshot = fs::path(UNIPET_CLI_PATH).parent_path() / "report_test_screenshot.png";
  fs::remove(screenshot);
  const BrowserRun shot = run_chromium(dir, "--screenshot='" + screenshot.string() + "'", dir / "index.html");
  ASSERT_EQ(shot.status, 0) << shot.log;
  EXPECT_EQ(unexpected_console_lines(shot.log), std::vector<std::string>{});
  const DecodedPng png = decode_png(read_bytes(screenshot.string()), 3);
  ASSERT_TRUE(png.ok) << screenshot;
  EXPECT_EQ(png.width, 1280);
  EXPECT_EQ(png.height, 2000);
  size_t inked = 0, black = 0, red = 0;
  for (size_t i = 0; i + 2 < png.pixels.size(); i += 3) {
    const int r = png.pixels[i], g = png.pixels[i + 1], b = png.pixels[i + 2];
    inked += r + g + b < 3 * 235;
    black += r + g + b < 3 * 40;
    red += r > 150 && g < 110 && b < 110;
  }
  const size_t pixels = png.pixels.size() / 3;
  EXPECT_GT(inked, pixels / 20) << "the page looks blank";
  EXPECT_GT(black, 500u) << "no hot (black) voxels or text drawn";
  EXPECT_GT(red, 200u) << "no red difference pixels or vermillion series drawn";
}

}  // namespace
}  // namespace unipet::test
