#pragma once
// Internal to src/io: checks of MetaImage (.mha/.mhd) and NRRD (.nrrd/.nhdr) text headers, made
// before ITK opens the file, so that a header cannot make the reader allocate memory the data
// cannot fill, read a data file the user did not hand over, or leave voxels unread.
#include <cstdint>
#include <optional>
#include <string>

namespace unipet::io::detail {

/// How the voxel bytes are stored.
enum class VoxelEncoding { Raw, Deflate, Text, Hex };

/// Where a header says its voxels are.
struct VoxelData {
  std::string header;                  ///< the header file, for messages
  std::string file;                    ///< the file holding the voxels (the header itself when attached)
  uint64_t offset = 0;                 ///< first voxel byte in `file` (after the header and any skip)
  bool at_end = false;                 ///< the voxels are the last bytes of `file` (HeaderSize/byte skip -1)
  uint64_t skipped_after_inflate = 0;  ///< NRRD byte skip applied to the decompressed bytes
  VoxelEncoding encoding = VoxelEncoding::Raw;
  std::optional<uint64_t> compressed_size;  ///< MetaImage CompressedDataSize, when given
};

/// Parses the MetaImage header `path`: DimSize (each 1..2^31-1, product at most `max_voxels`),
/// BinaryData, CompressedData(Size), HeaderSize and ElementDataFile (LOCAL or one file; lists and
/// file patterns are refused). Throws unipet::Error naming `path` and the field.
VoxelData parse_metaimage_header(const std::string& path, bool allow_external_data, int64_t max_voxels);

/// Parses the NRRD header `path` (attached .nrrd or detached .nhdr): sizes, encoding (raw, gzip,
/// text, hex), data file (one file; lists and patterns are refused), line and byte skip.
VoxelData parse_nrrd_header(const std::string& path, bool allow_external_data, int64_t max_voxels);

/// Checks that `data` holds `bytes` bytes of voxels before anything is allocated for them: raw
/// data by its size; compressed data by inflating it once (which also verifies its checksum);
/// text and hex data by a lower bound on their size. Throws unipet::Error naming the header.
void check_voxel_data_present(const VoxelData& data, uint64_t bytes, uint64_t voxels);

}  // namespace unipet::io::detail
