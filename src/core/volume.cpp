#include "unipet/core/volume.h"

#include <cmath>

#include "unipet/core/error.h"

namespace unipet {

std::string to_string(Units units) {
  switch (units) {
    case Units::BqPerMl: return "Bq/ml";
    case Units::SUV: return "SUV";
    case Units::Counts: return "counts";
    case Units::Unitless: return "unitless";
    case Units::Unknown: break;
  }
  return "unknown";
}

Units units_from_string(const std::string& text) {
  if (text == "Bq/ml" || text == "BQML" || text == "bqml") return Units::BqPerMl;
  if (text == "SUV" || text == "suv" || text == "GML") return Units::SUV;
  if (text == "counts" || text == "CNTS") return Units::Counts;
  if (text == "unitless") return Units::Unitless;
  if (text == "unknown" || text.empty()) return Units::Unknown;
  UNIPET_FAIL("unknown units '" << text << "' (expected Bq/ml, SUV, counts, unitless or unknown)");
}

std::array<int64_t, 3> Volume::size_xyz() const {
  return {data.size(2), data.size(1), data.size(0)};
}

double Volume::voxel_volume_ml() const {
  return spacing[0] * spacing[1] * spacing[2] / 1000.0;
}

void Volume::validate(const std::string& what) const {
  UNIPET_CHECK(data.defined(), what << ": volume has no data");
  UNIPET_CHECK(data.dim() == 3, what << ": expected a 3D volume [D, H, W], got " << data.dim()
                                     << " dimensions " << data.sizes());
  UNIPET_CHECK(data.scalar_type() == torch::kFloat32,
               what << ": expected float32 voxels, got " << data.scalar_type());
  UNIPET_CHECK(data.numel() > 0, what << ": volume is empty " << data.sizes());
  for (int i = 0; i < 3; ++i) {
    UNIPET_CHECK(std::isfinite(spacing[i]) && spacing[i] > 1e-3 && spacing[i] < 1e3,
                 what << ": absurd voxel spacing " << spacing[i] << " mm along axis " << i);
    UNIPET_CHECK(std::isfinite(origin[i]), what << ": non-finite origin");
  }
  for (int c = 0; c < 3; ++c) {
    for (int k = 0; k < 3; ++k) {
      double dot = 0;
      for (int r = 0; r < 3; ++r) dot += direction[r * 3 + c] * direction[r * 3 + k];
      UNIPET_CHECK(std::abs(dot - (c == k ? 1.0 : 0.0)) < 1e-4,
                   what << ": direction cosines are not orthonormal");
    }
  }
  UNIPET_CHECK(torch::isfinite(data).all().item<bool>(),
               what << ": " << (~torch::isfinite(data)).sum().item<int64_t>()
                    << " voxels are NaN or Inf");
}

bool same_geometry(const Volume& a, const Volume& b, double tolerance_mm) {
  if (a.data.sizes() != b.data.sizes()) return false;
  for (int i = 0; i < 3; ++i) {
    if (std::abs(a.spacing[i] - b.spacing[i]) > tolerance_mm) return false;
    if (std::abs(a.origin[i] - b.origin[i]) > tolerance_mm) return false;
  }
  for (int i = 0; i < 9; ++i) {
    if (std::abs(a.direction[i] - b.direction[i]) > 1e-4) return false;
  }
  return true;
}

Volume with_geometry_of(const Volume& like, torch::Tensor data) {
  Volume v = like;
  v.data = std::move(data);
  return v;
}

}  // namespace unipet
