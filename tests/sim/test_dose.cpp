#include <gtest/gtest.h>

#include "unipet/core/error.h"
#include "unipet/sim/dose.h"

namespace unipet::sim {
namespace {

double average(const torch::Tensor& t) { return t.to(torch::kFloat64).mean().item<double>(); }
double variance(const torch::Tensor& t) { return t.to(torch::kFloat64).var().item<double>(); }

TEST(Dose, PoissonCountsHaveTheRequestedMeanAndVariance) {
  const torch::Tensor counts = poisson_counts(torch::full({200000}, 7.5), 11);
  EXPECT_TRUE(torch::equal(counts, counts.round()));
  // Standard errors: mean 0.006, variance about 0.025.
  EXPECT_NEAR(average(counts), 7.5, 0.03);
  EXPECT_NEAR(variance(counts), 7.5, 0.15);
}

TEST(Dose, ThinnedCountsHaveBinomialMeanAndVariance) {
  const torch::Tensor full = torch::full({200000}, 50.0);
  for (double keep : {0.5, 0.25, 0.01}) {
    const torch::Tensor kept = thin_counts(full, keep, 12);
    const double m = 50 * keep, v = 50 * keep * (1 - keep);
    EXPECT_NEAR(average(kept), m, 5 * std::sqrt(v / 200000)) << keep;
    EXPECT_NEAR(variance(kept), v, 0.03 * v) << keep;
  }
}

TEST(Dose, NestedThinningKeepsOneOverDrfOfTheFullCounts) {
  const torch::Tensor full = torch::full({200000}, 40.0);
  const auto low = thin_nested(full, {10, 2, 4}, 13);
  ASSERT_EQ(low.size(), 3u);
  for (const auto& [drf, counts] : low) {
    const double p = 1 / drf, m = 40 * p, v = 40 * p * (1 - p);
    EXPECT_NEAR(average(counts), m, 5 * std::sqrt(v / 200000)) << drf;
    EXPECT_NEAR(variance(counts), v, 0.03 * v) << drf;
  }
}

TEST(Dose, ThinningIsNested) {
  const torch::Tensor full = poisson_counts(torch::full({4, 30, 30}, 20.0), 14);
  const auto low = thin_nested(full, {2, 4, 10, 20, 50, 100}, 15);
  torch::Tensor previous = full;
  for (const auto& [drf, counts] : low) {
    EXPECT_TRUE((counts <= previous).all().item<bool>()) << drf;
    EXPECT_TRUE((counts >= 0).all().item<bool>()) << drf;
    previous = counts;
  }
}

TEST(Dose, TheSameSeedGivesTheSameCountsAndAnotherSeedDoesNot) {
  const torch::Tensor mean_counts = torch::rand({3, 16, 16}) * 30;
  EXPECT_TRUE(torch::equal(poisson_counts(mean_counts, 1), poisson_counts(mean_counts, 1)));
  EXPECT_FALSE(torch::equal(poisson_counts(mean_counts, 1), poisson_counts(mean_counts, 2)));
  const torch::Tensor full = poisson_counts(mean_counts, 1);
  EXPECT_TRUE(torch::equal(thin_nested(full, {4}, 3).at(4), thin_nested(full, {4}, 3).at(4)));
}

TEST(Dose, ANestedChainIsStepsOfOneThinningRule) {
  const torch::Tensor full = poisson_counts(torch::full({4096}, 30.0), 5);
  // A step keeps previous/drf of the previous level's counts: the same draw as thin_counts.
  EXPECT_TRUE(torch::equal(thin_to_drf(full, 4, 10, 9), thin_counts(full, 0.4, 9)));
  EXPECT_TRUE(torch::equal(thin_to_drf(full, 1, 4, 9), thin_counts(full, 0.25, 9)));
  EXPECT_THROW(thin_to_drf(full, 4, 4, 9), Error);
  EXPECT_THROW(thin_to_drf(full, 10, 4, 9), Error);
  EXPECT_THROW(thin_to_drf(full, 0.5, 4, 9), Error);
}

TEST(Dose, InvalidInputsAreRejected) {
  EXPECT_THROW(poisson_counts(torch::full({3}, -1.0), 1), Error);
  EXPECT_THROW(thin_counts(torch::full({3}, 2.5), 0.5, 1), Error);
  EXPECT_THROW(thin_counts(torch::full({3}, 2.0), 1.5, 1), Error);
  EXPECT_THROW(thin_nested(torch::full({3}, 2.0), {0.5}, 1), Error);
}

}  // namespace
}  // namespace unipet::sim
