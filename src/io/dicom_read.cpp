#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "dicom_common.h"
#include "unipet/core/error.h"
#include "unipet/io/dicom.h"

namespace unipet::io {

namespace fs = std::filesystem;
using detail::dicom_number;
using detail::dicom_string;

namespace {

struct ScannedFile {
  std::string path;
  DicomSeriesInfo info;
};

bool has_dicm_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[132] = {};
  in.read(magic, sizeof(magic));
  return in.gcount() == 132 && std::memcmp(magic + 128, "DICM", 4) == 0;
}

// Reads every file's header (up to the pixel data). A file that claims to be DICOM (the "DICM"
// marker) but cannot be parsed is an error rather than a silently missing slice.
std::vector<ScannedFile> scan_folder(const std::string& dir) {
  detail::init_dcmtk();
  std::error_code ec;
  UNIPET_CHECK(fs::is_directory(dir, ec), dir << ": not a folder");
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec))
    if (it->is_regular_file(ec)) paths.push_back(it->path().string());
  UNIPET_CHECK(!ec, dir << ": cannot list folder (" << ec.message() << ")");
  std::sort(paths.begin(), paths.end());
  std::vector<ScannedFile> files;
  for (const auto& path : paths) {
    if (fs::path(path).filename().string().rfind(".", 0) == 0) continue;  // hidden, e.g. .DS_Store
    DcmFileFormat file;
    const OFCondition status = file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange,
                                                     DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
    if (status.bad()) {
      UNIPET_CHECK(!has_dicm_magic(path), path << ": corrupt DICOM file (" << status.text() << ")");
      continue;
    }
    // A Part 10 file always names its SOP class in the meta header; without it the "DICM"
    // marker was followed by garbage that dcmtk parsed leniently.
    if (has_dicm_magic(path))
      UNIPET_CHECK(!dicom_string(*file.getMetaInfo(), DCM_MediaStorageSOPClassUID).empty(),
                   path << ": corrupt DICOM file (no file meta information)");
    DcmDataset& ds = *file.getDataset();
    ScannedFile f{path, {}};
    f.info.series_uid = dicom_string(ds, DCM_SeriesInstanceUID);
    if (f.info.series_uid.empty()) continue;  // DICOMDIR, or not DICOM at all
    f.info.modality = dicom_string(ds, DCM_Modality);
    f.info.series_description = dicom_string(ds, DCM_SeriesDescription);
    f.info.series_number = dicom_string(ds, DCM_SeriesNumber);
    f.info.patient_id = dicom_string(ds, DCM_PatientID);
    f.info.study_date = dicom_string(ds, DCM_StudyDate);
    files.push_back(std::move(f));
  }
  return files;
}

std::vector<DicomSeriesInfo> group_series(const std::vector<ScannedFile>& files) {
  std::map<std::string, DicomSeriesInfo> by_uid;
  for (const auto& f : files) {
    auto [it, fresh] = by_uid.emplace(f.info.series_uid, f.info);
    it->second.files = fresh ? 1 : it->second.files + 1;
  }
  std::vector<DicomSeriesInfo> series;
  for (auto& [uid, info] : by_uid) series.push_back(info);
  std::sort(series.begin(), series.end(), [](const auto& a, const auto& b) {
    const long na = std::atol(a.series_number.c_str()), nb = std::atol(b.series_number.c_str());
    return na != nb ? na < nb : a.series_uid < b.series_uid;
  });
  return series;
}

using Vec3 = std::array<double, 3>;
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

struct Slice {
  std::string path;
  Vec3 position{}, row{}, column{};
  double row_spacing = 0, column_spacing = 0;
  long rows = 0, columns = 0;
  std::vector<float> values;  // rows * columns, rescaled
};

double required_number(DcmItem& ds, const DcmTagKey& tag, const char* name, const std::string& path,
                       unsigned long index = 0) {
  double v = 0;
  UNIPET_CHECK(dicom_number(ds, tag, v, index), path << ": " << name << " is missing or malformed");
  UNIPET_CHECK(std::isfinite(v), path << ": " << name << " is " << v);
  return v;
}

