#pragma once
// The whole-body benchmark volume shared by bench_denoise.cpp and `unipet_bench --write-whole-body`.
#include "unipet/core/volume.h"

namespace unipet::bench {

/// A 192 x 192 x 400 whole-body FDG phantom (3.65 mm transaxial, 2.5 mm axial voxels, a 700 mm
/// field of view as on clinical scanners) in SUV with low-dose-like Poisson noise, seeded. Made
/// once per process (about 10 s).
const Volume& whole_body_volume();

}  // namespace unipet::bench
