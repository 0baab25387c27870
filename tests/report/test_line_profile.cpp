#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"
#include "unipet/report/figures.h"

namespace unipet::test {
namespace {

TEST(FigureLineProfile, DrawsEverySeriesAgainstMillimetres) {
  const std::string svg = report::line_profile_svg(
      {{"Low dose", {1, 2, 6, 2, 1}}, {"UniPET", {1, 3, 5, 3, 1}}, {"Full dose", {1, 3, 5.5, NAN, 1}}}, 4.0,
      "SUV");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  for (const char* text : {">Low dose</text>", ">UniPET</text>", ">Full dose</text>", ">SUV</text>",
                           ">Position along the profile (mm)</text>", ">16</text>"}) {
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  }
}

TEST(FigureLineProfile, RejectsUnequalProfilesAndBadSpacing) {
  expect_error(
      [] {
        report::line_profile_svg({{"a", {1, 2}}, {"b", {1}}}, 2.0, "SUV");
      },
      {"profile 'b' has 1 samples", "first has 2"});
  expect_error([] { report::line_profile_svg({{"a", {1, 2}}}, 0.0, "SUV"); }, {"spacing", "0 mm"});
  expect_error([] { report::line_profile_svg({}, 1.0, "SUV"); }, {"no profiles"});
}

}  // namespace
}  // namespace unipet::test