// The Image Pixel module's description of each stored value. The tags must agree with each other
// (and the PixelData length with them): a file where they do not would be decoded into wrong
// values, so it is refused instead of guessed at.
struct PixelFormat {
  int bits_allocated = 0, bits_stored = 0;
  bool is_signed = false;
};

PixelFormat read_pixel_format(DcmItem& ds, const std::string& path) {
  const double allocated = required_number(ds, DCM_BitsAllocated, "BitsAllocated (0028,0100)", path);
  const double stored = required_number(ds, DCM_BitsStored, "BitsStored (0028,0101)", path);
  const double high = required_number(ds, DCM_HighBit, "HighBit (0028,0102)", path);
  const double representation =
      required_number(ds, DCM_PixelRepresentation, "PixelRepresentation (0028,0103)", path);
  UNIPET_CHECK(allocated == 8 || allocated == 16 || allocated == 32,
               path << ": BitsAllocated (0028,0100) is " << allocated << " (expected 8, 16 or 32)");
  UNIPET_CHECK(stored >= 1 && stored <= allocated && stored == std::floor(stored),
               path << ": BitsStored (0028,0101) " << stored << " does not fit BitsAllocated (0028,0100) "
                    << allocated);
  UNIPET_CHECK(high == stored - 1, path << ": HighBit (0028,0102) is " << high
                                        << ", expected BitsStored (0028,0101) - 1 = " << stored - 1);
  UNIPET_CHECK(representation == 0 || representation == 1, path << ": PixelRepresentation (0028,0103) is "
                                                                << representation
                                                                << " (expected 0, unsigned, or 1, signed)");
  return {static_cast<int>(allocated), static_cast<int>(stored), representation == 1};
}

// Loads a whole file, its pixel data decompressed to little-endian explicit.
DcmDataset& load_decompressed(DcmFileFormat& file, const std::string& path) {
  OFCondition status = file.loadFile(path.c_str());
  UNIPET_CHECK(status.good(), path << ": corrupt DICOM file (" << status.text() << ")");
  DcmDataset& ds = *file.getDataset();
  status = ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
  UNIPET_CHECK(status.good() && ds.canWriteXfer(EXS_LittleEndianExplicit),
               path << ": cannot decompress pixel data (" << status.text() << ")");
  return ds;
}

// The slice's size, position, orientation and pixel spacing: one single-sample frame.
void read_slice_geometry(DcmItem& ds, const std::string& path, Slice& s) {
  const double rows = required_number(ds, DCM_Rows, "Rows (0028,0010)", path);
  const double columns = required_number(ds, DCM_Columns, "Columns (0028,0011)", path);
  UNIPET_CHECK(rows >= 1 && rows <= 65535 && columns >= 1 && columns <= 65535,
               path << ": empty or impossible image size: Rows (0028,0010) " << rows
                    << ", Columns (0028,0011) " << columns);
  s.rows = static_cast<long>(rows);
  s.columns = static_cast<long>(columns);
  double frames = 1;
  dicom_number(ds, DCM_NumberOfFrames, frames);
  UNIPET_CHECK(frames <= 1, path << ": multi-frame DICOM (" << frames
                                 << " frames in one file) is not supported; expected one slice per file");
  double samples = 1;
  dicom_number(ds, DCM_SamplesPerPixel, samples);
  UNIPET_CHECK(samples == 1, path << ": expected one sample per pixel, got " << samples);
  for (int i = 0; i < 3; ++i)
    s.position[i] =
        required_number(ds, DCM_ImagePositionPatient, "ImagePositionPatient (0020,0032)", path, i);
  for (int i = 0; i < 3; ++i) {
    s.row[i] =
        required_number(ds, DCM_ImageOrientationPatient, "ImageOrientationPatient (0020,0037)", path, i);
    s.column[i] =
        required_number(ds, DCM_ImageOrientationPatient, "ImageOrientationPatient (0020,0037)", path, i + 3);
  }
  s.row_spacing = required_number(ds, DCM_PixelSpacing, "PixelSpacing (0028,0030)", path, 0);
  s.column_spacing = required_number(ds, DCM_PixelSpacing, "PixelSpacing (0028,0030)", path, 1);
}

