#pragma once
// A NIfTI-1 file built byte by byte, independent of ITK and of unipet's writer, so that tests can
// corrupt exactly one header field (in either byte order, gzipped or not).
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace unipet::test {

/// Field offsets of the 348-byte NIfTI-1 header.
namespace nifti1 {
constexpr size_t kDim = 40, kDatatype = 70, kBitpix = 72, kPixdim = 76, kVoxOffset = 108, kSclSlope = 112,
                 kSclInter = 116, kQformCode = 252, kSformCode = 254, kQuaternB = 256, kQoffsetX = 268,
                 kSrowX = 280, kSrowY = 296, kSrowZ = 312, kMagic = 344;
}

/// A float32 NIfTI-1 image of nx x ny x nz voxels (x fastest), 2 mm voxels, axis-aligned, with
/// consistent qform and sform (codes 1).
class NiftiBytes {
 public:
  NiftiBytes(int16_t nx, int16_t ny, int16_t nz, std::vector<float> values) : values_(std::move(values)) {
    using namespace nifti1;
    set<int32_t>(0, 348);
    const int16_t dims[8] = {3, nx, ny, nz, 1, 1, 1, 1};
    for (size_t i = 0; i < 8; ++i) set<int16_t>(kDim + 2 * i, dims[i]);
    set<int16_t>(kDatatype, 16).set<int16_t>(kBitpix, 32);
    const float pixdim[8] = {1, 2, 2, 2, 1, 1, 1, 1};
    for (size_t i = 0; i < 8; ++i) set<float>(kPixdim + 4 * i, pixdim[i]);
    set<float>(kVoxOffset, 352).set<float>(kSclSlope, 1).set<float>(kSclInter, 0);
    set<int16_t>(kQformCode, 1).set<int16_t>(kSformCode, 1);
    for (size_t i = 0; i < 6; ++i) set<float>(kQuaternB + 4 * i, i < 3 ? 0.0f : -10.0f);
    const float srow[3][4] = {{2, 0, 0, -10}, {0, 2, 0, -10}, {0, 0, 2, -10}};
    for (size_t r = 0; r < 3; ++r)
      for (size_t c = 0; c < 4; ++c) set<float>(kSrowX + 16 * r + 4 * c, srow[r][c]);
    fields_[kMagic] = std::string("n+1\0", 4);
  }

  /// Sets the field at byte `offset` (stored in this machine's order until bytes()).
  template <typename T>
  NiftiBytes& set(size_t offset, T value) {
    fields_[offset] = std::string(reinterpret_cast<const char*>(&value), sizeof(T));
    return *this;
  }
  NiftiBytes& set_raw(size_t offset, const std::string& raw) {
    fields_[offset] = raw;
    return *this;
  }

  /// The whole file: header, the 4-byte extension flag, then the voxels; `big_endian` swaps every
  /// numeric field and voxel, as a file written on a big-endian machine.
  std::string bytes(bool big_endian = false) const {
    std::string out(352, '\0');
    for (const auto& [offset, raw] : fields_) {
      std::string v = raw;
      if (big_endian && offset != nifti1::kMagic) std::reverse(v.begin(), v.end());
      out.replace(offset, v.size(), v);
    }
    for (float f : values_) {
      std::string v(reinterpret_cast<const char*>(&f), 4);
      if (big_endian) std::reverse(v.begin(), v.end());
      out += v;
    }
    return out;
  }

 private:
  std::map<size_t, std::string> fields_;
  std::vector<float> values_;
};

/// `bytes` as one gzip member (what a .nii.gz holds).
inline std::string gzip_bytes(const std::string& bytes) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, bytes.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// `bytes` as one zlib stream (what a compressed MetaImage holds).
inline std::string zlib_bytes(const std::string& bytes) {
  uLongf size = compressBound(bytes.size());
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(bytes.data()),
            bytes.size(), 6);
  out.resize(size);
  return out;
}

/// Float voxels as raw bytes (this machine's order).
inline std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

}  // namespace unipet::test
