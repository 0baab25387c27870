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
#include <optional>
#include <string>
#include <vector>

#include "unipet/core/volume.h"
#include "unipet/io/provenance.h"
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

/// What a derived series says about how it was made (all empty for an original series).
struct DicomDerivation {
  std::string image_type;          ///< (0008,0008), e.g. DERIVED\PRIMARY\DENOISED
  std::string description;         ///< (0008,2111) Derivation Description
  std::string source_series_uid;   ///< first item of (0008,1250) Related Series Sequence
  std::string software;            ///< last Contributing Equipment item: Manufacturer + Software Versions
  std::string date_time;           ///< its Contribution DateTime
  std::string contribution;        ///< its Contribution Description
  bool derived() const { return !description.empty() || !software.empty(); }
};

/// A series read into a Volume, with what is needed to compute SUV and to write a derived series.
struct DicomSeries {
  Volume volume;  ///< float32 [D, H, W]; units from (0054,1001)
  DicomSeriesInfo info;
  SuvTags suv_tags;                ///< from the first slice (series-level tags)
  std::vector<std::string> files;  ///< slice files, in the order of volume's D axis
  DicomDerivation derivation;      ///< from the first slice
};

/// Reads the PET series with `series_uid` below `dir`; with an empty uid, the only PET (PT)
/// series there. Throws unipet::Error naming `dir` when there is no PET series, when several
/// exist (the message lists them), or when the slices do not form one 3D volume (a single slice,
/// several frames at one position, uneven or tilted slices, mixed sizes, corrupt files).
DicomSeries read_dicom_series(const std::string& dir, const std::string& series_uid = "");

/// How write_dicom_series labels the new series.
struct DicomWriteOptions {
  /// A slice of the source series: the attributes of its Patient, Study, Frame of Reference,
  /// General Equipment and PET modules (PET Series, PET Isotope, NM/PET Patient Orientation) are
  /// copied from it as present. Empty: a standalone series with new study UIDs.
  std::string template_file;
  /// Every slice of the source series, in the order of the written volume's D axis (see
  /// DicomSeries::files). When their number equals the volume's depth, slice k gets a Source
  /// Image Sequence naming source slice k and that slice's acquisition and frame timing, and the
  /// series lists them all in its Referenced Series Sequence.
  std::vector<std::string> source_files;
  /// Appended to the source's SeriesDescription (alone without a source); "unipet" is put in
  /// front when it lacks it.
  std::string series_description = "unipet";
  std::string patient_name = "Anonymous";     ///< only used without a template
  std::string patient_id = "unipet";          ///< only used without a template
  /// Absent: the source's SeriesNumber + series_number_offset (900 + offset without a source),
  /// a number that does not clash with the scanner's series.
  std::optional<int> series_number;
  int series_number_offset = 1000;
  /// Value 3 of ImageType (0008,0008): DERIVED\PRIMARY\<this>.
  std::string image_type3 = "CONVERTED";
  Provenance provenance;  ///< recorded in Derivation Description and Contributing Equipment
};

/// Writes `volume` as a derived PET series, one file per slice (IM00001.dcm, ...), into the new
/// folder `dir` (which must not exist or be empty), atomically: files go to a temporary folder
/// that is renamed to `dir` when complete. Stored values are int16 with RescaleIntercept 0 and a
/// per-slice RescaleSlope of max|slice| / 32767 (relative precision 1.5e-5 of each slice's max).
/// Units: Bq/ml -> BQML, SUV -> GML, counts -> CNTS. SeriesDate/Time and AcquisitionDate/Time
/// are kept from the source (they are the SUV reference time), so SUV from the output equals SUV
/// from the input. The files pass dicom3tools' dciodvfy (PET Image IOD) and dcentvfy. Throws
/// unipet::Error naming `dir`.
void write_dicom_series(const Volume& volume, const std::string& dir, const DicomWriteOptions& options = {});

/// True when `path` is a folder (which read_image cannot read but read_dicom_series can).
bool is_directory(const std::string& path);

}  // namespace unipet::io
