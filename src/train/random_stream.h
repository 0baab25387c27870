#pragma once
// A counter-based random stream: every draw of training is a function of (seed, step, index)
// alone, so a batch can be recomputed anywhere, in any order and on any thread, and a run resumes
// from its step number without saving generator states.
#include <cstdint>

#include "unipet/core/splitmix.h"

namespace unipet::train::detail {

class RandomStream {
 public:
  RandomStream(uint64_t seed, uint64_t step, uint64_t index) : state_(seed) {
    state_ = next() ^ step;
    state_ = next() ^ index;
    next();
  }
  /// SplitMix64 (core/splitmix.h): passes BigCrush, and one 64-bit state is enough here.
  uint64_t next() { return splitmix64(state_); }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace unipet::train::detail
