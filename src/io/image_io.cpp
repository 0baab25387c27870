#include "unipet/io/image_io.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <regex>

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkMetaDataObject.h>
#include <itkMetaImageIO.h>
#include <itkNiftiImageIO.h>
#include <itkNrrdImageIO.h>

#include "unipet/core/text.h"
#include "quiet_stderr.h"
#include "nifti_header.h"
#include "text_image_headers.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"

namespace unipet::io {

namespace fs = std::filesystem;
using ItkVolume = itk::Image<float, 3>;

namespace {

// Key under which the units are stored in every format's key/value header. NIfTI has no free keys;
// ITK maps ITK_FileNotes to its 80-character `descrip`, so the units go there as well.
constexpr const char* kUnitsKey = "unipet_units";
constexpr const char* kNotesKey = "ITK_FileNotes";
constexpr const char* kNotesPrefix = "unipet units=";

// ITK prints warnings (e.g. about qform/sform disagreement) straight to stderr; the CLI reports
// problems as one-line errors instead.
void silence_itk_warnings() {
  static std::once_flag once;
  std::call_once(once, [] { itk::Object::GlobalWarningDisplayOff(); });
}

// IO objects are built directly by extension: the project does not register ITK's IO factories,
// and an explicit choice also means an unknown extension fails clearly instead of guessing.
itk::ImageIOBase::Pointer image_io_for(const std::string& path) {
  if (ends_with_ci(path, ".nii") || ends_with_ci(path, ".nii.gz"))
    return itk::NiftiImageIO::New().GetPointer();
  if (ends_with_ci(path, ".mha") || ends_with_ci(path, ".mhd"))
    return itk::MetaImageIO::New().GetPointer();
  if (ends_with_ci(path, ".nrrd") || ends_with_ci(path, ".nhdr"))
    return itk::NrrdImageIO::New().GetPointer();
  UNIPET_FAIL(path << ": unknown image format (expected .nii, .nii.gz, .mha, .mhd, .nrrd, .nhdr)");
}

// ITK messages span several lines and carry "itk::ERROR: NiftiImageIO(0x55d0c3a4b2c0): "
// prefixes and "itk::CommonEnums::..." names; keep one readable line without class names,
// namespaces and pointer addresses.
std::string one_line(const itk::ExceptionObject& e) {
  static const std::regex noise(
      R"((itk::|ITK )(ERROR|WARNING|EXCEPTION): |\w*\(0x[0-9a-fA-F]+\):? ?|itk::(\w+::)*)");
  std::string text = std::regex_replace(e.GetDescription(), noise, "");
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  text = std::regex_replace(text, std::regex("  +"), " ");
  while (!text.empty() && text.back() == ' ') text.pop_back();
  while (!text.empty() && text.front() == ' ') text.erase(0, 1);
  return text.empty() ? "unknown ITK error" : text;
}

Units units_from_dictionary(const itk::MetaDataDictionary& dict) {
  std::string value;
  if (itk::ExposeMetaData<std::string>(dict, kUnitsKey, value)) {
    try {
      return units_from_string(value);
    } catch (const Error&) {
      return Units::Unknown;
    }
  }
  for (const char* key : {kNotesKey, "aux_file", "descrip"}) {
    if (!itk::ExposeMetaData<std::string>(dict, key, value)) continue;
    const auto at = value.find(kNotesPrefix);
    if (at != std::string::npos) {
      std::string rest = value.substr(at + std::strlen(kNotesPrefix));
      rest = rest.substr(0, rest.find_first_of(" ;\t"));
      try {
        return units_from_string(rest);
      } catch (const Error&) {
        return Units::Unknown;
      }
    }
  }
  return Units::Unknown;
}

// Rejects images that are not one 3D scalar volume before any voxel is read. Trailing axes of
// size 1 (e.g. a NIfTI with dim[4] = 1) are a 3D volume stored in a 4D header and are accepted.
void check_is_3d_scalar(const itk::ImageIOBase& io, const std::string& path) {
  const unsigned dims = io.GetNumberOfDimensions();
  UNIPET_CHECK(dims >= 3, path << ": expected a 3D image, got a " << dims << "D image");
  for (unsigned d = 3; d < dims; ++d)
    UNIPET_CHECK(io.GetDimensions(d) == 1, path << ": expected a 3D image, got a " << dims << "D image with "
                                                << io.GetDimensions(d) << " entries along axis " << d);
  for (unsigned d = 0; d < 3; ++d)
    UNIPET_CHECK(io.GetDimensions(d) >= 2, path << ": expected a 3D image, but axis " << d << " has "
                                                << io.GetDimensions(d) << " voxel(s) (a 2D image?)");
  UNIPET_CHECK(io.GetNumberOfComponents() == 1,
               path << ": expected one value per voxel, got " << io.GetNumberOfComponents() << " components");
}

// What the format's own checks learnt from the raw file before ITK opened it.
struct RawChecks {
  std::optional<detail::NiftiLayout> nifti;
  std::optional<detail::VoxelData> data;  // MetaImage and NRRD
};

bool is_nifti_path(const std::string& path) {
  return ends_with_ci(path, ".nii") || ends_with_ci(path, ".nii.gz");
}

// ITK's readers trust their headers: they abort on a NaN in a NIfTI sform, allocate whatever a
// header declares, follow data file names anywhere, and silently repair odd fields. Each header
// is therefore checked on its raw bytes first.
RawChecks check_header(const std::string& path, const ReadImageOptions& options) {
  RawChecks checks;
  if (is_nifti_path(path))
    checks.nifti = detail::check_nifti_header(path, kMaxImageVoxels);
  else if (ends_with_ci(path, ".mha") || ends_with_ci(path, ".mhd"))
    checks.data = detail::parse_metaimage_header(path, options.allow_external_data, kMaxImageVoxels);
  else
    checks.data = detail::parse_nrrd_header(path, options.allow_external_data, kMaxImageVoxels);
  return checks;
}

// Between ITK reading the header and allocating the voxels: the data present must hold every
// voxel ITK is about to read (a short read leaves zeros or stale memory in some readers).
detail::NonFiniteCount check_voxels_present(const itk::ImageIOBase& io, const RawChecks& checks,
                                            const std::string& path) {
  uint64_t voxels = 1;
  for (unsigned d = 0; d < io.GetNumberOfDimensions(); ++d) {
    voxels *= io.GetDimensions(d);
    UNIPET_CHECK(voxels <= static_cast<uint64_t>(kMaxImageVoxels),
                 path << ": image too large: more than " << kMaxImageVoxels << " voxels");
  }
  const uint64_t bytes = voxels * io.GetComponentSize() * io.GetNumberOfComponents();
  if (checks.data) detail::check_voxel_data_present(*checks.data, bytes, voxels);
  if (checks.nifti) return detail::check_nifti_voxels(path, *checks.nifti);
  return {};
}

void refuse_non_finite(const std::string& path, int64_t nan, int64_t inf) {
  UNIPET_CHECK(nan + inf == 0,
               path << ": " << nan + inf << " voxels are NaN or Inf (" << nan << " NaN, " << inf << " Inf)");
}

// ITK's NIfTI and MetaImage writers report a failed or short write (full disk, quota) on
// stderr, or not at all, and return normally. Reading the staged file back is the one check
// that covers every format and every write inside ITK: what is published is what was meant.
void verify_written(const Volume& volume, const torch::Tensor& data, const std::string& staged,
                    const std::string& path) {
  Volume back;
  try {
    back = read_image(staged);
  } catch (const Error&) {
    UNIPET_FAIL(path << ": write failed (the file written is incomplete or unreadable: disk full?)");
  }
  UNIPET_CHECK(
      back.data.sizes() == data.sizes() && torch::equal(back.data, data) && back.units == volume.units,
      path << ": write failed (the file written does not hold the image: disk full?)");
}

}  // namespace

std::string image_extension(const std::string& path) {
  // .nii.gz before .nii is not needed (".nii" does not end ".nii.gz"), but the longest match is
  // what a caller stripping the extension wants.
  for (const std::string ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr"})
    if (ends_with_ci(path, ext)) return path.substr(path.size() - ext.size());
  return "";
}

bool is_image_path(const std::string& path) { return !image_extension(path).empty(); }

Volume read_image(const std::string& path, const ReadImageOptions& options) {
  silence_itk_warnings();
  std::error_code ec;
  UNIPET_CHECK(fs::exists(path, ec), path << ": no such file");
  UNIPET_CHECK(fs::is_regular_file(path, ec), path << ": not a file");
  UNIPET_CHECK(fs::file_size(path, ec) > 0 && !ec, path << ": empty file");
  auto io = image_io_for(path);
  const RawChecks checks = check_header(path, options);
  UNIPET_CHECK(io->CanReadFile(path.c_str()),
               path << ": not a readable " << io->GetNameOfClass() << " file (corrupt or truncated?)");

  auto reader = itk::ImageFileReader<ItkVolume>::New();
  reader->SetImageIO(io);
  reader->SetFileName(path);
  ItkVolume::Pointer image;
  detail::NonFiniteCount non_finite;
  try {
    reader->UpdateOutputInformation();
    check_is_3d_scalar(*io, path);
    non_finite = check_voxels_present(*io, checks, path);
    // NIfTI's reader turns NaN and Inf into 0, so they are counted in the file, before reading.
    if (!options.allow_non_finite) refuse_non_finite(path, non_finite.nan, non_finite.inf);
    reader->Update();
    image = reader->GetOutput();
  } catch (const itk::ExceptionObject& e) {
    UNIPET_FAIL(path << ": cannot read image (corrupt or truncated?): " << one_line(e));
  } catch (const std::bad_alloc&) {
    UNIPET_FAIL(path << ": cannot read image: not enough memory");
  }

  const auto size = image->GetLargestPossibleRegion().GetSize();
  Volume volume;
  volume.data = torch::empty(
      {static_cast<int64_t>(size[2]), static_cast<int64_t>(size[1]), static_cast<int64_t>(size[0])},
      torch::kFloat32);
  // ITK's buffer is x-fastest, which is exactly a contiguous [D, H, W] tensor.
  std::memcpy(volume.data.data_ptr<float>(), image->GetBufferPointer(),
              sizeof(float) * static_cast<size_t>(volume.data.numel()));
  if (checks.nifti && non_finite.total() > 0 && checks.nifti->voxel_count == volume.data.numel())
    detail::restore_nifti_non_finite(path, *checks.nifti, volume.data.data_ptr<float>());
  for (int i = 0; i < 3; ++i) {
    volume.spacing[i] = image->GetSpacing()[i];
    volume.origin[i] = image->GetOrigin()[i];
    for (int j = 0; j < 3; ++j) volume.direction[i * 3 + j] = image->GetDirection()[i][j];
  }
  volume.units = units_from_dictionary(io->GetMetaDataDictionary());
  // Scaling (NIfTI scl_slope) can overflow to Inf, and other formats keep NaN as stored.
  if (!options.allow_non_finite)
    refuse_non_finite(path, torch::isnan(volume.data).sum().item<int64_t>(),
                      torch::isinf(volume.data).sum().item<int64_t>());
  // Volume::validate checks geometry and voxel values together; the values were handled above
  // (refused or wanted as they are), so the geometry is checked on a one-voxel stand-in.
  Volume geometry = volume;
  geometry.data = torch::zeros({1, 1, 1}, torch::kFloat32);
  geometry.validate(path);
  return volume;
}

void write_image(const Volume& volume, const std::string& path) {
  silence_itk_warnings();
  volume.validate(path);
  auto io = image_io_for(path);
  const torch::Tensor data = volume.data.to(torch::kCPU, torch::kFloat32).contiguous();

  auto image = ItkVolume::New();
  ItkVolume::SizeType size;
  for (int i = 0; i < 3; ++i) size[i] = static_cast<itk::SizeValueType>(data.size(2 - i));
  image->SetRegions(ItkVolume::RegionType(size));
  ItkVolume::SpacingType spacing;
  ItkVolume::PointType origin;
  ItkVolume::DirectionType direction;
  for (int i = 0; i < 3; ++i) {
    spacing[i] = volume.spacing[i];
    origin[i] = volume.origin[i];
    for (int j = 0; j < 3; ++j) direction[i][j] = volume.direction[i * 3 + j];
  }
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate();
  std::memcpy(image->GetBufferPointer(), data.data_ptr<float>(),
              sizeof(float) * static_cast<size_t>(data.numel()));

  auto& dict = image->GetMetaDataDictionary();
  itk::EncapsulateMetaData<std::string>(dict, kUnitsKey, to_string(volume.units));
  itk::EncapsulateMetaData<std::string>(dict, kNotesKey, kNotesPrefix + to_string(volume.units));
  // ITK 5.2 does not write NIfTI's descrip, but it does write aux_file (23 characters at most).
  itk::EncapsulateMetaData<std::string>(dict, "aux_file", kNotesPrefix + to_string(volume.units));

  // Written under the final name inside a staging folder: a .mhd header names its .raw file, so
  // the names must not change when the files are moved into place.
  const fs::path target(path);
  StagingDir staging(target);
  const std::string name = target.filename().string();
  auto writer = itk::ImageFileWriter<ItkVolume>::New();
  writer->SetImageIO(io);
  writer->SetInput(image);
  writer->SetFileName((staging.dir() / name).string());
  try {
    detail::QuietStderr quiet;  // verify_written reports a failed write in one line
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    UNIPET_FAIL(path << ": write failed (" << one_line(e) << ")");
  }
  verify_written(volume, data, (staging.dir() / name).string(), path);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(staging.dir()))
    if (entry.path().filename() != name) names.push_back(entry.path().filename().string());
  names.push_back(name);  // the header (or the only file) last
  staging.publish(names);
}

}  // namespace unipet::io
