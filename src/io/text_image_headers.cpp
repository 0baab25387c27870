#include "text_image_headers.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "byte_stream.h"
#include "unipet/core/text.h"
#include "unipet/core/error.h"

namespace unipet::io::detail {

namespace fs = std::filesystem;

namespace {

// A text header longer than this is not a header: stop instead of scanning a large binary file.
constexpr size_t kMaxHeaderBytes = size_t{1} << 20;
// Deflate cannot shrink data by more than about 1032:1; a smaller file cannot hold the voxels.
constexpr uint64_t kMaxDeflateRatio = 1032;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> tokens(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

std::string read_prefix(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  UNIPET_CHECK(in, path << ": cannot open");
  std::string text(kMaxHeaderBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

// A whole number in [min, max], or an error naming the field.
int64_t parse_integer(const std::string& text, const std::string& field, const std::string& path, int64_t min,
                      int64_t max) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  UNIPET_CHECK(used > 0 && used == text.size(),
               path << ": corrupt header: " << field << " '" << text << "' is not a whole number");
  UNIPET_CHECK(v >= min && v <= max, path << ": corrupt header: " << field << " is " << v << " (expected "
                                          << min << " to " << max << ")");
  return v;
}

// Sizes along each axis: positive, each fitting the readers' 32-bit fields, with a bounded product.
void check_sizes(const std::vector<std::string>& sizes, size_t expected_count, const std::string& field,
                 const std::string& path, int64_t max_voxels) {
  UNIPET_CHECK(sizes.size() == expected_count, path << ": corrupt header: " << field << " has "
                                                    << sizes.size() << " values for " << expected_count
                                                    << " dimensions");
  int64_t count = 1;
  for (const auto& s : sizes) {
    const int64_t n = parse_integer(s, field, path, 1, INT32_MAX);
    UNIPET_CHECK(n <= max_voxels / count,
                 path << ": image too large: its header declares more than " << max_voxels << " voxels");
    count *= n;
  }
}

// A data file named by a header: relative names are relative to the header's folder, and unless
// the caller allows it, the file must be inside that folder (after following symlinks), so that a
// downloaded header cannot make unipet read /etc/passwd or a neighbour's files.
std::string resolve_data_file(const std::string& header, const std::string& name, bool allow_external_data) {
  UNIPET_CHECK(!name.empty(), header << ": corrupt header: the data file name is empty");
  const fs::path dir = fs::path(header).has_parent_path() ? fs::path(header).parent_path() : fs::path(".");
  const fs::path file = fs::path(name).is_absolute() ? fs::path(name) : dir / name;
  std::error_code ec;
  if (!allow_external_data) {
    const fs::path real_dir = fs::weakly_canonical(dir, ec);
    const fs::path real_file = ec ? fs::path() : fs::weakly_canonical(file, ec);
    const fs::path relative = real_file.lexically_relative(real_dir);
    const bool inside = !ec && !relative.empty() && *relative.begin() != ".." && relative != ".";
    UNIPET_CHECK(inside, header << ": its data file '" << name
                                << "' is outside the header's folder; pass --allow-external-data "
                                   "(ReadImageOptions::allow_external_data) to read it");
  }
  UNIPET_CHECK(fs::exists(file, ec), header << ": its data file " << file.string() << " is missing");
  UNIPET_CHECK(fs::is_regular_file(file, ec),
               header << ": its data file " << file.string() << " is not a file");
  return file.string();
}

bool is_file_list_or_pattern(const std::string& value) {
  const auto t = tokens(value);
  if (!t.empty() && lower(t[0]) == "list") return true;
  return value.find('%') != std::string::npos && t.size() >= 4;
}

}  // namespace

VoxelData parse_metaimage_header(const std::string& path, bool allow_external_data, int64_t max_voxels) {
  const std::string text = read_prefix(path);
  std::map<std::string, std::string> fields;  // keys in lower case
  size_t pos = 0;
  bool found = false;
  while (pos < text.size() && !found) {
    const size_t eol = text.find('\n', pos);
    const std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = lower(trim(line.substr(0, eq)));
    fields[key] = trim(line.substr(eq + 1));
    found = key == "elementdatafile";  // the header's last line: voxels follow
  }
  UNIPET_CHECK(found, path << ": not a MetaImage file (no ElementDataFile line)");
  VoxelData d;
  d.header = path;
  d.file = path;
  d.offset = pos;

  const std::string ndims = fields.count("ndims") ? fields["ndims"] : "";
  UNIPET_CHECK(!ndims.empty(), path << ": corrupt header: NDims is missing");
  const int64_t dims = parse_integer(ndims, "NDims", path, 1, 16);
  check_sizes(tokens(fields["dimsize"]), static_cast<size_t>(dims), "DimSize", path, max_voxels);
  // MetaIO reports a missing or unknown type on stderr before failing; say it in one line instead.
  static const std::set<std::string> types = {"MET_CHAR",  "MET_UCHAR",     "MET_SHORT",      "MET_USHORT",
                                              "MET_INT",   "MET_UINT",      "MET_LONG",       "MET_ULONG",
                                              "MET_FLOAT", "MET_LONG_LONG", "MET_ULONG_LONG", "MET_DOUBLE"};
  UNIPET_CHECK(types.count(fields["elementtype"]) == 1, path << ": ElementType '" << fields["elementtype"]
                                                             << "' is missing or not a supported voxel type");
  UNIPET_CHECK(lower(fields["binarydata"]) != "false",
               path << ": BinaryData = False (voxels as text) is not supported; write the image in binary");
  if (lower(fields["compresseddata"]) == "true") {
    d.encoding = VoxelEncoding::Deflate;
    if (fields.count("compresseddatasize"))
      d.compressed_size = static_cast<uint64_t>(
          parse_integer(fields["compresseddatasize"], "CompressedDataSize", path, 1, INT64_MAX));
  }
  const std::string& name = fields["elementdatafile"];
  UNIPET_CHECK(!is_file_list_or_pattern(name),
               path << ": ElementDataFile = '" << name
                    << "' (one file per slice) is not supported; convert the image to a single .mha file");
  // ITK's MetaImage reader cannot find the end of attached compressed data without its size: it
  // reports "Uncompress failed" on stderr and returns whatever memory held.
  // MetaIO reads attached voxels only for these three spellings; "LOCAl" names a file.
  const bool attached = name == "LOCAL" || name == "Local" || name == "local";
  UNIPET_CHECK(d.encoding != VoxelEncoding::Deflate || d.compressed_size || !attached,
               path << ": CompressedData = True with ElementDataFile = LOCAL needs CompressedDataSize "
                       "(ITK writes it; this header lacks it)");
  if (!attached) {
    d.file = resolve_data_file(path, name, allow_external_data);
    d.offset = 0;
  }
  if (fields.count("headersize")) {
    const int64_t skip = parse_integer(fields["headersize"], "HeaderSize", path, -1, INT64_MAX);
    d.at_end = skip == -1;
    if (skip > 0 && d.file != path) d.offset = static_cast<uint64_t>(skip);
  }
  return d;
}

VoxelData parse_nrrd_header(const std::string& path, bool allow_external_data, int64_t max_voxels) {
  const std::string text = read_prefix(path);
  UNIPET_CHECK(text.rfind("NRRD000", 0) == 0, path << ": not a NRRD file (no NRRD000x magic)");
  std::map<std::string, std::string> fields;  // field names in lower case, without spaces
  size_t pos = text.find('\n');
  pos = pos == std::string::npos ? text.size() : pos + 1;
  bool blank_line = false;
  while (pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      blank_line = true;  // a blank line ends the header; attached voxels follow
      break;
    }
    if (line[0] == '#' || line.find(":=") != std::string::npos) continue;  // comment, key/value pair
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = lower(trim(line.substr(0, colon)));
    key.erase(std::remove(key.begin(), key.end(), ' '), key.end());
    fields[key] = trim(line.substr(colon + 1));
    // A LIST data file is followed by file names up to the end: nothing more to parse.
    if (key == "datafile" && is_file_list_or_pattern(fields[key])) break;
  }
  VoxelData d;
  d.header = path;
  d.file = path;
  d.offset = pos;

  const int64_t dims = parse_integer(fields["dimension"], "dimension", path, 1, 16);
  check_sizes(tokens(fields["sizes"]), static_cast<size_t>(dims), "sizes", path, max_voxels);
  const std::string encoding = lower(fields["encoding"]);
  if (encoding == "raw")
    d.encoding = VoxelEncoding::Raw;
  else if (encoding == "gz" || encoding == "gzip")
    d.encoding = VoxelEncoding::Deflate;
  else if (encoding == "txt" || encoding == "text" || encoding == "ascii")
    d.encoding = VoxelEncoding::Text;
  else if (encoding == "hex")
    d.encoding = VoxelEncoding::Hex;
  else
    UNIPET_FAIL(path << ": NRRD encoding '" << fields["encoding"]
                     << "' is not supported (raw, gzip, text or hex)");

  if (fields.count("datafile")) {
    const std::string& name = fields["datafile"];
    UNIPET_CHECK(!is_file_list_or_pattern(name),
                 path << ": data file '" << name
                      << "' (one file per slice) is not supported; convert the image to a single .nrrd file");
    d.file = resolve_data_file(path, name, allow_external_data);
    d.offset = 0;
  } else {
    UNIPET_CHECK(blank_line, path << ": no voxel data (the header names no data file and has no blank line "
                                     "before attached data)");
  }
  if (fields.count("lineskip"))
    parse_integer(fields["lineskip"], "line skip", path, 0, INT64_MAX);  // lines are at least one byte
  if (fields.count("byteskip")) {
    const int64_t skip = parse_integer(fields["byteskip"], "byte skip", path, -1, INT64_MAX);
    UNIPET_CHECK(skip >= 0 || d.encoding == VoxelEncoding::Raw,
                 path << ": corrupt header: byte skip -1 is only allowed with raw encoding");
    if (skip == -1) d.at_end = true;
    if (skip > 0 && d.encoding == VoxelEncoding::Deflate)
      d.skipped_after_inflate = static_cast<uint64_t>(skip);
    if (skip > 0 && d.encoding != VoxelEncoding::Deflate) d.offset += static_cast<uint64_t>(skip);
  }
  return d;
}

void check_voxel_data_present(const VoxelData& d, uint64_t bytes, uint64_t voxels) {
  std::error_code ec;
  const uint64_t file_bytes = fs::file_size(d.file, ec);
  UNIPET_CHECK(!ec, d.header << ": cannot read the size of " << d.file);
  const uint64_t present = file_bytes > d.offset ? file_bytes - d.offset : 0;
  const std::string where = d.file == d.header ? std::string() : " (in " + d.file + ")";
  switch (d.encoding) {
    case VoxelEncoding::Raw:
      UNIPET_CHECK((d.at_end ? file_bytes : present) >= bytes,
                   d.header << ": file is truncated (" << (d.at_end ? file_bytes : present)
                            << " bytes of voxel data" << where << ", expected " << bytes << ")");
      return;
    case VoxelEncoding::Text:
      // Every value takes at least one character and one separator (the last one none).
      UNIPET_CHECK(present + 1 >= 2 * voxels, d.header << ": file is truncated (" << present
                                                       << " bytes cannot hold " << voxels
                                                       << " values as text)");
      return;
    case VoxelEncoding::Hex:
      UNIPET_CHECK(present >= 2 * bytes, d.header << ": file is truncated (" << present
                                                  << " bytes cannot hold " << bytes << " bytes as hex)");
      return;
    case VoxelEncoding::Deflate:
      break;
  }
  uint64_t compressed = present;
  if (d.compressed_size) {
    UNIPET_CHECK(*d.compressed_size <= present, d.header << ": file is truncated (CompressedDataSize is "
                                                         << *d.compressed_size << " but only " << present
                                                         << " bytes follow" << where << ")");
    compressed = *d.compressed_size;
  }
  const uint64_t needed = bytes + d.skipped_after_inflate;
  UNIPET_CHECK(compressed * kMaxDeflateRatio >= needed,
               d.header << ": file is truncated (" << compressed << " compressed bytes" << where
                        << " cannot hold the " << needed << " bytes of voxels its header describes)");
  // Inflating once is the only way to know the voxels are all there and intact (the readers
  // would otherwise leave the rest of their buffer as it was, or skip the checksum).
  const uint64_t inflated = stream_bytes(
      d.file, d.offset, true, [](const char*, size_t) {}, compressed);
  UNIPET_CHECK(inflated >= needed, d.header << ": file is truncated (" << inflated
                                            << " bytes once decompressed" << where << ", expected " << needed
                                            << ")");
}

}  // namespace unipet::io::detail
