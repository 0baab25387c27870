#include "byte_stream.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <vector>

#include <zlib.h>

#include "unipet/core/error.h"

namespace unipet::io::detail {

namespace {

constexpr size_t kChunk = size_t{1} << 20;

// zlib's z_stream must be released on every path, including a throwing visitor.
struct Inflater {
  z_stream z{};
  Inflater() {
    // 15 + 32: accept a zlib or a gzip header, whichever the data has (MetaImage writes zlib,
    // NIfTI and NRRD gzip).
    UNIPET_CHECK(inflateInit2(&z, 15 + 32) == Z_OK, "zlib: cannot initialise inflate");
  }
  ~Inflater() { inflateEnd(&z); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

// A file read from its current position through at most `remaining` bytes.
struct BoundedInput {
  std::ifstream& in;
  uint64_t remaining;
  size_t read(char* buffer, size_t size) {
    const auto wanted = static_cast<std::streamsize>(std::min<uint64_t>(size, remaining));
    if (wanted == 0 || !in) return 0;
    in.read(buffer, wanted);
    const auto got = static_cast<size_t>(in.gcount());
    remaining -= got;
    return got;
  }
};

uint64_t stream_raw(BoundedInput in, const ByteVisitor& visit) {
  std::vector<char> buffer(kChunk);
  uint64_t total = 0;
  while (true) {
    const size_t got = in.read(buffer.data(), buffer.size());
    if (got == 0) break;
    visit(buffer.data(), got);
    total += got;
  }
  return total;
}

uint64_t stream_inflated(BoundedInput in, const std::string& path, const ByteVisitor& visit) {
  std::vector<unsigned char> input(kChunk), output(kChunk);
  Inflater inflater;
  z_stream& z = inflater.z;
  uint64_t total = 0;
  bool in_stream = true;  // inside a stream that has not reached its trailer yet
  bool eof = false;
  while (true) {
    if (z.avail_in == 0 && !eof) {
      z.next_in = input.data();
      z.avail_in = static_cast<uInt>(in.read(reinterpret_cast<char*>(input.data()), input.size()));
      eof = z.avail_in == 0;
    }
    if (z.avail_in == 0 && eof) break;
    if (!in_stream) {
      // Another gzip member may follow (concatenated .gz files are valid); anything else is
      // trailing padding, which gzip itself ignores.
      if (z.next_in[0] != 0x1f || (z.avail_in > 1 && z.next_in[1] != 0x8b)) break;
      UNIPET_CHECK(inflateReset(&z) == Z_OK, path << ": zlib: cannot reset inflate");
      in_stream = true;
    }
    z.next_out = output.data();
    z.avail_out = static_cast<uInt>(output.size());
    const int status = inflate(&z, Z_NO_FLUSH);
    const size_t produced = output.size() - z.avail_out;
    if (produced > 0) visit(reinterpret_cast<const char*>(output.data()), produced);
    total += produced;
    if (status == Z_STREAM_END) {
      in_stream = false;
      continue;
    }
    UNIPET_CHECK(status == Z_OK || (status == Z_BUF_ERROR && z.avail_in == 0 && !eof),
                 path << ": compressed data is corrupt ("
                      << (z.msg ? z.msg : "zlib error " + std::to_string(status)) << ")");
  }
  UNIPET_CHECK(total > 0 || !in_stream, path << ": compressed data is empty or corrupt");
  UNIPET_CHECK(!in_stream, path << ": compressed data is truncated (the stream ends before its end marker)");
  return total;
}

}  // namespace

uint64_t stream_bytes(const std::string& path, uint64_t offset, bool compressed, const ByteVisitor& visit,
                      uint64_t length) {
  std::ifstream in(path, std::ios::binary);
  UNIPET_CHECK(in, path << ": cannot open");
  in.seekg(static_cast<std::streamoff>(offset));
  UNIPET_CHECK(in, path << ": cannot seek to byte " << offset);
  const BoundedInput input{in, length};
  return compressed ? stream_inflated(input, path, visit) : stream_raw(input, visit);
}

bool starts_with_gzip_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[2] = {};
  in.read(reinterpret_cast<char*>(magic), 2);
  return in.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

}  // namespace unipet::io::detail
