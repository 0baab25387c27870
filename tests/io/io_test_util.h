#pragma once
// Small volumes with deliberately awkward geometry for the io and CLI tests.
#include <array>
#include <cmath>
#include <vector>

#include "test_util.h"
#include "unipet/core/volume.h"

namespace unipet::test {

/// Rotation by `degrees` about the axis (1, 1, 1)/sqrt(3): every direction cosine is non-trivial.
inline std::array<double, 9> oblique_direction(double degrees) {
  const double t = degrees * M_PI / 180.0, c = std::cos(t), s = std::sin(t), k = 1.0 / std::sqrt(3.0);
  const double C = 1 - c;
  return {c + k * k * C,     k * k * C - k * s, k * k * C + k * s, k * k * C + k * s, c + k * k * C,
          k * k * C - k * s, k * k * C - k * s, k * k * C + k * s, c + k * k * C};
}

/// A [D, H, W] = [5, 6, 7] volume with distinct values (some negative), anisotropic spacing, an
/// off-centre origin and an oblique direction.
inline Volume awkward_volume(Units units = Units::BqPerMl) {
  Volume v;
  v.data = torch::arange(5 * 6 * 7, torch::kFloat32).reshape({5, 6, 7}) * 37.5f - 100.0f;
  v.spacing = {1.65, 2.1, 3.27};
  v.origin = {-120.25, 33.5, 402.75};
  v.direction = oblique_direction(20.0);
  v.units = units;
  return v;
}

}  // namespace unipet::test
