#pragma once
/// Reading and writing 3D images with their geometry (NIfTI, MetaImage, NRRD).
///
///   unipet::Volume pet = unipet::io::read_image("full.nii.gz");
///   unipet::io::write_image(pet, "copy.mha");
///
/// Formats are chosen by extension: .nii, .nii.gz, .mha, .mhd, .nrrd. Geometry (spacing, origin,
/// direction) is kept exactly; data is float32 [D, H, W] on the CPU.
#include <cstdint>
#include <string>

#include "unipet/core/volume.h"

namespace unipet::io {

/// read_image refuses images declaring more voxels than this (2^31: 8 GiB as float32), before
/// allocating anything, so a forged header cannot exhaust memory.
inline constexpr int64_t kMaxImageVoxels = int64_t{1} << 31;

/// How read_image treats inputs that are refused by default. The defaults suit any file from
/// anywhere; each flag relaxes one check, for a caller that knows why.
struct ReadImageOptions {
  /// Follow a MetaImage `ElementDataFile` or NRRD `data file` that lies outside the header's
  /// folder (an absolute path, `..`, or a symlink leading out). Off: such a header is refused,
  /// so a header from elsewhere cannot make unipet read other files. CLI: --allow-external-data.
  bool allow_external_data = false;
  /// Return NaN and Inf voxels as stored instead of refusing the image (`unipet info` counts
  /// them). NIfTI's reader would turn them into 0; read_image puts them back.
  bool allow_non_finite = false;
};

/// True when `path` has an extension read_image and write_image understand (.nii, .nii.gz, .mha,
/// .mhd, .nrrd, .nhdr; case ignored).
bool is_image_path(const std::string& path);

/// The image extension ending `path` as written there (".nii.gz", ".MHA", ...), "" when none.
std::string image_extension(const std::string& path);

/// Reads a 3D scalar image. Every header is checked on its raw bytes before the voxels are
/// read: the declared size must fit the data present (and kMaxImageVoxels), compressed data must
/// be complete with an intact checksum, and NIfTI geometry fields (pixdim, quatern_*, qoffset_*,
/// srow_*, vox_offset, scl_*) must be finite and usable. Throws unipet::Error, one line naming
/// `path` and the problem: missing, empty or not a file, unknown extension, corrupt or truncated,
/// not 3D, too large, data file outside the header's folder, NaN/Inf voxels (with their count),
/// absurd spacing.
Volume read_image(const std::string& path, const ReadImageOptions& options = {});

/// Writes `volume` (moved to the CPU as float32) to `path`, atomically: a temporary file beside
/// it is renamed over `path` only when complete. Units go into the file's description where the
/// format has one.
void write_image(const Volume& volume, const std::string& path);

}  // namespace unipet::io
