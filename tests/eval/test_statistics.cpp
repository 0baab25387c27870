#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/eval/statistics.h"

namespace unipet::eval {
namespace {

TEST(Bootstrap, The95PercentIntervalCoversTheTrueMeanAbout95PercentOfTheTime) {
  // 400 datasets of 25 subjects from N(3, 2²), each with its own bootstrap seed.
  constexpr double kTrueMean = 3.0;
  constexpr int kDatasets = 400;
  std::mt19937_64 rng(20240611);
  std::normal_distribution<double> normal(kTrueMean, 2.0);
  int covered = 0;
  for (int k = 0; k < kDatasets; ++k) {
    std::vector<double> values(25);
    for (auto& v : values) v = normal(rng);
    const auto interval = bootstrap_mean(values, static_cast<uint64_t>(k + 1));
    double sum = 0;
    for (double v : values) sum += v;
    EXPECT_NEAR(interval.mean, sum / 25.0, 1e-12);
    EXPECT_LT(interval.low, interval.mean);
    EXPECT_GT(interval.high, interval.mean);
    covered += interval.low <= kTrueMean && kTrueMean <= interval.high;
  }
  const double coverage = static_cast<double>(covered) / kDatasets;
  EXPECT_GE(coverage, 0.90);
  EXPECT_LE(coverage, 0.99);
}

TEST(Bootstrap, TheSameSeedGivesTheSameIntervalAndAnotherSeedAnother) {
  const std::vector<double> values{1.0, 4.0, 2.5, 7.0, 3.0, 0.5, 5.5};
  const auto a = bootstrap_mean(values, 7), b = bootstrap_mean(values, 7), c = bootstrap_mean(values, 8);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  EXPECT_NE(a.low, c.low);
  EXPECT_EQ(a.mean, c.mean);
  EXPECT_NEAR(a.mean, 23.5 / 7.0, 1e-15);
}

TEST(Bootstrap, TwoValuesGiveTheirRangeAsThe95PercentInterval) {
  // Resampled means of {0, 1} are 0, 1/2, 1 with chances 1/4, 1/2, 1/4: the 2.5% and 97.5%
  // quantiles of 2000 of them are 0 and 1.
  const auto interval = bootstrap_mean({0.0, 1.0});
  EXPECT_EQ(interval.low, 0.0);
  EXPECT_EQ(interval.high, 1.0);
  EXPECT_EQ(interval.n, 2);
}

TEST(Bootstrap, OneValueIsItsOwnInterval) {
  const auto interval = bootstrap_mean({31.5});
  EXPECT_EQ(interval.mean, 31.5);
  EXPECT_EQ(interval.low, 31.5);
  EXPECT_EQ(interval.high, 31.5);
  EXPECT_EQ(interval.n, 1);
}

TEST(Bootstrap, NonFiniteValuesAreLeftOutAndCounted) {
  const double inf = std::numeric_limits<double>::infinity();
  const auto interval = bootstrap_mean({1.0, 2.0, inf, 3.0, std::nan("")});
  EXPECT_EQ(interval.n, 3);
  EXPECT_EQ(interval.mean, 2.0);
  EXPECT_TRUE(std::isfinite(interval.low) && std::isfinite(interval.high));
  test::expect_error([&] { bootstrap_mean({inf, -inf}); }, {"bootstrap_mean", "no finite value"});
  test::expect_error([] { bootstrap_mean({}); }, {"bootstrap_mean", "no finite value"});
  test::expect_error([] { bootstrap_mean({1.0, 2.0}, 1, 0); }, {"resamples"});
  test::expect_error([] { bootstrap_mean({1.0, 2.0}, 1, 100, 1.0); }, {"level"});
}

TEST(Bootstrap, PairedDifferenceOfAConstantShiftIsExact) {
  const std::vector<double> b{30.0, 31.25, 29.5, 33.0};
  std::vector<double> a;
  for (double x : b) a.push_back(x + 1.5);
  const auto interval = paired_difference(a, b);
  EXPECT_EQ(interval.mean, 1.5);
  EXPECT_EQ(interval.low, 1.5);
  EXPECT_EQ(interval.high, 1.5);
  EXPECT_EQ(interval.n, 4);
}

TEST(Bootstrap, PairedDifferenceDropsWholePairsAndMatchesTheBootstrapOfDifferences) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> a{3.0, inf, 5.0, 9.0, 4.0}, b{1.0, 2.0, 1.0, 2.0, std::nan("")};
  const auto paired = paired_difference(a, b, 3);
  const auto direct = bootstrap_mean({2.0, 4.0, 7.0}, 3);
  EXPECT_EQ(paired.n, 3);
  EXPECT_EQ(paired.mean, direct.mean);
  EXPECT_EQ(paired.low, direct.low);
  EXPECT_EQ(paired.high, direct.high);
  test::expect_error([] { paired_difference({1.0, 2.0}, {1.0}); }, {"paired_difference", "2", "1"});
}

}  // namespace
}  // namespace unipet::eval
