#pragma once
/// DICOM PET series in and out (dcmtk underneath; no DICOM types leak out of src/io).
///
///   for (const auto& s : unipet::io::list_dicom_series("patient01/")) std::cout << s.series_uid;
///   unipet::io::DicomSeries pet = unipet::io::read_dicom_series("patient01/");   // Bq/ml
///   unipet::io::DicomWriteOptions w;
///   w.template_file = pet.files.front();          // keep patient and study
///   unipet::io::write_dicom_series(denoised, "patient01_unipet/", w);
///
/// Reading: every file below the folder is scanned; files that are not DICOM are skipped. Slices
/// are sorted along the slice normal; each slice's RescaleSlope/Intercept is applied, so the volume
/// holds the activity in the series' Units (BQML -> Bq/ml, GML -> SUV, CNTS -> counts).
/// Geometry: origin = ImagePositionPatient of the first slice along the normal; direction columns =
/// row cosine, column cosine, normal; spacing = (PixelSpacing column, row, slice step).
#include <string>
#include <vector>

#include "unipet/core/volume.h"
#include "unipet/io/suv.h"

namespace unipet::io {

/// One series found in a folder.
struct DicomSeriesInfo {
  std::string series_uid;
  std::string modality;  ///< e.g. "PT", "CT"
  std::string series_description;
  std::string series_number;
  std::string patient_id;
  std::string study_date;
  int64_t files = 0;  ///< number of files (slices) in the series
};

/// Every series below `dir`, sorted by series number then UID. Throws unipet::Error when `dir` is
/// not a folder.
std::vector<DicomSeriesInfo> list_dicom_series(const std::string& dir);

/// One line per series ("PT  series 3  221 files  'WB 3D'  1.2.3..."), for messages and `info`.
std::string format_series_list(const std::vector<DicomSeriesInfo>& series);

/// A series read into a Volume, with what is needed to compute SUV and to write a derived series.
struct DicomSeries {
  Volume volume;  ///< float32 [D, H, W]; units from (0054,1001)
  DicomSeriesInfo info;
  SuvTags suv_tags;                ///< from the first slice (series-level tags)
  std::vector<std::string> files;  ///< slice files, in the order of volume's D axis
};

/// Reads the PET series with `series_uid` below `dir`; with an empty uid, the only PET (PT)
/// series there. Throws unipet::Error naming `dir` when there is no PET series, when several
/// exist (the message lists them), or when the slices do not form one 3D volume (a single slice,
/// several frames at one position, uneven or tilted slices, mixed sizes, corrupt files).
DicomSeries read_dicom_series(const std::string& dir, const std::string& series_uid = "");

/// How write_dicom_series labels the new series.
struct DicomWriteOptions {
  /// A slice of the source series: patient, study, frame of reference, equipment and the PET
  /// isotope and series tags are copied from it. Empty: a standalone series with new study UIDs.
  std::string template_file;
  std::string series_description = "unipet";  ///< prefixed with "unipet" when it lacks it
  std::string patient_name = "Anonymous";     ///< only used without a template
  std::string patient_id = "unipet";          ///< only used without a template
  int series_number = 900;                    ///< a number unlikely to clash with scanner series
};

/// Writes `volume` as a derived PET series, one file per slice (IM00001.dcm, ...), into the new
/// folder `dir` (which must not exist or be empty), atomically: files go to a temporary folder
/// that is renamed to `dir` when complete. Stored values are int16 with RescaleIntercept 0 and a
/// per-slice RescaleSlope of max|slice| / 32767 (relative precision 1.5e-5 of each slice's max).
/// Units: Bq/ml -> BQML, SUV -> GML, counts -> CNTS. Throws unipet::Error naming `dir`.
void write_dicom_series(const Volume& volume, const std::string& dir, const DicomWriteOptions& options = {});

/// True when `path` is a folder (which read_image cannot read but read_dicom_series can).
bool is_directory(const std::string& path);

}  // namespace unipet::io