// The raw PixelData of a slice whose size `s` already holds, checked to hold exactly its values
// (valid while `ds` lives).
const Uint8* pixel_data(DcmItem& ds, const std::string& path, const Slice& s, int bits_allocated) {
  const size_t n = static_cast<size_t>(s.rows) * static_cast<size_t>(s.columns);
  DcmElement* pixel = nullptr;
  UNIPET_CHECK(ds.findAndGetElement(DCM_PixelData, pixel).good() && pixel != nullptr,
               path << ": no PixelData (7FE0,0010)");
  // dcmtk hands out OB data as bytes and OW data as words (in host byte order).
  Uint8* bytes = nullptr;
  OFCondition status = pixel->getUint8Array(bytes);
  if (status.bad() || bytes == nullptr) {
    Uint16* words = nullptr;
    status = pixel->getUint16Array(words);
    bytes = reinterpret_cast<Uint8*>(words);
  }
  UNIPET_CHECK(status.good() && bytes != nullptr, path << ": unreadable PixelData (" << status.text() << ")");
  const size_t byte_count = pixel->getLength();
  const size_t expected = n * static_cast<size_t>(bits_allocated / 8);
  // DICOM pads an odd-length value with one byte; anything else means the tags do not describe
  // the pixels (or the file is truncated).
  UNIPET_CHECK(byte_count == expected || (expected % 2 == 1 && byte_count == expected + 1),
               path << ": PixelData (7FE0,0010) holds " << byte_count
                    << " bytes, but Rows (0028,0010) x Columns "
                    << "(0028,0011) x BitsAllocated (0028,0100) / 8 = " << s.rows << " x " << s.columns
                    << " x " << bits_allocated / 8 << " = " << expected);
  return bytes;
}

// `n` stored values as slope * value + intercept.
std::vector<float> decode_pixels(const Uint8* bytes, size_t n, const PixelFormat& format, double slope,
                                 double intercept) {
  const int bits_allocated = format.bits_allocated;
  const int stored = format.bits_stored;
  const bool is_signed = format.is_signed;
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t raw = 0;
    if (bits_allocated == 8) raw = bytes[i];
    if (bits_allocated == 16) {
      uint16_t w;
      std::memcpy(&w, bytes + 2 * i, 2);
      raw = w;
    }
    if (bits_allocated == 32) std::memcpy(&raw, bytes + 4 * i, 4);
    // Keep only BitsStored bits, then sign-extend from the top stored bit.
    if (stored < 32) raw &= (uint32_t{1} << stored) - 1;
    int64_t v = raw;
    if (is_signed && stored < 64 && (raw >> (stored - 1)) & 1) v -= int64_t{1} << stored;
    values[i] = static_cast<float>(static_cast<double>(v) * slope + intercept);
  }
  return values;
}

Slice read_slice(const std::string& path) {
  DcmFileFormat file;
  DcmDataset& ds = load_decompressed(file, path);
  Slice s;
  s.path = path;
  read_slice_geometry(ds, path, s);
  double slope = 1, intercept = 0;
  dicom_number(ds, DCM_RescaleSlope, slope);
  dicom_number(ds, DCM_RescaleIntercept, intercept);
  UNIPET_CHECK(std::isfinite(slope) && std::isfinite(intercept),
               path << ": RescaleSlope (0028,1053) " << slope << " or RescaleIntercept (0028,1052) "
                    << intercept << " is not finite");
  const PixelFormat format = read_pixel_format(ds, path);
  const Uint8* bytes = pixel_data(ds, path, s, format.bits_allocated);
  s.values = decode_pixels(bytes, static_cast<size_t>(s.rows) * static_cast<size_t>(s.columns), format, slope,
                           intercept);
  return s;
}

Units units_from_dicom(const std::string& units) {
  if (units == "BQML") return Units::BqPerMl;
  if (units == "GML") return Units::SUV;
  if (units == "CNTS") return Units::Counts;
  return Units::Unknown;
}

namespace {

// The attributes before the pixels of a file already scanned as DICOM (a failed read leaves the
// dataset empty, so every tag reads as absent).
DcmDataset& header_of(DcmFileFormat& file, const std::string& path) {
  file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
  return *file.getDataset();
}

}  // namespace

