#pragma once
/// One entry point for every PET input and output unipet supports: image files (NIfTI, MetaImage,
/// NRRD) and DICOM series folders, with units conversion and a human-readable description.
///
///   unipet::io::PetImage pet = unipet::io::read_pet("patient01/");      // or "pet.nii.gz"
///   unipet::io::ConvertOptions c; c.to = "suv";
///   unipet::io::convert_pet("patient01/", "pet_suv.nii.gz", c);         // keeps geometry
///   std::cout << unipet::io::describe_pet("patient01/");                // `unipet info`
///
/// A path with an image extension is a file; anything else (an existing folder, or a new path
/// without an image extension) is a DICOM series folder.
#include <optional>
#include <string>
#include <vector>

#include "unipet/core/volume.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"
#include "unipet/io/sidecar.h"
#include "unipet/io/suv.h"

namespace unipet::io {

/// A volume and where it came from.
struct PetImage {
  Volume volume;
  std::string path;
  std::optional<DicomSeries> dicom;  ///< set when read from a DICOM folder (volume moved out)
  std::optional<Sidecar> sidecar;    ///< an image file's JSON sidecar (dcm2niix, PET-BIDS), when present
};

/// Reads an image file (with `options`, see read_image) or the PET series of a DICOM folder
/// (`series_uid` picks one of several). An image file's JSON sidecar (see read_sidecar) is read
/// with it and gives the units of an image that records none; a sidecar whose units contradict
/// the image's is refused.
PetImage read_pet(const std::string& path, const std::string& series_uid = "",
                  const ReadImageOptions& options = {});

/// Checks before any work that `path` may receive write_pet's output: a known image extension
/// (a file, replacing only a file, with its sidecar) or a folder name for a DICOM series (new or
/// empty), and not one of `inputs` (nor their sidecars) nor a folder holding one (see
/// unipet::check_output_path). Throws unipet::Error naming `path`.
void check_pet_output(const std::string& path, const std::vector<std::string>& inputs = {});

/// Writes an image file with its JSON sidecar (see sidecar_json: units, the source's SUV fields,
/// `weight_kg` as BodyWeight, Sources, GeneratedBy from `dicom.provenance`; the sidecar first,
/// so an existing image means a complete output), or a DICOM series folder. When `source` came
/// from DICOM, the new series is derived from it (patient, study and PET modules kept, each
/// slice referencing its source slice); otherwise a standalone series.
void write_pet(const Volume& volume, const std::string& path, const PetImage* source = nullptr,
               const DicomWriteOptions& dicom = {}, std::optional<double> weight_kg = std::nullopt);

/// The SUV factor of `image`: `override_factor` when given (> 0), else computed from the DICOM
/// tags or the JSON sidecar, with `weight_kg` (--weight) replacing the weight they record.
/// Throws unipet::Error naming the file and the missing tag or field, or saying that an image
/// without tags or sidecar needs --suv-factor.
SuvResult suv_factor_for(const PetImage& image, std::optional<double> override_factor = std::nullopt,
                         std::optional<double> weight_kg = std::nullopt);

/// Returns `image.volume` in `units` ("suv", "bqml"; "" keeps them). Bq/ml <-> SUV use
/// suv_factor_for. Volumes of unknown units (a NIfTI has none) are taken as Bq/ml, since only
/// Bq/ml can be the source of either conversion; counts cannot be converted.
Volume convert_units(const PetImage& image, const std::string& units,
                     std::optional<double> override_factor = std::nullopt,
                     std::optional<double> weight_kg = std::nullopt);

struct ConvertOptions {
  std::string to;                    ///< "", "suv" or "bqml"
  std::optional<double> suv_factor;  ///< overrides the factor from DICOM tags or sidecar
  std::optional<double> weight_kg;   ///< replaces the body weight of the tags or sidecar, kg
  std::string series_uid;            ///< picks a series in a DICOM folder with several
  DicomWriteOptions dicom;           ///< labels of a DICOM output
  ReadImageOptions read;             ///< how the input image file is read (e.g. external data)
};

/// Reads `in`, converts units, writes `out` (atomically). Returns a one-line summary.
std::string convert_pet(const std::string& in, const std::string& out, const ConvertOptions& options);

/// What `unipet info` prints for an image file or a DICOM folder: geometry, units, value range
/// (of the finite voxels), negative-voxel count and minimum, "non-finite voxels: N NaN, M Inf",
/// the SUV factor and the tags it came from (or why it is not available), and the provenance of
/// an output of unipet (model, version, source, date) from its DICOM tags or sidecar. For a folder with
/// several PET series, the list of series. Unlike read_pet, an image with NaN or Inf voxels is
/// described, not refused (`options.allow_non_finite` is forced on).
std::string describe_pet(const std::string& path, const std::string& series_uid = "",
                         std::optional<double> override_factor = std::nullopt,
                         const ReadImageOptions& options = {}, std::optional<double> weight_kg = std::nullopt);

}  // namespace unipet::io
