#include "nifti_header.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#include <zlib.h>

#include "byte_stream.h"
#include "unipet/core/error.h"

namespace unipet::io::detail {

namespace {

// Where the fields live in each header version (offsets in bytes; NIfTI-1 stores them as
// int16/float32, NIfTI-2 as int64/float64).
struct Fields {
  size_t header_size, dim, datatype, bitpix, pixdim, vox_offset, scl_slope, scl_inter, qform_code, sform_code,
      quatern, srow;
  int64_t min_vox_offset;  // header plus the 4-byte extension flag
};
constexpr Fields kNifti1{348, 40, 70, 72, 76, 108, 112, 116, 252, 254, 256, 280, 352};
constexpr Fields kNifti2{540, 16, 12, 14, 104, 168, 176, 184, 344, 348, 352, 400, 544};

// gzip's deflate cannot shrink data by more than about 1032:1, so a compressed file this much
// smaller than its header's promise cannot hold the voxels; refusing early avoids inflating it.
constexpr uint64_t kMaxDeflateRatio = 1032;

class Header {
 public:
  Header(std::string bytes, int version, bool swapped)
      : bytes_(std::move(bytes)),
        fields_(version == 1 ? kNifti1 : kNifti2),
        version_(version),
        swapped_(swapped) {}

  template <typename T>
  T get(size_t offset) const {
    T value;
    char raw[sizeof(T)];
    std::memcpy(raw, bytes_.data() + offset, sizeof(T));
    if (swapped_) std::reverse(raw, raw + sizeof(T));
    std::memcpy(&value, raw, sizeof(T));
    return value;
  }
  // An integer field: int16 in NIfTI-1, int64 in NIfTI-2 (dim, vox_offset) or int32 (codes).
  int64_t integer(size_t offset, bool is_code = false) const {
    if (version_ == 1) return get<int16_t>(offset);
    return is_code ? get<int32_t>(offset) : get<int64_t>(offset);
  }
  std::string raw(size_t offset, size_t count) const { return bytes_.substr(offset, count); }
  double real(size_t offset) const { return version_ == 1 ? get<float>(offset) : get<double>(offset); }
  size_t real_size() const { return version_ == 1 ? 4 : 8; }
  const Fields& fields() const { return fields_; }
  int version() const { return version_; }
  bool swapped() const { return swapped_; }

