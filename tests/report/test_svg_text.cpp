#include "report/svg_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace unipet::report::detail {
namespace {

// Tick values are products of powers of ten, so compare them to a relative tolerance.
void expect_ticks(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], 1e-12 * std::abs(expected[i])) << i;
}

TEST(PlotText, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(escape_xml("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(escape_xml("SUV 2.5 µ"), "SUV 2.5 µ");
}

TEST(PlotText, SvgNumbersAreShortAndNeverNegativeZero) {
  EXPECT_EQ(svg_number(12.0), "12");
  EXPECT_EQ(svg_number(12.5), "12.5");
  EXPECT_EQ(svg_number(1.0 / 3), "0.33");
  EXPECT_EQ(svg_number(-0.001), "0");
  EXPECT_EQ(svg_number(-4.25), "-4.25");
}

TEST(PlotTicks, LinearTicksAreRoundAndCoverTheRange) {
  expect_ticks(linear_ticks(0, 10, 5), {0, 2, 4, 6, 8, 10});
  expect_ticks(linear_ticks(31.2, 41.7, 5), {30, 32, 34, 36, 38, 40, 42});
  const auto small = linear_ticks(0.013, 0.048, 4);
  ASSERT_EQ(small.size(), 5u);
  EXPECT_NEAR(small.front(), 0.01, 1e-12);
  EXPECT_NEAR(small.back(), 0.05, 1e-12);
  const auto around_zero = linear_ticks(-0.3, 0.3, 6);
  EXPECT_NE(std::find(around_zero.begin(), around_zero.end(), 0.0), around_zero.end());
  for (double t : around_zero) EXPECT_FALSE(std::signbit(t) && t == 0.0) << "negative zero tick";
}

TEST(PlotTicks, LogTicksAreOneTwoFiveTimesPowersOfTen) {
  expect_ticks(log_ticks(1.5, 120), {2, 5, 10, 20, 50, 100});
  // Many decades: powers of ten only.
  expect_ticks(log_ticks(0.001, 1000), {0.001, 0.01, 0.1, 1, 10, 100, 1000});
  // Inside one 1-2-5 step there are still ticks to read.
  EXPECT_GE(log_ticks(3, 4).size(), 2u);
}

TEST(PlotTicks, LabelsShowTheDecimalsTheStepNeeds) {
  EXPECT_EQ(tick_label(30, 2), "30");
  EXPECT_EQ(tick_label(0.25, 0.05), "0.25");
  EXPECT_EQ(tick_label(0.2, 0.1), "0.2");
  EXPECT_EQ(tick_label(2e6, 1e6), "2e+06");
}

}  // namespace
}  // namespace unipet::report::detail
