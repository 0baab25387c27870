#include "unipet/report/html.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/report/png.h"

namespace unipet::test {
namespace {

using report::HtmlReport;
using report::Table;

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

const std::string kHostile = "<script>alert(1)</script>";

std::string tiny_png_uri() { return report::data_uri_png(report::encode_png({0, 128, 255, 64}, 2, 2, 1)); }

const std::string kTinySvg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 4 4\"></svg>";

TEST(ReportHtml, EscapesTextEverywhere) {
  HtmlReport page;
  page.title(kHostile);
  page.heading(kHostile);
  page.paragraph(kHostile);
  page.table({{kHostile}, {{kHostile}}, {}, kHostile});
  page.figure(tiny_png_uri(), kHostile);
  page.code_block(kHostile);
  const std::string html = page.str();
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // title (twice: <title> and <h1>), heading, paragraph, header, cell, caption, alt, figcaption, code.
  EXPECT_EQ(count(html, "&lt;script&gt;alert(1)&lt;/script&gt;"), 10u);
}

TEST(ReportHtml, IsOneSelfContainedDocument) {
  HtmlReport page;
  page.title("Evaluation");
  page.figure(tiny_png_uri(), "picture");
  page.figure(kTinySvg, "chart");
  const std::string html = page.str();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<title>Evaluation</title>"), std::string::npos);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  // Nothing to fetch: no external style sheets, scripts, fonts or pictures.
  for (const char* external :
       {"src=\"http", "href=\"http", "url(", "@import", "<script", "<link rel=\"stylesheet\""}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  EXPECT_NE(html.find("<img src=\"data:image/png;base64,"), std::string::npos);
}

TEST(ReportHtml, MarksBestCellsAndExplainsTheMarker) {
  HtmlReport page;
  page.table({{"Method", "PSNR", "SSIM"},
              {{"UniPET", "38.2", "0.91"}, {"Low dose", "31.0", "0.95"}},
              {{false, true, false}, {false, false, true}},
              "DRF 20"});
  const std::string html = page.str();
  EXPECT_EQ(count(html, "<td class=\"best\">"), 2u);
  EXPECT_NE(html.find("<td class=\"best\">38.2 <span class=\"best-mark\""), std::string::npos);
  EXPECT_NE(html.find("<caption>DRF 20 <span class=\"best-mark\">(&#9733; best)</span></caption>"),
            std::string::npos);
  EXPECT_EQ(count(html, "<th scope=\"col\">"), 3u);
  EXPECT_NE(html.find("position: sticky"), std::string::npos);
}

TEST(ReportHtml, RejectsRaggedTables) {
  HtmlReport page;
  expect_error(
      [&] {
        page.table({{"a", "b"}, {{"1", "2"}, {"3"}}, {}, "scores"});
      },
      {"scores", "row 1 has 1 cells for 2 columns"});
  expect_error(
      [&] {
        page.table({{"a"}, {{"1"}}, {{true}, {false}}, "scores"});
      },
      {"2 rows of best flags for 1"});
  expect_error([&] { page.table({{"a"}, {{"1"}}, {{true, false}}, "scores"}); }, {"row 0 has 2 best flags"});
}

TEST(ReportHtml, FiguresArePicturesOrSvgOnly) {
  HtmlReport page;
  expect_error([&] { page.figure("https://example.com/x.png", "remote"); }, {"remote", "neither"});
  expect_error([&] { page.figure("<div>", "markup"); }, {"markup"});
  expect_error([&] { page.heading("x", 1); }, {"level must be 2 to 4", "1"});
}

TEST(ReportHtml, ConsecutiveFiguresOfOneKindShareAGrid) {
  HtmlReport page;
  page.figure(tiny_png_uri(), "a");
  page.figure(tiny_png_uri(), "b");
  page.figure(kTinySvg, "c");
  page.figure(kTinySvg, "d");
  page.paragraph("text");
  page.figure(tiny_png_uri(), "e");  // left open: str() closes it
  const std::string html = page.str();
  EXPECT_EQ(count(html, "<div class=\"grid\">"), 2u);
  EXPECT_EQ(count(html, "<div class=\"grid charts\">"), 1u);
  EXPECT_EQ(count(html, "<div"), count(html, "</div>"));
  EXPECT_LT(html.find("</div>\n</body>"), std::string::npos);
}

TEST(ReportHtml, WritesThePageToAFile) {
  TempDir dir;
  HtmlReport page;
  page.title("unipet evaluate");
  page.write(dir / "index.html");
  EXPECT_EQ(read_bytes(dir / "index.html"), page.str());
  expect_error([&] { page.write(dir / "missing/index.html"); }, {"missing"});
}

}  // namespace
}  // namespace unipet::test
