#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <numeric>

#include "unipet/core/error.h"
#include "unipet/sim/random.h"

namespace unipet::sim {
namespace {

struct Moments {
  double mean = 0, variance = 0;
};

template <typename Draw>
Moments moments(int64_t n, Draw draw) {
  double sum = 0, sum2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = draw();
    sum += x;
    sum2 += x * x;
  }
  const double mean = sum / n;
  return {mean, (sum2 - n * mean * mean) / (n - 1)};
}

TEST(Random, XoshiroReproducesThePublishedReferenceOutputs) {
  // Outputs of Vigna's reference xoshiro256starstar.c from the state {1, 2, 3, 4}, as listed in
  // the `reference` test of rand_xoshiro (github.com/rust-random/rngs,
  // rand_xoshiro/src/xoshiro256starstar.rs).
  Random r = Random::from_state({1, 2, 3, 4});
  const uint64_t expected[] = {11520ull,
                               0ull,
                               1509978240ull,
                               1215971899390074240ull,
                               1216172134540287360ull,
                               607988272756665600ull,
                               16172922978634559625ull,
                               8476171486693032832ull,
                               10595114339597558777ull,
                               2904607092377533576ull};
  for (uint64_t e : expected) EXPECT_EQ(r.next(), e);
  EXPECT_THROW(Random::from_state({0, 0, 0, 0}), Error);
}

TEST(Random, SplitmixReproducesThePublishedReferenceOutputs) {
  // Outputs of Vigna's reference splitmix64.c from 1477776061723855037, as listed in the
  // `reference` test of rand_xoshiro (github.com/rust-random/rngs, rand_xoshiro/src/splitmix64.rs).
  uint64_t state = 1477776061723855037ull;
  const uint64_t expected[] = {1985237415132408290ull, 2979275885539914483ull,  13511426838097143398ull,
                               8488337342461049707ull, 15141737807933549159ull, 17093170987380407015ull};
  for (uint64_t e : expected) EXPECT_EQ(splitmix64(state), e);
}

TEST(Random, StreamSeedsDifferForNearbyPairs) {
  EXPECT_NE(stream_seed(1, 0), stream_seed(0, 1));
  EXPECT_NE(stream_seed(1, 2), stream_seed(1, 3));
  EXPECT_EQ(stream_seed(7, 9), stream_seed(7, 9));
  Random a(stream_seed(5, 0)), b(stream_seed(5, 1));
  EXPECT_NE(a.next(), b.next());
}

TEST(Random, UniformAndNormalHaveTheirMoments) {
  Random r(1);
  const int64_t n = 400000;
  const Moments u = moments(n, [&] { return r.uniform(); });
  EXPECT_NEAR(u.mean, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(u.variance, 1.0 / 12, 0.002);
  const Moments g = moments(n, [&] { return r.normal(); });
  EXPECT_NEAR(g.mean, 0.0, 5 / std::sqrt(n));
  EXPECT_NEAR(g.variance, 1.0, 5 * std::sqrt(2.0 / n));
  // Fourth moment 3 (a Gaussian's), standard error about sqrt(96 / n).
  double fourth = 0;
  for (int64_t i = 0; i < n; ++i) fourth += std::pow(r.normal(), 4);
  EXPECT_NEAR(fourth / n, 3.0, 5 * std::sqrt(96.0 / n));
  for (int i = 0; i < 1000; ++i) {
    const double x = r.uniform(-2, 3);
    EXPECT_GE(x, -2);
    EXPECT_LT(x, 3);
  }
}

TEST(Random, IntegersCoverTheirInclusiveRangeEvenly) {
  Random r(2);
  std::vector<int64_t> histogram(7, 0);
  const int64_t n = 70000;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = r.integer(-3, 3);
    ASSERT_GE(k, -3);
    ASSERT_LE(k, 3);
    ++histogram[k + 3];
  }
  for (int64_t count : histogram) EXPECT_NEAR(count, n / 7.0, 5 * std::sqrt(n / 7.0));
  EXPECT_EQ(r.integer(4, 4), 4);
  EXPECT_THROW(r.integer(2, 1), Error);
}

TEST(Random, PoissonHasTheRequestedMeanAndVariance) {
  Random r(3);
  const int64_t n = 200000;
  for (double mean : {0.1, 5.0, 30.0, 1000.0}) {
    const Moments m = moments(n, [&] { return static_cast<double>(r.poisson(mean)); });
    // Standard errors: mean sqrt(mu / n); variance about mu sqrt(2 / n) (plus mu / n for small mu).
    EXPECT_NEAR(m.mean, mean, 5 * std::sqrt(mean / n)) << mean;
    EXPECT_NEAR(m.variance, mean, 5 * (mean * std::sqrt(2.0 / n) + std::sqrt(mean / n))) << mean;
  }
  EXPECT_EQ(r.poisson(0), 0);
  EXPECT_THROW(r.poisson(-1), Error);
  EXPECT_THROW(r.poisson(NAN), Error);
}

TEST(Random, PoissonFrequenciesPassAChiSquareTest) {
  // Mean 3: cells 0..9 and >= 10 (expected count of the last ~ 22); 10 degrees of freedom.
  Random r(4);
  const int64_t n = 100000;
  const double mean = 3;
  std::vector<double> observed(11, 0);
  for (int64_t i = 0; i < n; ++i) ++observed[std::min<int64_t>(r.poisson(mean), 10)];
  double chi2 = 0, p = std::exp(-mean), tail = 1;
  for (int k = 0; k < 10; ++k) {
    chi2 += std::pow(observed[k] - n * p, 2) / (n * p);
    tail -= p;
    p *= mean / (k + 1);
  }
  chi2 += std::pow(observed[10] - n * tail, 2) / (n * tail);
  EXPECT_LT(chi2, 29.59);  // the 0.999 quantile of chi-square with 10 degrees of freedom
}

TEST(Random, BinomialHasTheRequestedMeanAndVarianceAndEdgeCases) {
  Random r(5);
  const int64_t n = 200000;
  const std::vector<std::pair<int64_t, double>> cases = {
      {20, 0.1}, {50, 0.5}, {1000, 0.3}, {1000, 0.97}, {100000, 0.01}};
  for (const auto& [trials, p] : cases) {
    const double mean = trials * p, var = trials * p * (1 - p);
    const Moments m = moments(n, [&] { return static_cast<double>(r.binomial(trials, p)); });
    EXPECT_NEAR(m.mean, mean, 5 * std::sqrt(var / n)) << trials << " " << p;
    EXPECT_NEAR(m.variance, var, 5 * (var * std::sqrt(2.0 / n) + std::sqrt(var / n))) << trials << " " << p;
  }
  EXPECT_EQ(r.binomial(0, 0.5), 0);
  EXPECT_EQ(r.binomial(17, 0.0), 0);
  EXPECT_EQ(r.binomial(17, 1.0), 17);
  EXPECT_THROW(r.binomial(-1, 0.5), Error);
  EXPECT_THROW(r.binomial(3, 1.5), Error);
}

TEST(Random, PickFollowsTheWeightsAndShuffleIsAPermutation) {
  Random r(6);
  const std::vector<double> weights = {1, 0, 3};
  std::vector<double> counts(3, 0);
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++counts[r.pick(weights)];
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[2] / n, 0.75, 5 * std::sqrt(0.75 * 0.25 / n));
  EXPECT_THROW(r.pick({0, 0}), Error);
  EXPECT_THROW(r.pick({1, -1}), Error);
  std::vector<int> v(50);
  std::iota(v.begin(), v.end(), 0);
  std::vector<int> shuffled = v;
  r.shuffle(shuffled);
  EXPECT_NE(shuffled, v);
  std::sort(shuffled.begin(), shuffled.end());
  EXPECT_EQ(shuffled, v);
}

