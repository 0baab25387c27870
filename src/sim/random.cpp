#include "unipet/sim/random.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "unipet/core/error.h"

namespace unipet::sim {

namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/// log(k!) without std::lgamma, which writes the global signgam (a data race in parallel draws):
/// a table of summed logs below 128, Stirling's series (error < 1e-17 there) above.
double log_factorial(int64_t k) {
  static const std::array<double, 128> table = [] {
    std::array<double, 128> t{};
    for (size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] + std::log(static_cast<double>(i));
    return t;
  }();
  if (k < static_cast<int64_t>(table.size())) return table[static_cast<size_t>(k)];
  const double x = static_cast<double>(k) + 1, x2 = x * x;
  return (x - 0.5) * std::log(x) - x + 0.91893853320467274178 +  // log(sqrt(2 pi))
         (1.0 / 12 - (1.0 / 360 - 1.0 / (1260 * x2)) / x2) / x;
}

/// Poisson by sequential search of the CDF: one uniform, O(mean) steps; for mean < 10.
int64_t poisson_inversion(Random& r, double mean) {
  const double p0 = std::exp(-mean);
  for (;;) {
    double u = r.uniform(), p = p0;
    // The tail beyond 200 has probability < 1e-170 for mean < 10; a draw there only means the
    // rounding of the running CDF fell short of u, so draw again rather than loop on.
    for (int64_t k = 0; k <= 200; ++k) {
      if (u < p) return k;
      u -= p;
      p *= mean / static_cast<double>(k + 1);
    }
  }
}

/// Poisson by Hormann's PTRS (transformed rejection with squeeze), for mean >= 10: W. Hormann,
/// "The transformed rejection method for generating Poisson random variables", Insurance:
/// Mathematics and Economics 12 (1993) 39-45.
int64_t poisson_ptrs(Random& r, double mean) {
  const double sq = std::sqrt(mean), log_mean = std::log(mean);
  const double b = 0.931 + 2.53 * sq, a = -0.059 + 0.02483 * b;
  const double log_inv_alpha = std::log(1.1239 + 1.1328 / (b - 3.4));
  const double v_r = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const double u = r.uniform() - 0.5, v = r.uniform();
    const double us = 0.5 - std::fabs(u);
    const double kf = std::floor((2 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= v_r) return static_cast<int64_t>(kf);
    if (kf < 0 || (us < 0.013 && v > us)) continue;
    const auto k = static_cast<int64_t>(kf);
    if (std::log(v) + log_inv_alpha - std::log(a / (us * us) + b) <=
        -mean + kf * log_mean - log_factorial(k)) {
      return k;
    }
  }
}

/// Binomial(n, p) for p <= 0.5 and n p < 10 by sequential search of the CDF.
int64_t binomial_inversion(Random& r, int64_t n, double p) {
  const double q = 1 - p, s = p / q, a = (static_cast<double>(n) + 1) * s;
  const double p0 = std::pow(q, static_cast<double>(n));
  const int64_t cap = std::min<int64_t>(n, 500);  // n p < 10: beyond 500 only rounding leads
  for (;;) {
    double u = r.uniform(), prob = p0;
    for (int64_t x = 0; x <= cap; ++x) {
      if (u < prob) return x;
      u -= prob;
      prob *= a / static_cast<double>(x + 1) - s;  // P(x + 1) / P(x) = (n - x) / (x + 1) * p / q
    }
  }
}

/// Binomial(n, p) for p <= 0.5 and n p >= 10 by Hormann's BTRS: W. Hormann, "The generation of
/// binomial random variates", J. Statistical Computation and Simulation 46 (1993) 101-110.
int64_t binomial_btrs(Random& r, int64_t n, double p) {
  const double nd = static_cast<double>(n), q = 1 - p, spq = std::sqrt(nd * p * q);
  const double b = 1.15 + 2.53 * spq, a = -0.0873 + 0.0248 * b + 0.01 * p, c = nd * p + 0.5;
  const double alpha = (2.83 + 5.1 / b) * spq, v_r = 0.92 - 4.2 / b, log_pq = std::log(p / q);
  const auto m = static_cast<int64_t>(std::floor((nd + 1) * p));
  const double h = log_factorial(m) + log_factorial(n - m);
  for (;;) {
    const double u = r.uniform() - 0.5, v = r.uniform();
    const double us = 0.5 - std::fabs(u);
    const double kf = std::floor((2 * a / us + b) * u + c);
    if (kf < 0 || kf > nd) continue;
    const auto k = static_cast<int64_t>(kf);
    if (us >= 0.07 && v <= v_r) return k;
    if (std::log(v * alpha / (a / (us * us) + b)) <=
        h - log_factorial(k) - log_factorial(n - k) + static_cast<double>(k - m) * log_pq) {
      return k;
    }
  }
}

/// Fills a float32 CPU tensor element by element, element i from stream first_index + i, in
/// parallel; `draw(value, stream)` gets the input element as double. Float32 input (counts,
/// sinograms) is read as it is, other types through a float64 copy.
template <typename Draw>
torch::Tensor elementwise(const torch::Tensor& input, int64_t first_index, Draw draw) {
  const bool single = input.scalar_type() == torch::kFloat32;
  const torch::Tensor in = input.to(torch::kCPU, single ? torch::kFloat32 : torch::kFloat64).contiguous();
  torch::Tensor out = torch::empty(in.sizes(), torch::TensorOptions().dtype(torch::kFloat32));
  float* dst = out.data_ptr<float>();
  const auto first = static_cast<uint64_t>(first_index);
  auto fill = [&](const auto* src) {
    at::parallel_for(0, in.numel(), 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        dst[i] = static_cast<float>(draw(static_cast<double>(src[i]), first + static_cast<uint64_t>(i)));
      }
    });
  };
  if (single) {
    fill(in.data_ptr<float>());
  } else {
    fill(in.data_ptr<double>());
  }
  return out;
}

}  // namespace


