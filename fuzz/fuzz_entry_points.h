#pragma once
/// The code each libFuzzer harness runs on one input, shared with the regression test
/// (tests/fuzz/test_fuzz_regressions.cpp) so that a kept crashing input replays exactly what the
/// fuzzer ran.
///
///   bool accepted = unipet::fuzz::fuzz_image(bytes, size);   // false: rejected with unipet::Error
///
/// Every reader promises to reject bad bytes with unipet::Error. So an entry point returns true
/// when the reader accepted the bytes, false when it threw unipet::Error, and lets anything else
/// escape: to libFuzzer an escaping exception is a crash (abort), to the test a failure. A reader
/// that accepts its input must also read back what the matching writer makes of the result
/// (safetensors, dataset.json); a broken round trip throws std::logic_error.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

#include "unipet/core/error.h"
#include "unipet/io/dataset.h"
#include "unipet/io/pet_image.h"
#include "unipet/io/safetensors.h"

namespace unipet::fuzz {

/// fuzz_image: the first byte picks the format (modulo kImageFormats), the rest is the file.
/// "nii.gz (zipped here)" gzips the rest first, so the fuzzer mutates the NIfTI inside the gzip
/// stream instead of breaking its CRC; the pairs (.mhd/.raw, .nhdr/.raw) split the rest at the
/// first NUL byte into the text header and the data file image.raw.
enum class ImageFormat : uint8_t { Nii, NiiGz, NiiGzZippedHere, Mha, Nrrd, MhdPair, NhdrPair };
constexpr uint8_t kImageFormats = 7;

/// fuzz_dicom_series: the input is cut at each kDicomFileSeparator into at most kMaxDicomFiles
/// files of one folder.
constexpr const char* kDicomFileSeparator = "\n--unipet-next-file--\n";
constexpr size_t kMaxDicomFiles = 8;

namespace detail {

/// One folder per process, emptied before every input (inputs must not see each other's files).
inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("unipet-fuzz-" + std::to_string(::getpid()));
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Scratch scratch;
  return scratch.path;
}

inline std::filesystem::path fresh_scratch_dir() {
  const auto& dir = scratch_dir();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_file(const std::filesystem::path& path, const char* data, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(data, static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("fuzz: cannot write " + path.string());
}

inline void write_gzip_file(const std::filesystem::path& path, const char* data, size_t size) {
  gzFile gz = gzopen(path.c_str(), "wb");
  if (!gz) throw std::runtime_error("fuzz: cannot write " + path.string());
  // gzwrite takes an unsigned length; a zero-length write is fine and leaves an empty stream.
  const int written = gzwrite(gz, data, static_cast<unsigned>(size));
  gzclose(gz);
  if (size > 0 && written <= 0) throw std::runtime_error("fuzz: cannot gzip " + path.string());
}

inline void require(bool condition, const std::string& what) {
  if (!condition) throw std::logic_error("fuzz invariant broken: " + what);
}

inline bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const size_t bytes = static_cast<size_t>(a.numel()) * a.element_size();
  return bytes == 0 || std::memcmp(a.data_ptr(), b.data_ptr(), bytes) == 0;
}

inline bool same_subject(const io::DatasetSubject& a, const io::DatasetSubject& b) {
  return a.id == b.id && a.split == b.split && a.full_dose == b.full_dose && a.low_dose == b.low_dose &&
         a.images == b.images && a.numbers == b.numbers && a.strings == b.strings;
}

}  // namespace detail

/// parse_safetensors on the bytes; what it accepts must survive serialize + parse unchanged.
inline bool fuzz_safetensors(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  io::SafetensorsFile file;
  try {
    file = io::parse_safetensors(bytes, "fuzz.safetensors");
  } catch (const Error&) {
    return false;
  }
  const io::SafetensorsFile again = io::parse_safetensors(io::serialize_safetensors(file), "round trip");
  detail::require(again.metadata == file.metadata, "safetensors metadata changed in a round trip");
  detail::require(again.tensors.size() == file.tensors.size(), "safetensors lost tensors in a round trip");
  for (const auto& [name, tensor] : file.tensors) {
    auto it = again.tensors.find(name);
    detail::require(it != again.tensors.end() && detail::same_bytes(tensor, it->second),
                    "safetensors tensor '" + name + "' changed in a round trip");
  }
  return true;
}

/// read_dataset on the bytes as dataset.json; what it accepts, write_dataset must write and
/// read_dataset read back unchanged (write_dataset promises to enforce the reader's rules).
inline bool fuzz_dataset_json(const uint8_t* data, size_t size) {
  const auto dir = detail::fresh_scratch_dir();
  detail::write_file(dir / "dataset.json", reinterpret_cast<const char*>(data), size);
  io::Dataset dataset;
  try {
    dataset = io::read_dataset((dir / "dataset.json").string());
  } catch (const Error&) {
    return false;
  }
  const std::string copy = (dir / "copy" / "dataset.json").string();
  io::write_dataset(dataset, copy);
  const io::Dataset again = io::read_dataset(copy);
  detail::require(again.name == dataset.name && again.source == dataset.source &&
                      again.units == dataset.units && again.drfs == dataset.drfs &&
                      again.numbers == dataset.numbers && again.strings == dataset.strings,
                  "dataset.json study fields changed in a round trip");
  detail::require(again.subjects.size() == dataset.subjects.size(),
                  "dataset.json lost subjects in a round trip");
  for (size_t i = 0; i < again.subjects.size(); ++i) {
    detail::require(detail::same_subject(again.subjects[i], dataset.subjects[i]),
                    "dataset.json subject " + std::to_string(i) + " changed in a round trip");
  }
  return true;
}

/// describe_pet (read_image, value statistics, SUV availability) on an image file in the format
/// the first byte picks (see ImageFormat).
inline bool fuzz_image(const uint8_t* data, size_t size) {
  if (size == 0) return false;
  const auto format = static_cast<ImageFormat>(data[0] % kImageFormats);
  const char* body = reinterpret_cast<const char*>(data + 1);
  const size_t body_size = size - 1;
  const auto dir = detail::fresh_scratch_dir();
  std::filesystem::path path;
  switch (format) {
    case ImageFormat::Nii:
      path = dir / "image.nii";
      break;
    case ImageFormat::NiiGz:
      path = dir / "image.nii.gz";
      break;
    case ImageFormat::NiiGzZippedHere:
      path = dir / "image.nii.gz";
      break;
    case ImageFormat::Mha:
      path = dir / "image.mha";
      break;
    case ImageFormat::Nrrd:
      path = dir / "image.nrrd";
      break;
    case ImageFormat::MhdPair:
      path = dir / "image.mhd";
      break;
    case ImageFormat::NhdrPair:
      path = dir / "image.nhdr";
      break;
  }
  if (format == ImageFormat::NiiGzZippedHere) {
    detail::write_gzip_file(path, body, body_size);
  } else if (format == ImageFormat::MhdPair || format == ImageFormat::NhdrPair) {
    const char* nul = std::find(body, body + body_size, '\0');
    detail::write_file(path, body, static_cast<size_t>(nul - body));
    if (nul != body + body_size) {
      detail::write_file(dir / "image.raw", nul + 1, static_cast<size_t>(body + body_size - nul - 1));
    }
  } else {
    detail::write_file(path, body, body_size);
  }
  try {
    io::describe_pet(path.string());
  } catch (const Error&) {
    return false;
  }
  return true;
}

/// describe_pet (list_dicom_series, read_dicom_series, SUV from the tags) on a folder holding the
/// input cut into files at kDicomFileSeparator.
inline bool fuzz_dicom_series(const uint8_t* data, size_t size) {
  const auto dir = detail::fresh_scratch_dir() / "series";
  std::filesystem::create_directories(dir);
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string separator = kDicomFileSeparator;
  size_t begin = 0;
  for (size_t i = 0; i < kMaxDicomFiles; ++i) {
    size_t end = bytes.find(separator, begin);
    if (end == std::string::npos || i + 1 == kMaxDicomFiles) end = bytes.size();
    detail::write_file(dir / ("IM" + std::to_string(i)), bytes.data() + begin, end - begin);
    if (end == bytes.size()) break;
    begin = end + separator.size();
  }
  try {
    io::describe_pet(dir.string());
  } catch (const Error&) {
    return false;
  }
  return true;
}

}  // namespace unipet::fuzz