TEST(RandomTensor, DrawsDoNotDependOnTheThreadCountOrOnChunking) {
  const torch::Tensor mean = torch::linspace(0, 60, 50000).reshape({50, 1000});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const torch::Tensor one = poisson_tensor(mean, 9);
  const torch::Tensor normal_one = normal_tensor({50, 1000}, 9);
  const torch::Tensor thin_one = binomial_tensor(one, 0.3, 10);
  at::set_num_threads(2);
  const torch::Tensor two = poisson_tensor(mean, 9);
  const torch::Tensor normal_two = normal_tensor({50, 1000}, 9);
  const torch::Tensor thin_two = binomial_tensor(one, 0.3, 10);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, two));
  EXPECT_TRUE(torch::equal(normal_one, normal_two));
  EXPECT_TRUE(torch::equal(thin_one, thin_two));
  // Two chunks of rows, each told where it starts, give the tensor drawn at once.
  const torch::Tensor flat = mean.flatten();
  const torch::Tensor chunked = torch::cat(
      {poisson_tensor(flat.slice(0, 0, 20000), 9), poisson_tensor(flat.slice(0, 20000), 9, 20000)});
  EXPECT_TRUE(torch::equal(chunked, one.flatten()));
  const torch::Tensor normal_chunks =
      torch::cat({normal_tensor({30, 1000}, 9), normal_tensor({20, 1000}, 9, 30000)});
  EXPECT_TRUE(torch::equal(normal_chunks, normal_one));
  const torch::Tensor thin_chunks = torch::cat(
      {binomial_tensor(one.slice(0, 0, 10), 0.3, 10), binomial_tensor(one.slice(0, 10), 0.3, 10, 10000)});
  EXPECT_TRUE(torch::equal(thin_chunks, thin_one));
  EXPECT_EQ(one.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(one, one.round()));
}

