#include "unipet/io/image_io.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkMetaDataObject.h>
#include <itkMetaImageIO.h>
#include <itkNiftiImageIO.h>
#include <itkNrrdImageIO.h>
#include <zlib.h>

#include "file_names.h"
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
  if (detail::ends_with_ci(path, ".nii") || detail::ends_with_ci(path, ".nii.gz"))
    return itk::NiftiImageIO::New().GetPointer();
  if (detail::ends_with_ci(path, ".mha") || detail::ends_with_ci(path, ".mhd"))
    return itk::MetaImageIO::New().GetPointer();
  if (detail::ends_with_ci(path, ".nrrd") || detail::ends_with_ci(path, ".nhdr"))
    return itk::NrrdImageIO::New().GetPointer();
  UNIPET_FAIL(path << ": unknown image format (expected .nii, .nii.gz, .mha, .mhd, .nrrd, .nhdr)");
}

// ITK messages span several lines and start with a source location; keep one readable line.
std::string one_line(const itk::ExceptionObject& e) {
  std::string text = e.GetDescription();
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
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

// Byte offset at which the voxels start in an uncompressed single-file image, -2 for a gzipped
// NIfTI, or -1 when unknown (compressed, detached data, unfamiliar header).
int64_t voxel_data_offset(const itk::ImageIOBase& io, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(65536, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (detail::ends_with_ci(path, ".nii.gz")) return -2;
  if (detail::ends_with_ci(path, ".nii")) {
    if (head.size() < 348) return -1;
    int32_t header_size = 0;
    std::memcpy(&header_size, head.data(), 4);
    const bool swapped = header_size != 348 && header_size != 540;
    if (swapped) return -1;  // big-endian NIfTI is rare enough to trust the reader
    if (header_size == 348) {
      float offset = 0;
      std::memcpy(&offset, head.data() + 108, 4);
      return static_cast<int64_t>(offset);
    }
    int64_t offset = 0;
    std::memcpy(&offset, head.data() + 168, 8);
    return offset;
  }
  if (detail::ends_with_ci(path, ".mha")) {
    if (io.GetUseCompression()) return -1;
    const auto at = head.find("ElementDataFile");
    const auto eol = at == std::string::npos ? at : head.find('\n', at);
    return eol == std::string::npos ? -1 : static_cast<int64_t>(eol + 1);
  }
  if (detail::ends_with_ci(path, ".nrrd")) {
    std::string encoding;
    itk::ExposeMetaData<std::string>(io.GetMetaDataDictionary(), "NRRD_encoding", encoding);
    if (encoding != "raw") return -1;
    const auto at = head.find("\n\n");  // a blank line ends the NRRD header
    return at == std::string::npos ? -1 : static_cast<int64_t>(at + 2);
  }
  return -1;
}

// A gzip file ends with the length of its uncompressed content (mod 2^32): cheap to compare
// with the NIfTI header's promise, where reading the whole stream twice would not be.
void check_gzip_nifti_not_truncated(const itk::ImageIOBase& io, const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  UNIPET_CHECK(gz != nullptr, path << ": cannot open");
  char header[348];
  const int got = gzread(gz, header, sizeof(header));
  gzclose(gz);
  UNIPET_CHECK(got == static_cast<int>(sizeof(header)), path << ": file is truncated (no NIfTI header)");
  int32_t header_size = 0;
  std::memcpy(&header_size, header, 4);
  if (header_size != 348) return;  // NIfTI-2 or big-endian: leave it to the reader
  float offset = 0;
  std::memcpy(&offset, header + 108, 4);
  const uint64_t expected = static_cast<uint64_t>(offset) + io.GetImageSizeInBytes();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const auto size = static_cast<int64_t>(in.tellg());
  UNIPET_CHECK(size > 18, path << ": file is truncated");
  unsigned char tail[4];
  in.seekg(size - 4);
  in.read(reinterpret_cast<char*>(tail), 4);
  const uint32_t isize = tail[0] | (tail[1] << 8) | (tail[2] << 16) | (uint32_t(tail[3]) << 24);
  UNIPET_CHECK(isize == static_cast<uint32_t>(expected),
               path << ": file is truncated or corrupt (gzip stream does not hold the " << expected
                    << " bytes its NIfTI header describes)");
}

// Some ITK readers (MetaImage, uncompressed NIfTI) report a short read on stderr, or not at all,
// and return zeros instead of failing; check the file holds every voxel before reading.
// A .mhd header names a separate data file; uncompressed, it must hold every voxel.
void check_mhd_data_not_truncated(const itk::ImageIOBase& io, const std::string& path) {
  if (io.GetUseCompression()) return;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("ElementDataFile", 0) != 0) continue;
    std::string name = line.substr(line.find('=') + 1);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t\r") + 1);
    if (name == "LOCAL" || name.find_first_of("% ") != std::string::npos || name.rfind("LIST", 0) == 0)
      return;  // inline, or a list of slice files that ITK checks itself
    const fs::path data = fs::path(path).parent_path() / name;
    std::error_code ec;
    const auto bytes = fs::file_size(data, ec);
    UNIPET_CHECK(!ec, path << ": its data file " << data.string() << " is missing");
    UNIPET_CHECK(bytes >= static_cast<uintmax_t>(io.GetImageSizeInBytes()),
                 path << ": data file " << data.string() << " is truncated (" << bytes << " bytes, expected "
                      << io.GetImageSizeInBytes() << ")");
    return;
  }
}