SuvTags read_suv_tags(const std::string& path) {
  DcmFileFormat file;
  DcmDataset& ds = header_of(file, path);
  SuvTags t;
  t.source = path;
  t.units = dicom_string(ds, DCM_Units);
  t.corrected_image = detail::dicom_strings(ds, DCM_CorrectedImage);
  t.decay_correction = dicom_string(ds, DCM_DecayCorrection);
  t.series_date = dicom_string(ds, DCM_SeriesDate);
  t.series_time = dicom_string(ds, DCM_SeriesTime);
  double v = 0;
  if (dicom_number(ds, DCM_PatientWeight, v)) t.patient_weight_kg = v;
  DcmItem* isotope = nullptr;
  if (ds.findAndGetSequenceItem(DCM_RadiopharmaceuticalInformationSequence, isotope, 0).good() && isotope) {
    if (dicom_number(*isotope, DCM_RadionuclideTotalDose, v)) t.total_dose_bq = v;
    if (dicom_number(*isotope, DCM_RadionuclideHalfLife, v)) t.half_life_s = v;
    t.injection_datetime = dicom_string(*isotope, DCM_RadiopharmaceuticalStartDateTime);
    t.injection_time = dicom_string(*isotope, DCM_RadiopharmaceuticalStartTime);
  }
  return t;
}

DicomDerivation read_derivation(const std::string& path) {
  DcmFileFormat file;
  DcmDataset& ds = header_of(file, path);
  DicomDerivation d;
  for (const auto& value : detail::dicom_strings(ds, DCM_ImageType))
    d.image_type += (d.image_type.empty() ? "" : "\\") + value;
  d.description = dicom_string(ds, DCM_DerivationDescription);
  DcmItem* item = nullptr;
  if (ds.findAndGetSequenceItem(DCM_RelatedSeriesSequence, item, 0).good() && item)
    d.source_series_uid = dicom_string(*item, DCM_SeriesInstanceUID);
  if (ds.findAndGetSequenceItem(DCM_ContributingEquipmentSequence, item, -1 /* last */).good() && item) {
    d.software = dicom_string(*item, DCM_Manufacturer);
    const std::string versions = dicom_string(*item, DCM_SoftwareVersions);
    if (!versions.empty()) d.software += " " + versions;
    d.date_time = dicom_string(*item, DCM_ContributionDateTime);
    d.contribution = dicom_string(*item, DCM_ContributionDescription);
  }
  return d;
}

// Builds the volume from slices already sorted along the normal, refusing anything that is not a
// regular 3D grid: the geometry must be exact, or denoised images land in the wrong place.
Volume assemble(const std::string& dir, std::vector<Slice>& slices) {
  const Slice& first = slices.front();
  UNIPET_CHECK(slices.size() >= 2,
               dir << ": the PET series has a single slice (a 2D image); expected a 3D volume");
  const Vec3 normal = cross(first.row, first.column);
  for (const auto& s : slices) {
    UNIPET_CHECK(s.rows == first.rows && s.columns == first.columns,
                 dir << ": slices differ in size (" << s.path << " is " << s.rows << " x " << s.columns
                     << ", " << first.path << " is " << first.rows << " x " << first.columns << ")");
    for (int i = 0; i < 3; ++i)
      UNIPET_CHECK(std::abs(s.row[i] - first.row[i]) < 1e-4 && std::abs(s.column[i] - first.column[i]) < 1e-4,
                   dir << ": slices differ in ImageOrientationPatient (" << s.path << ")");
  }
  std::vector<double> depth;
  for (const auto& s : slices) depth.push_back(dot(s.position, normal));
  for (size_t k = 1; k < slices.size(); ++k)
    UNIPET_CHECK(depth[k] - depth[k - 1] > 1e-3,
                 dir << ": several slices at one position (" << slices[k - 1].path << ", " << slices[k].path
                     << "): a 4D (dynamic or gated) series is not supported; export one frame");
  const double step = (depth.back() - depth.front()) / static_cast<double>(slices.size() - 1);
  for (size_t k = 1; k < slices.size(); ++k)
    UNIPET_CHECK(std::abs(depth[k] - depth[k - 1] - step) < std::max(1e-2, 0.01 * step),
                 dir << ": uneven slice spacing (" << depth[k] - depth[k - 1] << " mm before "
                     << slices[k].path << ", mean " << step << " mm); missing slice?");
  for (const auto& s : slices) {
    Vec3 offset{};
    for (int i = 0; i < 3; ++i) offset[i] = s.position[i] - first.position[i];
    const double along = dot(offset, normal);
    for (int i = 0; i < 3; ++i)
      UNIPET_CHECK(std::abs(offset[i] - along * normal[i]) < 1e-2 + 1e-3 * std::abs(along),
                   dir << ": slices are not stacked along their normal (gantry tilt?) at " << s.path);
  }
  Volume v;
  v.data = torch::empty({static_cast<int64_t>(slices.size()), first.rows, first.columns}, torch::kFloat32);
  float* out = v.data.data_ptr<float>();
  const size_t plane = static_cast<size_t>(first.rows * first.columns);
  for (size_t k = 0; k < slices.size(); ++k)
    std::memcpy(out + k * plane, slices[k].values.data(), plane * sizeof(float));
  v.spacing = {first.column_spacing, first.row_spacing, step};
  v.origin = first.position;
  for (int r = 0; r < 3; ++r) {
    v.direction[r * 3 + 0] = first.row[r];
    v.direction[r * 3 + 1] = first.column[r];
    v.direction[r * 3 + 2] = normal[r];
  }
  return v;
}

}  // namespace

