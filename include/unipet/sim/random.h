#pragma once
/// Portable random numbers: the same seed gives the same values with any compiler, standard
/// library, LibTorch version, thread count or device.
///
///   unipet::sim::Random r(unipet::sim::stream_seed(seed, subject));
///   double u = r.uniform();                 // [0, 1)
///   int64_t k = r.poisson(12.5);
///   torch::Tensor counts = unipet::sim::poisson_tensor(expected, seed);   // element-wise
///
/// The generator is xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom number
/// generators", ACM TOMS 2021) with its state filled by splitmix64 (Steele, Lea and Flood,
/// OOPSLA 2014). Every distribution is our own transform of its 64-bit output, because the
/// std:: distributions (and ATen's samplers) are implementation-defined and differ between
/// standard libraries and releases. The transforms use only +, *, /, sqrt (correctly rounded)
/// and log, exp, pow; the last three may differ in the last bit between C libraries, which can
/// change a value only when a draw lands within ~1e-16 (relative) of a decision boundary.
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "unipet/core/splitmix.h"

namespace unipet::sim {

/// A seed for the independent stream `b` of seed `a` (e.g. stream_seed(seed, subject)):
/// splitmix64's finaliser applied to both and to their combination, so nearby (a, b) pairs give
/// unrelated seeds.
uint64_t stream_seed(uint64_t a, uint64_t b);

/// xoshiro256** with exact, portable transforms. Not thread-safe; use one per stream.
class Random {
 public:
  /// State filled by four splitmix64 outputs from `seed` (never all zero).
  explicit Random(uint64_t seed);
  /// A generator with this exact state (for reference vectors); throws if all words are zero.
  static Random from_state(const std::array<uint64_t, 4>& state);

  /// 64 random bits.
  uint64_t next();
  /// Uniform on [0, 1) with 53 random bits.
  double uniform();
  /// Uniform on [lo, hi).
  double uniform(double lo, double hi);
  /// Uniform integer in [lo, hi], both included, without modulo bias (rejection); lo <= hi.
  int64_t integer(int64_t lo, int64_t hi);
  /// Standard normal (Marsaglia's polar method; the second value of each pair is kept).
  double normal();
  /// Poisson(mean), exact: inversion below mean 10, Hormann's PTRS transformed rejection above.
  int64_t poisson(double mean);
  /// Binomial(n, p), exact: one Bernoulli per trial for n <= 16, inversion when
  /// n * min(p, 1 - p) < 10, Hormann's BTRS otherwise.
  int64_t binomial(int64_t n, double p);
  /// An index drawn with probability proportional to weights[i] (each >= 0, sum > 0).
  size_t pick(const std::vector<double>& weights);
  /// Fisher-Yates shuffle driven by integer().
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) {
      std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(integer(0, i))]);
    }
  }

 private:
  Random() = default;
  std::array<uint64_t, 4> s_{};
  double spare_normal_ = 0;
  bool has_spare_ = false;
};

/// Standard normals of the given shape, float32 on the CPU. Element i (flat, row-major) is
/// Random(stream_seed(seed, first_index + i)).normal(), so values depend neither on the thread
/// count nor on how a large tensor is drawn in chunks.
torch::Tensor normal_tensor(at::IntArrayRef sizes, uint64_t seed, int64_t first_index = 0);

/// Poisson(mean) per element (mean finite and >= 0, any shape and floating type), as float32
/// whole numbers on mean's device; element i uses stream first_index + i as normal_tensor does.
/// Throws unipet::Error for a negative or non-finite mean.
torch::Tensor poisson_tensor(const torch::Tensor& mean, uint64_t seed, int64_t first_index = 0);

/// Binomial(counts, keep) per element (counts whole numbers >= 0, keep in [0, 1]), float32 on
/// counts' device; the same stream rule. Throws unipet::Error for invalid counts or keep.
torch::Tensor binomial_tensor(const torch::Tensor& counts, double keep, uint64_t seed,
                              int64_t first_index = 0);

}  // namespace unipet::sim
