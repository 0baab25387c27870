#pragma once
/// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014), the one home of the seed mixing that the
/// simulator's generators, its per-subject seeds and training's counter-based streams share.
///
///   uint64_t state = seed;
///   uint64_t a = unipet::splitmix64(state), b = unipet::splitmix64(state);   // a stream
///   uint64_t s = unipet::splitmix64_mix(seed ^ 3);                          // one mixed value
///
/// Header-only: a few integer operations, inlined where random numbers are drawn per voxel.
#include <cstdint>

namespace unipet {

/// splitmix64's increment, 2^64 / φ.
constexpr uint64_t kSplitMixGolden = 0x9E3779B97F4A7C15ull;

/// splitmix64's output function: a bijection that decorrelates nearby inputs.
constexpr uint64_t splitmix64_finalise(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// One step: advances `state` by the increment and returns its next 64-bit output.
inline uint64_t splitmix64(uint64_t& state) { return splitmix64_finalise(state += kSplitMixGolden); }

/// The first output of a stream started at `x`: seeds that differ in a few bits come out unrelated.
constexpr uint64_t splitmix64_mix(uint64_t x) { return splitmix64_finalise(x + kSplitMixGolden); }

}  // namespace unipet