uint64_t stream_seed(uint64_t a, uint64_t b) {
  return splitmix64_finalise(splitmix64_finalise(a + kSplitMixGolden) ^ splitmix64_finalise(b + 2 * kSplitMixGolden));
}

Random::Random(uint64_t seed) {
  for (uint64_t& word : s_) word = splitmix64(seed);
  // splitmix64 is a bijection of distinct counters, so the four words are never all zero.
}

Random Random::from_state(const std::array<uint64_t, 4>& state) {
  UNIPET_CHECK(state[0] || state[1] || state[2] || state[3],
               "Random: xoshiro256** state must not be all zero");
  Random r;
  r.s_ = state;
  return r;
}

uint64_t Random::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Random::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Random::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int64_t Random::integer(int64_t lo, int64_t hi) {
  UNIPET_CHECK(lo <= hi, "Random::integer: empty range [" << lo << ", " << hi << "]");
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (range == 0) return static_cast<int64_t>(next());  // the whole int64 range
  // Values below 2^64 mod range would make the low residues more likely: reject them.
  const uint64_t threshold = (0 - range) % range;
  uint64_t x = next();
  while (x < threshold) x = next();
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % range);
}

double Random::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  double u = 0, v = 0, s = 0;
  do {
    u = 2 * uniform() - 1;
    v = 2 * uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  const double f = std::sqrt(-2 * std::log(s) / s);
  spare_normal_ = v * f;
  has_spare_ = true;
  return u * f;
}

int64_t Random::poisson(double mean) {
  UNIPET_CHECK(std::isfinite(mean) && mean >= 0 && mean < 1e15,
               "Random::poisson: the mean must be finite, >= 0 and < 1e15, got " << mean);
  if (mean == 0) return 0;
  return mean < 10 ? poisson_inversion(*this, mean) : poisson_ptrs(*this, mean);
}

