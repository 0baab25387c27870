#pragma once
// Internal to src/io: checks of a NIfTI-1 or NIfTI-2 header and its voxel bytes, made on the raw
// file before ITK sees it. ITK's reader (niftilib underneath) silently replaces what it dislikes
// (zero or NaN pixdim become 1, a vox_offset inside the header becomes 352, NaN/Inf voxels become
// 0) and aborts the process on a NaN in the sform or qform, so these must be caught first.
#include <cstdint>
#include <string>

namespace unipet::io::detail {

/// What the checks learnt from a NIfTI header.
struct NiftiLayout {
  int version = 1;           ///< 1 or 2
  bool gzipped = false;      ///< the file is a gzip stream (whatever its extension)
  bool swapped = false;      ///< stored in the other byte order than this machine's
  int16_t datatype = 0;      ///< NIfTI datatype code (16 = float32, 64 = float64, ...)
  int64_t voxel_offset = 0;  ///< bytes before the first voxel (in the uncompressed stream)
  int64_t voxel_count = 0;   ///< product of dim[1..dim[0]]
  int64_t bytes_per_voxel = 0;
  double slope = 0, intercept = 0;  ///< scl_slope, scl_inter (slope 0: no scaling)
};

/// Voxels that are not finite in the file (before scaling), counted in one pass.
struct NonFiniteCount {
  int64_t nan = 0;
  int64_t inf = 0;
  int64_t total() const { return nan + inf; }
};

/// Reads and checks the header of the NIfTI file `path` (either byte order, gzipped or not):
/// sizeof_hdr and magic (single-file "n+1"/"n+2" only: a header-only "ni1" would make the reader
/// open a separate .img file), dim, datatype and bitpix, pixdim[0..3], vox_offset, scl_slope and
/// scl_inter, quatern_*/qoffset_* and srow_* (finite, and a usable sform when sform_code > 0).
/// `max_voxels` bounds the declared size. Throws unipet::Error naming `path` and the field.
NiftiLayout check_nifti_header(const std::string& path, int64_t max_voxels);

/// Reads every voxel byte of `path` once: checks the file holds all of them (and, when gzipped,
/// that the whole gzip stream is intact: CRC-32 and length) and counts NaN and Inf voxels of
/// floating-point datatypes. Throws unipet::Error naming `path`.
NonFiniteCount check_nifti_voxels(const std::string& path, const NiftiLayout& layout);

/// Puts the NaN and Inf voxels of the file back into `voxels` (the reader's x-fastest float buffer
/// of layout.voxel_count values, where ITK's reader stored 0 in their place), scaled as the reader
/// scales. Used only where non-finite voxels are wanted (`unipet info` counts them).
void restore_nifti_non_finite(const std::string& path, const NiftiLayout& layout, float* voxels);

}  // namespace unipet::io::detail