void check_not_truncated(const itk::ImageIOBase& io, const std::string& path) {
  if (detail::ends_with_ci(path, ".mhd")) return check_mhd_data_not_truncated(io, path);
  const int64_t offset = voxel_data_offset(io, path);
  if (offset == -2) return check_gzip_nifti_not_truncated(io, path);
  if (offset < 0) return;
  const auto file_bytes = static_cast<int64_t>(fs::file_size(path));
  const auto voxel_bytes = static_cast<int64_t>(io.GetImageSizeInBytes());
  UNIPET_CHECK(file_bytes >= offset + voxel_bytes, path << ": file is truncated (" << file_bytes
                                                        << " bytes, expected " << offset + voxel_bytes
                                                        << ")");
}

}  // namespace

bool is_image_path(const std::string& path) {
  for (const char* ext : {".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr"})
    if (detail::ends_with_ci(path, ext)) return true;
  return false;
}

Volume read_image(const std::string& path) {
  silence_itk_warnings();
  std::error_code ec;
  UNIPET_CHECK(fs::exists(path, ec), path << ": no such file");
  UNIPET_CHECK(fs::is_regular_file(path, ec), path << ": not a file");
  auto io = image_io_for(path);
  UNIPET_CHECK(io->CanReadFile(path.c_str()),
               path << ": not a readable " << io->GetNameOfClass() << " file (corrupt or truncated?)");

  auto reader = itk::ImageFileReader<ItkVolume>::New();
  reader->SetImageIO(io);
  reader->SetFileName(path);
  ItkVolume::Pointer image;
  try {
    reader->UpdateOutputInformation();
    check_is_3d_scalar(*io, path);
    check_not_truncated(*io, path);
    reader->Update();
    image = reader->GetOutput();
  } catch (const itk::ExceptionObject& e) {
    UNIPET_FAIL(path << ": cannot read image (corrupt or truncated?): " << one_line(e));
  }

  const auto size = image->GetLargestPossibleRegion().GetSize();
  Volume volume;
  volume.data = torch::empty(
      {static_cast<int64_t>(size[2]), static_cast<int64_t>(size[1]), static_cast<int64_t>(size[0])},
      torch::kFloat32);
  // ITK's buffer is x-fastest, which is exactly a contiguous [D, H, W] tensor.
  std::memcpy(volume.data.data_ptr<float>(), image->GetBufferPointer(),
              sizeof(float) * static_cast<size_t>(volume.data.numel()));
  for (int i = 0; i < 3; ++i) {
    volume.spacing[i] = image->GetSpacing()[i];
    volume.origin[i] = image->GetOrigin()[i];
    for (int j = 0; j < 3; ++j) volume.direction[i * 3 + j] = image->GetDirection()[i][j];
  }
  volume.units = units_from_dictionary(io->GetMetaDataDictionary());
  volume.validate(path);
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
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    UNIPET_FAIL(path << ": cannot write image: " << one_line(e));
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(staging.dir()))
    if (entry.path().filename() != name) names.push_back(entry.path().filename().string());
  names.push_back(name);  // the header (or the only file) last
  staging.publish(names);
}

}  // namespace unipet::io