bool is_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::vector<DicomSeriesInfo> list_dicom_series(const std::string& dir) {
  return group_series(scan_folder(dir));
}

std::string format_series_list(const std::vector<DicomSeriesInfo>& series) {
  std::ostringstream out;
  for (const auto& s : series)
    out << "  " << (s.modality.empty() ? "??" : s.modality) << "  series " << s.series_number << "  "
        << s.files << " files  '" << s.series_description << "'  " << s.series_uid << "\n";
  return out.str();
}

DicomSeries read_dicom_series(const std::string& dir, const std::string& series_uid) {
  const auto files = scan_folder(dir);
  const auto series = group_series(files);
  UNIPET_CHECK(!series.empty(), dir << ": no DICOM series found");
  const DicomSeriesInfo* chosen = nullptr;
  if (!series_uid.empty()) {
    for (const auto& s : series)
      if (s.series_uid == series_uid) chosen = &s;
    UNIPET_CHECK(chosen != nullptr, dir << ": no series with SeriesInstanceUID " << series_uid);
    UNIPET_CHECK(chosen->modality == "PT",
                 dir << ": series " << series_uid << " is " << chosen->modality << ", not PET (PT)");
  } else {
    std::vector<const DicomSeriesInfo*> pet;
    std::string others;
    for (const auto& s : series) {
      if (s.modality == "PT")
        pet.push_back(&s);
      else
        others += (others.empty() ? "" : ", ") + s.modality;
    }
    UNIPET_CHECK(!pet.empty(), dir << ": no PET series (Modality PT) found; found " << others);
    if (pet.size() > 1) {
      std::string list;
      for (const auto* s : pet)
        list += " " + s->series_uid + " ('" + s->series_description + "', " + std::to_string(s->files) +
                " files);";
      UNIPET_FAIL(dir << ": " << pet.size() << " PET series found, choose one by SeriesInstanceUID:" << list);
    }
    chosen = pet.front();
  }

  std::vector<Slice> slices;
  for (const auto& f : files)
    if (f.info.series_uid == chosen->series_uid) slices.push_back(read_slice(f.path));
  const Vec3 normal = cross(slices.front().row, slices.front().column);
  std::stable_sort(slices.begin(), slices.end(), [&](const Slice& a, const Slice& b) {
    return dot(a.position, normal) < dot(b.position, normal);
  });
  DicomSeries result;
  result.volume = assemble(dir, slices);
  result.info = *chosen;
  for (const auto& s : slices) result.files.push_back(s.path);
  result.suv_tags = read_suv_tags(result.files.front());
  result.derivation = read_derivation(result.files.front());
  result.volume.units = units_from_dicom(result.suv_tags.units);
  result.volume.validate(dir);
  return result;
}

}  // namespace unipet::io
