#include "unipet/eval/statistics.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <random>

#include "unipet/core/error.h"

namespace unipet::eval {
namespace {

// numpy.quantile's default (linear) on sorted values.
double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double frac = position - static_cast<double>(below);
  return sorted[below] + frac * (sorted[above] - sorted[below]);
}

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

}  // namespace

double mean_of_finite(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double x : values)
    if (std::isfinite(x)) sum += x, ++n;
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

namespace {

Interval bootstrap_finite(const std::vector<double>& values, uint64_t seed, int64_t resamples, double level,
                          const char* what) {
  UNIPET_CHECK(resamples >= 1, what << ": resamples must be at least 1, got " << resamples);
  UNIPET_CHECK(level > 0 && level < 1, what << ": level must be in (0, 1), got " << level);
  UNIPET_CHECK(!values.empty(), what << ": no finite value to average");
  Interval result;
  result.n = static_cast<int64_t>(values.size());
  result.mean = mean_of(values);
  if (values.size() == 1) {
    result.low = result.high = result.mean;
    return result;
  }
  // Own index draw instead of std::uniform_int_distribution, whose output differs between standard
  // libraries: the modulo's bias is below n / 2^64, far under the bootstrap's own error.
  std::mt19937_64 rng(seed);
  const uint64_t n = values.size();
  std::vector<double> means(static_cast<size_t>(resamples));
  for (auto& m : means) {
    double sum = 0;
    for (uint64_t i = 0; i < n; ++i) sum += values[rng() % n];
    m = sum / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  result.low = quantile_sorted(means, (1 - level) / 2);
  result.high = quantile_sorted(means, (1 + level) / 2);
  return result;
}

}  // namespace

Interval bootstrap_mean(const std::vector<double>& values, uint64_t seed, int64_t resamples, double level) {
  std::vector<double> finite;
  std::copy_if(values.begin(), values.end(), std::back_inserter(finite),
               [](double x) { return std::isfinite(x); });
  return bootstrap_finite(finite, seed, resamples, level, "bootstrap_mean");
}

Interval paired_difference(const std::vector<double>& a, const std::vector<double>& b, uint64_t seed,
                           int64_t resamples, double level) {
  UNIPET_CHECK(a.size() == b.size(), "paired_difference: the samples must pair up, got "
                                         << a.size() << " and " << b.size() << " values");
  std::vector<double> differences;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(a[i]) && std::isfinite(b[i])) differences.push_back(a[i] - b[i]);
  }
  return bootstrap_finite(differences, seed, resamples, level, "paired_difference");
}

}  // namespace unipet::eval
