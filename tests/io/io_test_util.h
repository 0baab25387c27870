#pragma once
// Small volumes with deliberately awkward geometry for the io and CLI tests.
#include <array>
#include <cmath>
#include <vector>

#include "test_util.h"
#include "unipet/core/volume.h"
#include "unipet/io/suv.h"

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

// 75 kg, 370 MBq of F-18 (half-life 6586.2 s) injected at 10:00, series at 11:00.
// By hand: 370e6 * 2^(-3600 / 6586.2) = 253314180.24 Bq decayed dose; SUV factor = 75000 g / that
// = 2.9607502e-4 (g/ml per Bq/ml); test_suv.cpp's factors were computed the same way, outside unipet.
inline io::SuvTags suv_tags_start_case() {
  io::SuvTags t;
  t.source = "slice.dcm";
  t.units = "BQML";
  t.corrected_image = {"DECY", "ATTN", "SCAT"};
  t.decay_correction = "START";
  t.total_dose_bq = 370e6;
  t.half_life_s = 6586.2;
  t.injection_time = "100000.00";
  t.series_date = "20240315";
  t.series_time = "110000";
  t.patient_weight_kg = 75;
  return t;
}

}  // namespace unipet::test
