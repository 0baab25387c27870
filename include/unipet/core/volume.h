#pragma once
/// A 3D image with its geometry: the one type every reader returns and every writer takes.
///
///   unipet::Volume v = unipet::io::read_image("pet.nii.gz");   // data: float32 [D, H, W]
///   double voxel_ml = v.voxel_volume_ml();
///
/// Axis convention: `data` is `[D, H, W]` (slowest to fastest). Geometry is stored in ITK / world
/// order (x, y, z) where x runs along W, y along H and z along D, so `spacing[0]` is the W spacing.
/// Physical point of voxel index (i_x, i_y, i_z) = origin + direction * (spacing ∘ index), in mm
/// (LPS, as ITK and DICOM use).
#include <array>
#include <functional>
#include <string>

#include <torch/torch.h>

namespace unipet {

/// What the voxel values mean.
enum class Units { Unknown, BqPerMl, SUV, Counts, Unitless };

/// "Bq/ml", "SUV", "counts", "unitless", "unknown".
std::string to_string(Units units);
/// Inverse of to_string (also accepts "BQML" and "bqml"); throws unipet::Error on anything else.
Units units_from_string(const std::string& text);

struct Volume {
  torch::Tensor data;                               ///< float32 [D, H, W], on any device
  std::array<double, 3> spacing{1.0, 1.0, 1.0};     ///< mm, (x, y, z)
  std::array<double, 3> origin{0.0, 0.0, 0.0};      ///< mm, centre of voxel (0, 0, 0)
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  ///< row-major; column c = axis c
  Units units = Units::Unknown;

  /// Sizes in (x, y, z) order: (W, H, D).
  std::array<int64_t, 3> size_xyz() const;
  /// Volume of one voxel in millilitres.
  double voxel_volume_ml() const;
  /// Throws unipet::Error naming `what` unless data is a finite float32 3D tensor and the
  /// geometry is sane (positive, finite spacing; orthonormal direction).
  void validate(const std::string& what) const;
};

/// True when sizes, spacing, origin and direction agree within `tolerance_mm` (and 1e-4 for
/// direction cosines).
bool same_geometry(const Volume& a, const Volume& b, double tolerance_mm = 1e-3);

/// A volume with `data` and the geometry of `like`.
Volume with_geometry_of(const Volume& like, torch::Tensor data);

/// Reads the volume a dataset names by `path` (already resolved against the dataset's folder).
/// The image-file reader is io::read_image (unipet::core); code that must build without ITK
/// (unipet::compute: training) takes one of these instead, so a caller may also serve volumes
/// from memory. Throws unipet::Error naming the path when it cannot.
using VolumeReader = std::function<Volume(const std::string& path)>;

}  // namespace unipet