 private:
  std::string bytes_;
  Fields fields_;
  int version_;
  bool swapped_;
};

std::string format_value(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// Bytes per voxel of each NIfTI datatype code (0: unknown code).
int64_t bytes_per_voxel(int16_t datatype) {
  // uint8, int16, int32, float32, complex64, float64, rgb24, int8, uint16, uint32, int64, uint64,
  // float128, complex128, complex256, rgba32.
  static const std::map<int16_t, int64_t> sizes = {
      {2, 1},   {4, 2},   {8, 4},    {16, 4},   {32, 8},    {64, 8},    {128, 3},   {256, 1},
      {512, 2}, {768, 4}, {1024, 8}, {1280, 8}, {1536, 16}, {1792, 16}, {2048, 32}, {2304, 4}};
  const auto it = sizes.find(datatype);
  return it == sizes.end() ? 0 : it->second;
}

Header read_header(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");  // reads uncompressed files as they are
  UNIPET_CHECK(gz != nullptr, path << ": cannot open");
  std::string bytes(kNifti2.header_size, '\0');
  const int got = gzread(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  // zlib inflates ahead of what was asked, so a small file's CRC is already checked here.
  int status = Z_OK;
  const std::string zlib_message = got < 0 ? gzerror(gz, &status) : "";
  gzclose(gz);
  UNIPET_CHECK(got >= 0, path << ": compressed data is corrupt (" << zlib_message << ")");
  UNIPET_CHECK(got >= 4, path << ": not a NIfTI file (too short)");
  int32_t size = 0;
  std::memcpy(&size, bytes.data(), 4);
  int32_t swapped_size = size;
  std::reverse(reinterpret_cast<char*>(&swapped_size), reinterpret_cast<char*>(&swapped_size) + 4);
  const int32_t header_size = size == 348 || size == 540 ? size : swapped_size;
  UNIPET_CHECK(header_size == 348 || header_size == 540,
               path << ": not a NIfTI file (sizeof_hdr is " << size << ", expected 348 or 540)");
  UNIPET_CHECK(got >= header_size,
               path << ": file is truncated (" << got << " header bytes of " << header_size << ")");
  bytes.resize(static_cast<size_t>(header_size));
  return Header(std::move(bytes), header_size == 348 ? 1 : 2, header_size != size);
}

void check_magic(const Header& h, const std::string& path, const std::string& raw_magic) {
  const std::string magic = raw_magic.substr(0, raw_magic.find('\0'));
  const std::string single = h.version() == 1 ? "n+1" : "n+2";
  if (magic == single) return;
  UNIPET_CHECK(magic != (h.version() == 1 ? "ni1" : "ni2"),
               path << ": a header-only NIfTI (magic '" << magic
                    << "') whose voxels are in a separate .img file is not supported; convert it "
                       "to a single .nii file");
  UNIPET_FAIL(path << ": not a single-file NIfTI (magic is '" << magic << "', expected '" << single
                   << "'; ANALYZE 7.5 files are not supported)");
}

int64_t check_dims(const Header& h, const std::string& path, int64_t max_voxels) {
  const auto& f = h.fields();
  const size_t step = h.version() == 1 ? 2 : 8;
  const int64_t ndim = h.integer(f.dim);
  UNIPET_CHECK(ndim >= 1 && ndim <= 7,
               path << ": corrupt NIfTI header: dim[0] is " << ndim << " (expected 1 to 7)");
  int64_t count = 1;
  for (int64_t i = 1; i <= ndim; ++i) {
    const int64_t n = h.integer(f.dim + step * static_cast<size_t>(i));
    UNIPET_CHECK(n >= 1, path << ": corrupt NIfTI header: dim[" << i << "] is " << n);
    UNIPET_CHECK(n <= max_voxels / count,
                 path << ": image too large: its header declares more than " << max_voxels << " voxels");
    count *= n;
  }
  return count;
}

// A geometry field as a number ITK's matrix code can take: finite, not subnormal (LINPACK's SVD
// fails on those and prints a matrix on stderr) and below 1e10 mm in size.
double geometry_number(const Header& h, size_t offset, const std::string& name, const std::string& code,
                       const std::string& path) {
  const double v = h.real(offset);
  const bool subnormal = h.version() == 1 ? std::fpclassify(h.get<float>(offset)) == FP_SUBNORMAL
                                          : std::fpclassify(v) == FP_SUBNORMAL;
  UNIPET_CHECK(std::isfinite(v) && !subnormal && std::abs(v) < 1e10,
               path << ": corrupt NIfTI header: " << name << " is " << format_value(v) << code);
  return v;
}

void check_geometry(const Header& h, const std::string& path) {
  const auto& f = h.fields();
  const int64_t qform_code = h.integer(f.qform_code, true), sform_code = h.integer(f.sform_code, true);
  const std::string q = " (qform_code " + std::to_string(qform_code) + ")";
  const std::string s = " (sform_code " + std::to_string(sform_code) + ")";
  const int64_t ndim = h.integer(f.dim);
  const size_t r = h.real_size();
  for (int64_t i = 1; i <= std::min<int64_t>(3, ndim); ++i) {
    const std::string name = "pixdim[" + std::to_string(i) + "]";
    const double v = geometry_number(h, f.pixdim + r * static_cast<size_t>(i), name, q, path);
    UNIPET_CHECK(v > 0, path << ": corrupt NIfTI header: " << name << " is " << format_value(v)
                             << " (the voxel size must be positive)" << q);
  }
  geometry_number(h, f.pixdim, "pixdim[0] (qfac)", q, path);
  const char* quatern_names[] = {"quatern_b", "quatern_c", "quatern_d",
                                 "qoffset_x", "qoffset_y", "qoffset_z"};
  for (size_t i = 0; i < 6; ++i) geometry_number(h, f.quatern + r * i, quatern_names[i], q, path);
  const char* rows[] = {"srow_x", "srow_y", "srow_z"};
  double m[3][4];
  for (size_t row = 0; row < 3; ++row)
    for (size_t c = 0; c < 4; ++c)
      m[row][c] = geometry_number(h, f.srow + r * (4 * row + c),
                                  std::string(rows[row]) + "[" + std::to_string(c) + "]", s, path);
  if (sform_code <= 0) return;
  // The reader derives the direction from the sform's columns; a zero or degenerate column has
  // no direction and makes ITK's matrix code fail or abort.
  double norm[3];
  for (int c = 0; c < 3; ++c) norm[c] = std::sqrt(m[0][c] * m[0][c] + m[1][c] * m[1][c] + m[2][c] * m[2][c]);
  const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  UNIPET_CHECK(
      norm[0] > 0 && norm[1] > 0 && norm[2] > 0 && std::abs(det) > 1e-6 * norm[0] * norm[1] * norm[2],
      path << ": corrupt NIfTI header: the sform (srow_x, srow_y, srow_z) is singular" << s);
}

void check_scaling_and_offset(const Header& h, const std::string& path, NiftiLayout& layout) {
  const auto& f = h.fields();
  layout.slope = h.real(f.scl_slope);
  layout.intercept = h.real(f.scl_inter);
  UNIPET_CHECK(std::isfinite(layout.slope),
               path << ": corrupt NIfTI header: scl_slope is " << format_value(layout.slope));
  UNIPET_CHECK(std::isfinite(layout.intercept),
               path << ": corrupt NIfTI header: scl_inter is " << format_value(layout.intercept));
  if (h.version() == 1) {
    const double offset = h.get<float>(f.vox_offset);
    UNIPET_CHECK(
        std::isfinite(offset) && offset == std::floor(offset) && offset >= f.min_vox_offset && offset < 9e15,
        path << ": corrupt NIfTI header: vox_offset is " << format_value(offset)
             << " (a single-file NIfTI-1 needs a whole number >= 352: the voxels follow the header)");
    layout.voxel_offset = static_cast<int64_t>(offset);
  } else {
    layout.voxel_offset = h.get<int64_t>(f.vox_offset);
    UNIPET_CHECK(layout.voxel_offset >= f.min_vox_offset,
                 path << ": corrupt NIfTI header: vox_offset is " << layout.voxel_offset
                      << " (a single-file NIfTI-2 needs >= 544: the voxels follow the header)");
  }
}

bool is_float_type(int16_t datatype) { return datatype == 16 || datatype == 64; }

// Calls `on_value(index, value)` for every voxel of a float32/float64 file, in file order.
template <typename OnValue>
uint64_t for_each_float_voxel(const std::string& path, const NiftiLayout& layout, OnValue on_value) {
  const uint64_t start = static_cast<uint64_t>(layout.voxel_offset);
  const uint64_t end = start + static_cast<uint64_t>(layout.voxel_count * layout.bytes_per_voxel);
  const bool is_float = is_float_type(layout.datatype);
  const size_t width = static_cast<size_t>(layout.bytes_per_voxel);
  uint64_t position = 0;
  int64_t index = 0;
  char partial[8];
  size_t partial_bytes = 0;  // a value split across two chunks
  auto value_of = [&](const char* raw) {
    char bytes[8];
    std::memcpy(bytes, raw, width);
    if (layout.swapped) std::reverse(bytes, bytes + width);
    if (width == 4) {
      float v;
      std::memcpy(&v, bytes, 4);
      return static_cast<double>(v);
    }
    double v;
    std::memcpy(&v, bytes, 8);
    return v;
  };
  const uint64_t total = stream_bytes(path, 0, layout.gzipped, [&](const char* bytes, size_t count) {
    const uint64_t chunk_end = position + count;
    if (is_float && chunk_end > start && position < end) {
      const size_t from = static_cast<size_t>(std::max(start, position) - position);
      const size_t to = static_cast<size_t>(std::min(end, chunk_end) - position);
      size_t i = from;
      while (partial_bytes > 0 && i < to) {
        partial[partial_bytes++] = bytes[i++];
        if (partial_bytes == width) {
          on_value(index++, value_of(partial));
          partial_bytes = 0;
        }
      }
      for (; i + width <= to; i += width) on_value(index++, value_of(bytes + i));
      for (; i < to; ++i) partial[partial_bytes++] = bytes[i];
    }
    position = chunk_end;
  });
  return total;
}

}  // namespace

NiftiLayout check_nifti_header(const std::string& path, int64_t max_voxels) {
  NiftiLayout layout;
  layout.gzipped = starts_with_gzip_magic(path);
  const Header h = read_header(path);
  layout.version = h.version();
  layout.swapped = h.swapped();
  check_magic(h, path, h.version() == 1 ? h.raw(344, 4) : h.raw(4, 8));
  layout.voxel_count = check_dims(h, path, max_voxels);
  layout.datatype = h.get<int16_t>(h.fields().datatype);
  layout.bytes_per_voxel = bytes_per_voxel(layout.datatype);
  UNIPET_CHECK(layout.bytes_per_voxel > 0,
               path << ": corrupt NIfTI header: unknown datatype " << layout.datatype);
  const int16_t bitpix = h.get<int16_t>(h.fields().bitpix);
  UNIPET_CHECK(bitpix == layout.bytes_per_voxel * 8, path << ": corrupt NIfTI header: bitpix is " << bitpix
                                                          << " but datatype " << layout.datatype << " has "
                                                          << layout.bytes_per_voxel * 8 << " bits");
  check_geometry(h, path);
  check_scaling_and_offset(h, path, layout);

  const auto file_bytes = static_cast<uint64_t>(std::filesystem::file_size(path));
  const uint64_t expected = static_cast<uint64_t>(layout.voxel_offset) +
                            static_cast<uint64_t>(layout.voxel_count * layout.bytes_per_voxel);
  if (layout.gzipped)
    UNIPET_CHECK(file_bytes * kMaxDeflateRatio >= expected,
                 path << ": file is truncated (" << file_bytes << " compressed bytes cannot hold the "
                      << expected << " bytes its header describes)");
  else
    UNIPET_CHECK(file_bytes >= expected,
                 path << ": file is truncated (" << file_bytes << " bytes, expected " << expected << ")");
  return layout;
}

NonFiniteCount check_nifti_voxels(const std::string& path, const NiftiLayout& layout) {
  NonFiniteCount count;
  // An uncompressed file of integers was fully checked by its size; nothing more to learn.
  if (!layout.gzipped && !is_float_type(layout.datatype)) return count;
  const uint64_t total = for_each_float_voxel(path, layout, [&](int64_t, double v) {
    if (std::isnan(v)) ++count.nan;
    if (std::isinf(v)) ++count.inf;
  });
  const uint64_t expected = static_cast<uint64_t>(layout.voxel_offset) +
                            static_cast<uint64_t>(layout.voxel_count * layout.bytes_per_voxel);
  UNIPET_CHECK(total >= expected, path << ": file is truncated (" << total << " bytes"
                                       << (layout.gzipped ? " once decompressed" : "") << ", expected "
                                       << expected << ")");
  return count;
}

void restore_nifti_non_finite(const std::string& path, const NiftiLayout& layout, float* voxels) {
  // niftilib zeroes the raw value, then ITK scales it; scale the original the same way.
  const bool scaled = layout.slope != 0;
  for_each_float_voxel(path, layout, [&](int64_t index, double v) {
    if (std::isfinite(v)) return;
    voxels[index] = static_cast<float>(scaled ? v * layout.slope + layout.intercept : v);
  });
}

}  // namespace unipet::io::detail