int64_t Random::binomial(int64_t n, double p) {
  UNIPET_CHECK(n >= 0, "Random::binomial: n must be >= 0, got " << n);
  UNIPET_CHECK(p >= 0 && p <= 1, "Random::binomial: p must be in [0, 1], got " << p);
  if (n == 0 || p == 0) return 0;
  if (p == 1) return n;
  // Draw the rarer outcome: both methods need p <= 0.5.
  const bool flip = p > 0.5;
  const double pp = flip ? 1 - p : p;
  if (n <= 16) {
    // Few counts (most bins of a time-of-flight sinogram): one Bernoulli per count, as list-mode
    // subsampling does, comparing 64 random bits with p in 64-bit fixed point (p to 2^-64).
    const auto threshold = static_cast<uint64_t>(std::ldexp(pp, 64));
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) k += next() < threshold ? 1 : 0;
    return flip ? n - k : k;
  }
  const int64_t k =
      static_cast<double>(n) * pp < 10 ? binomial_inversion(*this, n, pp) : binomial_btrs(*this, n, pp);
  return flip ? n - k : k;
}

size_t Random::pick(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) {
    UNIPET_CHECK(std::isfinite(w) && w >= 0, "Random::pick: weights must be finite and >= 0, got " << w);
    total += w;
  }
  UNIPET_CHECK(total > 0, "Random::pick: the weights must not all be zero");
  const double u = uniform() * total;
  double cumulative = 0;
  size_t last = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;
    cumulative += weights[i];
    last = i;
    if (u < cumulative) return i;
  }
  return last;  // u within rounding of the total
}

torch::Tensor normal_tensor(at::IntArrayRef sizes, uint64_t seed, int64_t first_index) {
  UNIPET_CHECK(first_index >= 0, "normal_tensor: first_index must be >= 0, got " << first_index);
  const torch::Tensor shape = torch::empty(sizes, torch::kFloat64);
  return elementwise(shape, first_index,
                     [seed](double, uint64_t stream) { return Random(stream_seed(seed, stream)).normal(); });
}

torch::Tensor poisson_tensor(const torch::Tensor& mean, uint64_t seed, int64_t first_index) {
  UNIPET_CHECK(mean.defined() && mean.is_floating_point(), "poisson_tensor: expected a floating-point mean");
  UNIPET_CHECK(first_index >= 0, "poisson_tensor: first_index must be >= 0, got " << first_index);
  UNIPET_CHECK(mean.numel() == 0 || (torch::isfinite(mean).all().item<bool>() &&
                                     (mean >= 0).all().item<bool>() && (mean < 1e15).all().item<bool>()),
               "poisson_tensor: the mean must be finite, >= 0 and < 1e15");
  return elementwise(mean, first_index,
                     [seed](double m, uint64_t stream) {
                       // Zero-mean bins (outside the body) are common: skip their generator.
                       return m == 0 ? 0.0
                                     : static_cast<double>(Random(stream_seed(seed, stream)).poisson(m));
                     })
      .to(mean.device());
}

torch::Tensor binomial_tensor(const torch::Tensor& counts, double keep, uint64_t seed, int64_t first_index) {
  UNIPET_CHECK(keep >= 0 && keep <= 1, "binomial_tensor: keep probability must be in [0, 1], got " << keep);
  UNIPET_CHECK(counts.defined() && counts.is_floating_point(),
               "binomial_tensor: expected floating-point counts");
  UNIPET_CHECK(first_index >= 0, "binomial_tensor: first_index must be >= 0, got " << first_index);
  UNIPET_CHECK(
      counts.numel() == 0 || ((counts >= 0).all().item<bool>() && torch::equal(counts, counts.round()) &&
                              (counts <= 9.007199254740992e15).all().item<bool>()),
      "binomial_tensor: counts must be whole numbers >= 0");
  return elementwise(counts, first_index,
                     [seed, keep](double n, uint64_t stream) {
                       if (n == 0) return 0.0;
                       return static_cast<double>(
                           Random(stream_seed(seed, stream)).binomial(static_cast<int64_t>(n), keep));
                     })
      .to(counts.device());
}

}  // namespace unipet::sim
