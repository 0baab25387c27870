#include "unipet/io/pet_image.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "unipet/core/text.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/io/image_io.h"

namespace unipet::io {

namespace {

std::string format_name(const std::string& path) {
  if (ends_with_ci(path, ".nii") || ends_with_ci(path, ".nii.gz")) return "NIfTI";
  if (ends_with_ci(path, ".mha") || ends_with_ci(path, ".mhd")) return "MetaImage";
  if (ends_with_ci(path, ".nrrd") || ends_with_ci(path, ".nhdr")) return "NRRD";
  return "DICOM series";
}

template <typename T>
std::string triple(const T& v) {
  std::ostringstream out;
  // 7 digits: NIfTI stores geometry as float32. + 0.0 prints -0 as 0.
  out << std::setprecision(7) << v[0] + 0.0 << ", " << v[1] + 0.0 << ", " << v[2] + 0.0;
  return out.str();
}

}  // namespace

PetImage read_pet(const std::string& path, const std::string& series_uid, const ReadImageOptions& options) {
  PetImage image;
  image.path = path;
  if (is_image_path(path)) {
    UNIPET_CHECK(series_uid.empty(), path << ": --series applies to DICOM folders only");
    image.sidecar = read_sidecar(path);
    image.volume = read_image(path, options);
    if (image.sidecar) {
      const Units declared = sidecar_units(*image.sidecar);
      UNIPET_CHECK(declared == Units::Unknown || image.volume.units == Units::Unknown || declared == image.volume.units,
                   image.sidecar->path << ": Units '" << image.sidecar->units << "' contradict the image's "
                                       << to_string(image.volume.units));
      if (image.volume.units == Units::Unknown) image.volume.units = declared;
    }
    return image;
  }
  UNIPET_CHECK(is_directory(path), path << ": neither an image file (.nii, .nii.gz, .mha, .mhd, "
                                           ".nrrd) nor a DICOM folder");
  image.dicom = read_dicom_series(path, series_uid);
  image.volume = image.dicom->volume;
  image.dicom->volume = Volume{};  // one copy of the voxels is enough
  return image;
}

void check_pet_output(const std::string& path, const std::vector<std::string>& inputs) {
  std::vector<std::filesystem::path> in(inputs.begin(), inputs.end());
  for (const auto& input : inputs)
    if (is_image_path(input)) in.emplace_back(sidecar_path(input));
  if (is_image_path(path)) {
    check_output_path(path, {OutputKind::File, in});
    check_output_path(sidecar_path(path), {OutputKind::File, in});
    // A .mhd/.nhdr header is written with a data file beside it, which is replaced too.
    for (const char* header : {".mhd", ".nhdr"}) {
      if (!ends_with_ci(path, header)) continue;
      const std::string stem = path.substr(0, path.size() - std::string(header).size());
      for (const char* data : {".raw", ".zraw", ".raw.gz"}) {
        if (std::filesystem::exists(std::filesystem::symlink_status(stem + data)))
          check_output_path(stem + data, {OutputKind::File, in});
      }
    }
    return;
  }
  // "out.png" is a mistyped file name far more often than a folder name; folders with a dot can
  // be written as "out.v2/".
  const std::filesystem::path p(path);
  UNIPET_CHECK(p.extension().empty() || p.filename().empty() || is_directory(path),
               path << ": unknown image format (expected .nii, .nii.gz, .mha, .mhd, .nrrd, or a "
                       "folder name without extension for a DICOM series)");
  check_output_path(path, {OutputKind::Folder, in});
}

void write_pet(const Volume& volume, const std::string& path, const PetImage* source,
               const DicomWriteOptions& dicom, std::optional<double> weight_kg) {
  check_pet_output(path);
  if (is_image_path(path)) {
    SidecarContent sidecar;
    sidecar.units = volume.units;
    sidecar.provenance = dicom.provenance;
    sidecar.weight_kg = weight_kg;
    if (source) {
      sidecar.sources = {source->path};
      if (source->sidecar) sidecar.source_sidecar = &*source->sidecar;
      if (source->dicom) sidecar.source_tags = &source->dicom->suv_tags;
    }
    write_file_atomically(sidecar_path(path), sidecar_json(sidecar));
    try {
      write_image(volume, path);
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove(sidecar_path(path), ec);  // no sidecar without its image
      throw;
    }
    return;
  }
  DicomWriteOptions options = dicom;
  if (source && source->dicom && options.template_file.empty()) {
    options.template_file = source->dicom->files.front();
    options.source_files = source->dicom->files;
  }
  write_dicom_series(volume, path, options);
}

SuvResult suv_factor_for(const PetImage& image, std::optional<double> override_factor,
                         std::optional<double> weight_kg) {
  if (override_factor) {
    UNIPET_CHECK(*override_factor > 0 && std::isfinite(*override_factor),
                 "--suv-factor must be positive, got " << *override_factor);
    SuvResult r;
    r.factor = *override_factor;
    r.used.emplace_back("--suv-factor", std::to_string(*override_factor));
    return r;
  }
  if (weight_kg)
    UNIPET_CHECK(*weight_kg > 0 && std::isfinite(*weight_kg), "--weight must be positive (kg), got " << *weight_kg);
  if (image.sidecar) return sidecar_suv_factor(*image.sidecar, weight_kg);
  UNIPET_CHECK(image.dicom.has_value(),
               image.path << ": no SUV tags in a " << format_name(image.path) << " file and no JSON sidecar ("
                          << sidecar_path(image.path) << "); give the factor with --suv-factor (SUV = Bq/ml x factor)");
  SuvTags tags = image.dicom->suv_tags;
  if (weight_kg) tags.patient_weight_kg = weight_kg;
  SuvResult r = suv_factor(tags);
  if (weight_kg)
    for (auto& [tag, value] : r.used)
      if (tag.rfind("PatientWeight", 0) == 0) tag = "--weight";
  return r;
}

Volume convert_units(const PetImage& image, const std::string& units_in,
                     std::optional<double> override_factor, std::optional<double> weight_kg) {
  const std::string units = lower(units_in);
  const Volume& v = image.volume;
  if (units.empty()) return v;
  UNIPET_CHECK(units == "suv" || units == "bqml", "--to must be suv or bqml, got '" << units_in << "'");
  UNIPET_CHECK(v.units != Units::Counts && v.units != Units::Unitless,
               image.path << ": cannot convert " << to_string(v.units) << " to " << units_in);
  const Units target = units == "suv" ? Units::SUV : Units::BqPerMl;
  const Units source = v.units == Units::Unknown ? Units::BqPerMl : v.units;
  if (source == target) {
    Volume out = v;
    out.units = target;
    return out;
  }
  // A DICOM series in GML carries no dose: its factor would be 1, which cannot recover Bq/ml.
  UNIPET_CHECK(target == Units::SUV || override_factor.has_value(),
               image.path << ": converting SUV to Bq/ml needs the SUV factor: give --suv-factor");
  const double factor = suv_factor_for(image, override_factor, weight_kg).factor;
  Volume out = with_geometry_of(v, target == Units::SUV ? v.data * factor : v.data / factor);
  out.units = target;
  return out;
}

std::string convert_pet(const std::string& in, const std::string& out, const ConvertOptions& options) {
  check_pet_output(out, {in});
  const PetImage image = read_pet(in, options.series_uid, options.read);
  const Volume converted = convert_units(image, options.to, options.suv_factor, options.weight_kg);
  DicomWriteOptions dicom = options.dicom;
  dicom.provenance.operation = "converted" + (options.to.empty() ? "" : " to " + to_string(converted.units));
  write_pet(converted, out, &image, dicom, options.weight_kg);
  std::ostringstream line;
  const auto size = converted.size_xyz();
  line << in << " -> " << out << ": " << size[0] << " x " << size[1] << " x " << size[2] << " voxels, "
       << to_string(converted.units) << "\n";
  return line.str();
}

std::string describe_pet(const std::string& path, const std::string& series_uid,
                         std::optional<double> override_factor, const ReadImageOptions& options,
                         std::optional<double> weight_kg) {
  std::ostringstream out;
  std::vector<DicomSeriesInfo> series;
  if (!is_image_path(path) && is_directory(path) && series_uid.empty()) {
    series = list_dicom_series(path);
    int pet = 0;
    for (const auto& s : series) pet += s.modality == "PT";
    // Several PET series: listing them is the answer. None: read_pet below reports the error.
    if (pet > 1) {
      out << path << ": " << series.size() << " DICOM series, " << pet << " PET\n"
          << format_series_list(series) << "choose one with --series UID\n";
      return out.str();
    }
  }
  ReadImageOptions read = options;
  read.allow_non_finite = true;  // info is where a user finds out how many there are
  const PetImage image = read_pet(path, series_uid, read);
  const Volume& v = image.volume;
  const auto size = v.size_xyz();
  out << path << "\n";
  out << "  format:      " << format_name(path);
  if (image.dicom) out << " (" << image.dicom->files.size() << " files)";
  if (image.sidecar) out << " with sidecar " << image.sidecar->path;
  out << "\n";
  if (image.sidecar) out << describe_sidecar_provenance(*image.sidecar);
  if (image.dicom) {
    const auto& info = image.dicom->info;
    out << "  series:      " << info.series_uid << " (number " << info.series_number << ", '"
        << info.series_description << "')\n"
        << "  patient:     " << info.patient_id << ", study date " << info.study_date << "\n";
    const DicomDerivation& d = image.dicom->derivation;
    if (d.derived()) {
      out << "  provenance:  " << (d.contribution.empty() ? d.description : d.contribution) << "\n"
          << "    image type:    " << d.image_type << "\n";
      if (!d.software.empty()) out << "    made by:       " << d.software << ", " << d.date_time << "\n";
      if (!d.source_series_uid.empty()) out << "    source series: " << d.source_series_uid << "\n";
    }
  }
  out << "  size:        " << size[0] << " x " << size[1] << " x " << size[2] << " voxels (x, y, z)\n"
      << "  spacing:     " << triple(v.spacing) << " mm\n"
      << "  origin:      " << triple(v.origin) << " mm (LPS)\n"
      << "  direction:   [" << triple(&v.direction[0]) << "; " << triple(&v.direction[3]) << "; "
      << triple(&v.direction[6]) << "] (rows)\n"
      << "  units:       " << to_string(v.units) << "\n";
  const torch::Tensor d = v.data.masked_select(torch::isfinite(v.data));
  const int64_t nan = torch::isnan(v.data).sum().item<int64_t>();
  const int64_t inf = torch::isinf(v.data).sum().item<int64_t>();
  const int64_t negatives = d.lt(0).sum().item<int64_t>();
  out << std::setprecision(6) << "  values:      ";
  if (d.numel() > 0)
    out << "min " << d.min().item<double>() << ", max " << d.max().item<double>() << ", mean "
        << d.mean().item<double>() << (nan + inf > 0 ? " (finite voxels)" : "") << "\n";
  else
    out << "none finite\n";
  out << "  negative:    " << negatives << " voxels";
  if (negatives > 0) out << ", minimum " << d.min().item<double>();
  out << "\n"
      << "  non-finite voxels: " << nan << " NaN, " << inf << " Inf\n";
  try {
    const SuvResult suv = suv_factor_for(image, override_factor, weight_kg);
    out << "  SUV factor:  " << std::setprecision(8) << suv.factor << " (SUV = " << to_string(Units::BqPerMl)
        << " x factor)\n";
    if (suv.decayed_dose_bq > 0)
      out << "  decayed dose " << std::setprecision(8) << suv.decayed_dose_bq << " Bq after " << suv.elapsed_s
          << " s\n";
    for (const auto& [tag, value] : suv.used) out << "    " << tag << ": " << value << "\n";
  } catch (const Error& e) {
    out << "  SUV factor:  not available: " << e.what() << "\n";
  }
  if (series.size() > 1) out << "  all series in the folder:\n" << format_series_list(series);
  return out.str();
}

}  // namespace unipet::io