TEST(RandomTensor, PoissonStreamIsUnchanged) {
  // Golden values: a change here changes every simulated dataset, so it must be deliberate.
  const torch::Tensor mean = torch::tensor({0.5, 3.0, 12.0, 100.0, 2500.0, 0.0}, torch::kFloat64);
  const torch::Tensor draws = poisson_tensor(mean, 20261201);
  const std::vector<float> expected = {0, 2, 12, 92, 2405, 0};
  ASSERT_EQ(draws.numel(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(draws[i].item<float>(), expected[i]) << i;
  const torch::Tensor normals = normal_tensor({3}, 20261201);
  const std::vector<float> expected_normals = {-0.212143496f, -0.0468978807f, -0.613482177f};
  for (size_t i = 0; i < expected_normals.size(); ++i) {
    EXPECT_EQ(normals[i].item<float>(), expected_normals[i]) << i;
  }
}

TEST(RandomTensor, TensorDrawsHaveTheirDistributions) {
  const torch::Tensor normals = normal_tensor({200000}, 3).to(torch::kFloat64);
  EXPECT_NEAR(normals.mean().item<double>(), 0, 5 / std::sqrt(2e5));
  EXPECT_NEAR(normals.var().item<double>(), 1, 5 * std::sqrt(2 / 2e5));
  const torch::Tensor kept = binomial_tensor(torch::full({200000}, 40.0), 0.25, 4).to(torch::kFloat64);
  EXPECT_NEAR(kept.mean().item<double>(), 10, 5 * std::sqrt(7.5 / 2e5));
  EXPECT_NEAR(kept.var().item<double>(), 7.5, 5 * 7.5 * std::sqrt(2 / 2e5));
  EXPECT_TRUE(torch::equal(binomial_tensor(torch::full({5}, 9.0), 1.0, 1), torch::full({5}, 9.0f)));
  EXPECT_THROW(binomial_tensor(torch::full({3}, 2.5), 0.5, 1), Error);
  EXPECT_THROW(poisson_tensor(torch::full({3}, -1.0), 1), Error);
  EXPECT_THROW(poisson_tensor(torch::full({3}, INFINITY), 1), Error);
}

TEST(RandomTensor, ThinningAndPoissonAreFastEnough) {
  // 2e8 counts in 2e6 bins of 100 (a full-dose whole-body study), on one thread.
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const torch::Tensor full = torch::full({2000000}, 100.0f);
  auto start = std::chrono::steady_clock::now();
  const torch::Tensor kept = binomial_tensor(full, 0.5, 1);
  const double thin_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  start = std::chrono::steady_clock::now();
  const torch::Tensor counts = poisson_tensor(full, 2);
  const double poisson_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  at::set_num_threads(threads);
  std::cout << "[ timing   ] one thread: thinning 2e8 counts " << thin_s << " s, Poisson of 2e6 means of 100 "
            << poisson_s << " s\n";
  // Generous bounds for a loaded shared machine; the figures above are the measurement.
  EXPECT_LT(thin_s, 3.0);
  EXPECT_LT(poisson_s, 3.0);
  EXPECT_NEAR(kept.to(torch::kFloat64).sum().item<double>(), 1e8, 5 * std::sqrt(5e7));
}

}  // namespace
}  // namespace unipet::sim
