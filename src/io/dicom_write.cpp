#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include <dcmtk/dcmdata/dcuid.h>

#include "dicom_common.h"
#include "dicom_derived.h"
#include "unipet/core/text.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/io/dicom.h"

namespace unipet::io {

namespace fs = std::filesystem;

namespace {

// DICOM date and time (UTC) of one instant, so that date and time never straddle midnight.
struct DicomNow {
  std::string date, time;
  std::string date_time() const { return date + time + "+0000"; }
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

// "WB 3D [unipet denoised]": the source's description with the suffix, cut to fit LO (64).
std::string derived_description(const std::string& source, const std::string& suffix_in) {
  const std::string suffix = suffix_in.find("unipet") == std::string::npos ? "unipet " + suffix_in : suffix_in;
  if (source.empty() || source.find(suffix) != std::string::npos) return (source.empty() ? suffix : source).substr(0, 64);
  const std::string tail = " [" + suffix + "]";
  if (tail.size() >= 64) return suffix.substr(0, 64);
  return source.substr(0, 64 - tail.size()) + tail;
}

int series_number(const DicomWriteOptions& o, const std::string& source_number) {
  if (o.series_number) return *o.series_number;
  long number = 900;
  if (!source_number.empty()) {
    try {
      number = std::stol(source_number);
    } catch (const std::exception&) {
    }
  }
  // IS holds at most 2^31 - 1.
  return number >= 0 && number + o.series_number_offset < 2147483647L ? static_cast<int>(number + o.series_number_offset)
                                                                      : 900;
}

// One slice of the source series: what its derived slice references and keeps.
struct SourceSlice {
  std::string sop_class, sop_instance;
  DcmDataset timing;
};

// The source slices in the written volume's order, or none when they do not match it slice for
// slice (then there is nothing to reference per slice).
std::vector<SourceSlice> read_source_slices(const DicomWriteOptions& o, int64_t depth, bool reversed) {
  std::vector<SourceSlice> slices;
  if (o.source_files.size() != static_cast<size_t>(depth)) return slices;
  slices.resize(o.source_files.size());
  for (size_t k = 0; k < slices.size(); ++k) {
    const std::string& path = o.source_files[k];
    DcmFileFormat file;
    const OFCondition status = file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                                     ERM_autoDetect, DCM_PixelData);
    UNIPET_CHECK(status.good(), path << ": cannot read the source DICOM file (" << status.text() << ")");
    DcmDataset& ds = *file.getDataset();
    slices[k].sop_class = detail::dicom_string(ds, DCM_SOPClassUID);
    slices[k].sop_instance = detail::dicom_string(ds, DCM_SOPInstanceUID);
    UNIPET_CHECK(!slices[k].sop_class.empty() && !slices[k].sop_instance.empty(),
                 path << ": no SOPClassUID (0008,0016) or SOPInstanceUID (0008,0018) to reference");
    detail::copy_slice_timing(ds, slices[k].timing);
  }
  if (reversed) std::reverse(slices.begin(), slices.end());
  return slices;
}

// The series-level dataset every slice starts from.
DcmDataset series_template(const Volume& volume, const std::string& dir, const DicomWriteOptions& o,
                           const DicomNow& now, const std::vector<SourceSlice>& sources) {
  DcmDataset base;
  std::string source_description, source_number;
  if (!o.template_file.empty()) {
    DcmFileFormat source;
    const OFCondition status = source.loadFileUntilTag(o.template_file.c_str(), EXS_Unknown, EGL_noChange,
                                                       DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
    UNIPET_CHECK(status.good(),
                 o.template_file << ": cannot read the source DICOM file (" << status.text() << ")");
    DcmDataset& src = *source.getDataset();
    detail::copy_source_modules(src, base);
    // Without per-slice sources, every slice gets the template's timing.
    detail::copy_slice_timing(src, base);
    source_description = detail::dicom_string(src, DCM_SeriesDescription);
    source_number = detail::dicom_string(src, DCM_SeriesNumber);
    detail::add_provenance(src, base, o.provenance, now.date_time());
    for (const auto& slice : sources)
      detail::add_referenced_instance(base, detail::dicom_string(src, DCM_SeriesInstanceUID), slice.sop_class,
                                      slice.sop_instance);
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
    DcmItem none;
    detail::add_provenance(none, base, o.provenance, now.date_time());
  }
  detail::fill_type2(base);
  put(base, DCM_SOPClassUID, UID_PositronEmissionTomographyImageStorage, dir);
  put(base, DCM_Modality, "PT", dir);
  put(base, DCM_ImageType, "DERIVED\\PRIMARY\\" + o.image_type3.substr(0, 16), dir);
  put(base, DCM_SeriesInstanceUID, new_uid(SITE_SERIES_UID_ROOT), dir);
  put(base, DCM_SeriesNumber, std::to_string(series_number(o, source_number)), dir);
  put(base, DCM_SeriesDescription, derived_description(source_description, o.series_description), dir);
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
bool is_left_handed(const Volume& v) {
  const auto& d = v.direction;
  const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                     d[2] * (d[3] * d[7] - d[4] * d[6]);
  return det <= 0;
}

Volume as_right_handed(const Volume& v) {
  const auto& d = v.direction;
  if (!is_left_handed(v)) return v;
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
  const DicomNow now = dicom_now();
  std::vector<SourceSlice> sources = read_source_slices(options, data.size(0), is_left_handed(volume));
  const DcmDataset base = series_template(right_handed, dir, options, now, sources);

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
    if (!sources.empty()) {
      detail::copy_slice_timing(sources[k].timing, ds);
      detail::set_source_image(ds, sources[k].sop_class, sources[k].sop_instance);
    }
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
