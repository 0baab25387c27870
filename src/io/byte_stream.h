#pragma once
// Internal to src/io: one streaming pass over a file's bytes, decompressing zlib or gzip data on
// the way, for the checks that must see every byte before (or instead of) ITK.
#include <cstdint>
#include <functional>
#include <string>

namespace unipet::io::detail {

/// Receives consecutive chunks of the (decompressed) bytes.
using ByteVisitor = std::function<void(const char* bytes, size_t count)>;

/// Streams `path` from byte `offset` to its end, or through at most `length` bytes of the file,
/// through `visit` (1 MiB at a time) and returns the number of bytes visited. With `compressed`, the bytes
/// from `offset` must be one or more zlib or gzip streams: they are inflated, and each stream's trailer
/// (CRC-32 or Adler-32, and length) is verified, so a corrupt or truncated stream throws unipet::Error naming
/// `path`. Bytes after the last complete stream are ignored, as gzip does.
uint64_t stream_bytes(const std::string& path, uint64_t offset, bool compressed, const ByteVisitor& visit,
                      uint64_t length = UINT64_MAX);

/// True when the file starts with the gzip magic bytes 1f 8b.
bool starts_with_gzip_magic(const std::string& path);

}  // namespace unipet::io::detail
