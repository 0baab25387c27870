#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include <dcmtk/dcmdata/dcuid.h>

#include "dicom_common.h"
#include "file_names.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/io/dicom.h"

namespace unipet::io {

namespace fs = std::filesystem;

namespace {

// Patient, study, frame-of-reference, equipment and PET isotope/series tags copied from the source
// series. SeriesDate/Time and the acquisition times are kept on purpose: with DecayCorrection START
// they are the reference time of the activity, so a derived series must keep them for SUV.
const DcmTagKey kCopiedTags[] = {DCM_SpecificCharacterSet,
                                 DCM_PatientName,
                                 DCM_PatientID,
                                 DCM_PatientBirthDate,
                                 DCM_PatientSex,
                                 DCM_PatientAge,
                                 DCM_PatientWeight,
                                 DCM_PatientSize,
                                 DCM_StudyInstanceUID,
                                 DCM_StudyDate,
                                 DCM_StudyTime,
                                 DCM_StudyID,
                                 DCM_AccessionNumber,
                                 DCM_ReferringPhysicianName,
                                 DCM_StudyDescription,
                                 DCM_FrameOfReferenceUID,
                                 DCM_PositionReferenceIndicator,
                                 DCM_Manufacturer,
                                 DCM_ManufacturerModelName,
                                 DCM_InstitutionName,
                                 DCM_StationName,
                                 DCM_SeriesDate,
                                 DCM_SeriesTime,
                                 DCM_AcquisitionDate,
                                 DCM_AcquisitionTime,
                                 DCM_RadiopharmaceuticalInformationSequence,
                                 DCM_CorrectedImage,
                                 DCM_DecayCorrection,
                                 DCM_CountsSource,
                                 DCM_SeriesType,
                                 DCM_RandomsCorrectionMethod,
                                 DCM_ReconstructionMethod,
                                 DCM_AttenuationCorrectionMethod,
                                 DCM_ScatterCorrectionMethod,
                                 DCM_ActualFrameDuration,
                                 DCM_FrameReferenceTime,
                                 DCM_DecayFactor,
                                 DCM_DoseCalibrationFactor,
                                 DCM_PatientPosition,
                                 DCM_BodyPartExamined};

// DICOM date and time (UTC) of one instant, so that date and time never straddle midnight.
struct DicomNow {
  std::string date, time;
};

DicomNow dicom_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream date, time;
  date << std::put_time(&tm, "%Y%m%d");
  time << std::put_time(&tm, "%H%M%S");
  return {date.str(), time.str()};
}

std::string new_uid(const char* root) {
  char buffer[100];
  dcmGenerateUniqueIdentifier(buffer, root);
  return buffer;
}

// A DS value holds at most 16 characters: print with as many digits as fit, so the slope the
// stored integers were computed with is exactly the one every reader will parse.
std::string decimal_string(double v) {
  for (int digits = 12; digits > 3; --digits) {
    std::ostringstream out;
    out << std::setprecision(digits) << v;
    if (out.str().size() <= 16) return out.str();
  }
  UNIPET_FAIL("cannot write " << v << " as a DICOM decimal string");
}

std::string join(const double* values, int count) {
  std::string s;
  for (int i = 0; i < count; ++i) s += (i ? "\\" : "") + decimal_string(values[i]);
  return s;
}

const char* dicom_units(Units units) {
  switch (units) {
    case Units::BqPerMl:
      return "BQML";
    case Units::SUV:
      return "GML";
    case Units::Counts:
      return "CNTS";
    default:
      return "NONE";
  }
}

void put(DcmDataset& ds, const DcmTagKey& tag, const std::string& value, const std::string& dir) {
  const OFCondition status = ds.putAndInsertString(tag, value.c_str());
  UNIPET_CHECK(status.good(),
               dir << ": cannot set DICOM tag " << DcmTag(tag).getTagName() << " (" << status.text() << ")");
}

// The series-level dataset every slice starts from.
DcmDataset series_template(const Volume& volume, const std::string& dir, const DicomWriteOptions& o) {
  DcmDataset base;
  const DicomNow now = dicom_now();
  std::string series_description = o.series_description;
  if (series_description.find("unipet") == std::string::npos)
    series_description = "unipet " + series_description;
  if (!o.template_file.empty()) {
    DcmFileFormat source;
    const OFCondition status = source.loadFileUntilTag(o.template_file.c_str(), EXS_Unknown, EGL_noChange,
                                                       DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
    UNIPET_CHECK(status.good(),
                 o.template_file << ": cannot read the source DICOM file (" << status.text() << ")");
    DcmDataset& src = *source.getDataset();
    for (const auto& tag : kCopiedTags) {
      DcmElement* element = nullptr;
      if (src.findAndGetElement(tag, element, OFFalse, OFTrue /* copy */).good() && element)
        base.insert(element, OFTrue);
    }
    const std::string source_description = detail::dicom_string(src, DCM_SeriesDescription);
    if (!source_description.empty() && o.series_description == DicomWriteOptions{}.series_description)
      series_description = source_description.find("unipet") != std::string::npos
                               ? source_description
                               : "unipet (" + source_description + ")";
    put(base, DCM_DerivationDescription,
        "unipet from series " + detail::dicom_string(src, DCM_SeriesInstanceUID), dir);
  } else {
    put(base, DCM_PatientName, o.patient_name, dir);
    put(base, DCM_PatientID, o.patient_id, dir);
    put(base, DCM_StudyInstanceUID, new_uid(SITE_STUDY_UID_ROOT), dir);
    put(base, DCM_FrameOfReferenceUID, new_uid(SITE_INSTANCE_UID_ROOT), dir);
    put(base, DCM_StudyDate, now.date, dir);
    put(base, DCM_StudyTime, now.time, dir);
    put(base, DCM_SeriesDate, now.date, dir);
    put(base, DCM_SeriesTime, now.time, dir);
    put(base, DCM_CountsSource, "EMISSION", dir);
    put(base, DCM_SeriesType, "STATIC\\IMAGE", dir);
    // Whether the source was attenuation- or decay-corrected is unknown here; say so, so that
    // nobody computes SUV from guessed tags.
    put(base, DCM_DecayCorrection, "NONE", dir);
    put(base, DCM_FrameReferenceTime, "0", dir);
    put(base, DCM_DerivationDescription, "unipet", dir);
  }
  // Type 2 attributes of the PET IOD: present, possibly empty.
  for (const auto& tag :
       {DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyID, DCM_AccessionNumber, DCM_ReferringPhysicianName,
        DCM_PositionReferenceIndicator, DCM_Manufacturer, DCM_AcquisitionDate, DCM_AcquisitionTime,
        DCM_CorrectedImage, DCM_ActualFrameDuration})
    if (!base.tagExists(tag)) put(base, tag, "", dir);
  if (!base.tagExists(DCM_RadiopharmaceuticalInformationSequence))
    base.insertEmptyElement(DCM_RadiopharmaceuticalInformationSequence);
  put(base, DCM_SOPClassUID, UID_PositronEmissionTomographyImageStorage, dir);
  put(base, DCM_Modality, "PT", dir);
  put(base, DCM_ImageType, "DERIVED\\SECONDARY", dir);
  put(base, DCM_SeriesInstanceUID, new_uid(SITE_SERIES_UID_ROOT), dir);
  put(base, DCM_SeriesNumber, std::to_string(o.series_number), dir);
  put(base, DCM_SeriesDescription, series_description.substr(0, 64), dir);
  put(base, DCM_ContentDate, now.date, dir);
  put(base, DCM_ContentTime, now.time, dir);
  put(base, DCM_Units, dicom_units(volume.units), dir);
  put(base, DCM_NumberOfSlices, std::to_string(volume.data.size(0)), dir);
  put(base, DCM_SamplesPerPixel, "1", dir);
  put(base, DCM_PhotometricInterpretation, "MONOCHROME2", dir);
  put(base, DCM_Rows, std::to_string(volume.data.size(1)), dir);
  put(base, DCM_Columns, std::to_string(volume.data.size(2)), dir);
  put(base, DCM_BitsAllocated, "16", dir);
  put(base, DCM_BitsStored, "16", dir);
  put(base, DCM_HighBit, "15", dir);
  put(base, DCM_PixelRepresentation, "1", dir);
  put(base, DCM_RescaleIntercept, "0", dir);                               // the PET Image module requires 0
  const double pixel_spacing[2] = {volume.spacing[1], volume.spacing[0]};  // row, column spacing
  put(base, DCM_PixelSpacing, join(pixel_spacing, 2), dir);
  put(base, DCM_SliceThickness, decimal_string(volume.spacing[2]), dir);
  const double orientation[6] = {volume.direction[0], volume.direction[3], volume.direction[6],
                                 volume.direction[1], volume.direction[4], volume.direction[7]};
  put(base, DCM_ImageOrientationPatient, join(orientation, 6), dir);
  return base;
}

// DICOM readers stack slices along row x column cosines. A left-handed volume (e.g. a NIfTI with
// a flipped axis) is the same image with its slice order reversed: store it that way.
Volume as_right_handed(const Volume& v) {
  const auto& d = v.direction;
  const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                     d[2] * (d[3] * d[7] - d[4] * d[6]);
  if (det > 0) return v;
  Volume flipped = with_geometry_of(v, v.data.flip({0}));
  const double last = v.spacing[2] * static_cast<double>(v.data.size(0) - 1);
  for (int r = 0; r < 3; ++r) {
    flipped.origin[r] += d[r * 3 + 2] * last;
    flipped.direction[r * 3 + 2] = -d[r * 3 + 2];
  }
  return flipped;
}

// dcmtk does not report every failed write (e.g. a file-size limit hit while flushing): read each
// slice back, so a full disk is an error rather than a series with missing pixels.
void verify_slice_written(const fs::path& file, int64_t plane, const std::string& dir) {
  DcmFileFormat back;
  const OFCondition loaded = back.loadFile(file.c_str());
  const Uint16* pixels = nullptr;
  unsigned long count = 0;
  const bool complete = loaded.good() && back.getDataset()->findAndGetUint16Array(DCM_PixelData, pixels, &count).good() &&
                        count == static_cast<unsigned long>(plane);
  UNIPET_CHECK(complete, dir << ": write failed (" << file.filename().string()
                             << " is incomplete or unreadable after writing: disk full?)");
}

}  // namespace

void write_dicom_series(const Volume& volume, const std::string& dir, const DicomWriteOptions& options) {
  detail::init_dcmtk();
  volume.validate(dir);
  const fs::path target = fs::path(dir).lexically_normal();
  const fs::path clean = target.filename().empty() ? target.parent_path() : target;
  std::error_code ec;
  check_output_path(dir, {OutputKind::Folder});
  const Volume right_handed = as_right_handed(volume);
  const torch::Tensor data = right_handed.data.to(torch::kCPU, torch::kFloat32).contiguous();
  const DcmDataset base = series_template(right_handed, dir, options);

  StagingDir staging(clean, OutputKind::Folder);
  const fs::path out = staging.dir() / clean.filename();
  fs::create_directory(out, ec);
  UNIPET_CHECK(!ec, dir << ": cannot create folder (" << ec.message() << ")");
  const int64_t depth = data.size(0), plane = data.size(1) * data.size(2);
  std::vector<Sint16> stored(static_cast<size_t>(plane));
  for (int64_t k = 0; k < depth; ++k) {
    const float* values = data.data_ptr<float>() + k * plane;
    float max_abs = 0;
    for (int64_t i = 0; i < plane; ++i) max_abs = std::max(max_abs, std::abs(values[i]));
    const std::string slope_text = decimal_string(max_abs > 0 ? max_abs / 32767.0 : 1.0);
    const double slope = std::stod(slope_text);
    for (int64_t i = 0; i < plane; ++i)
      stored[i] = static_cast<Sint16>(std::clamp(std::lround(values[i] / slope), -32768L, 32767L));

    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    ds.copyFrom(base);
    double position[3];
    const Volume& v = right_handed;
    for (int r = 0; r < 3; ++r)
      position[r] = v.origin[r] + v.direction[r * 3 + 2] * v.spacing[2] * static_cast<double>(k);
    put(ds, DCM_SOPInstanceUID, new_uid(SITE_INSTANCE_UID_ROOT), dir);
    put(ds, DCM_InstanceNumber, std::to_string(k + 1), dir);
    put(ds, DCM_ImageIndex, std::to_string(k + 1), dir);
    put(ds, DCM_ImagePositionPatient, join(position, 3), dir);
    put(ds, DCM_SliceLocation, decimal_string(position[2]), dir);
    put(ds, DCM_RescaleSlope, slope_text, dir);
    const OFCondition pixels = ds.putAndInsertUint16Array(
        DCM_PixelData, reinterpret_cast<const Uint16*>(stored.data()), static_cast<unsigned long>(plane));
    UNIPET_CHECK(pixels.good(), dir << ": cannot store pixel data (" << pixels.text() << ")");
    std::ostringstream name;
    name << "IM" << std::setw(5) << std::setfill('0') << k + 1 << ".dcm";
    const OFCondition saved = file.saveFile((out / name.str()).c_str(), EXS_LittleEndianExplicit);
    UNIPET_CHECK(saved.good(), dir << ": write failed: cannot write " << name.str() << " (" << saved.text()
                                    << "; disk full?)");
    verify_slice_written(out / name.str(), plane, dir);
  }
  staging.publish({clean.filename().string()});
}

}  // namespace unipet::io
