#pragma once
/// Reading and writing 3D images with their geometry (NIfTI, MetaImage, NRRD).
///
///   unipet::Volume pet = unipet::io::read_image("full.nii.gz");
///   unipet::io::write_image(pet, "copy.mha");
///
/// Formats are chosen by extension: .nii, .nii.gz, .mha, .mhd, .nrrd. Geometry (spacing, origin,
/// direction) is kept exactly; data is float32 [D, H, W] on the CPU.
#include <string>

#include "unipet/core/volume.h"

namespace unipet::io {

/// True when `path` has an extension read_image and write_image understand (.nii, .nii.gz, .mha,
/// .mhd, .nrrd, .nhdr; case ignored).
bool is_image_path(const std::string& path);

/// Reads a 3D scalar image. Throws unipet::Error naming `path` and the problem (missing,
/// unreadable, not 3D, NaN/Inf voxels, absurd spacing, unknown extension).
Volume read_image(const std::string& path);

/// Writes `volume` (moved to the CPU as float32) to `path`, atomically: a temporary file beside
/// it is renamed over `path` only when complete. Units go into the file's description where the
/// format has one.
void write_image(const Volume& volume, const std::string& path);

}  // namespace unipet::io
