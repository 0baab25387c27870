#include "unipet/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"

namespace unipet::io {
namespace {

static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE floats expected");

// The format is little-endian; so are every platform LibTorch ships for.
bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// A header larger than this is not a model or tensor file we produce or accept (the reference
// implementation uses the same 100 MB cap).
constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  size_t bytes;
};

const DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},      {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo& dtype_by_name(const std::string& name, const std::string& where) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return d;
  }
  UNIPET_FAIL(where << ": unsupported dtype '" << name << "'");
}

const DtypeInfo& dtype_by_type(torch::ScalarType type, const std::string& where) {
  for (const auto& d : kDtypes) {
    if (type == d.type) return d;
  }
  UNIPET_FAIL(where << ": cannot store dtype " << type << " in safetensors");
}

uint64_t read_u64_le(const std::string& bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

struct Span {
  uint64_t begin, end;
  std::string name;
};

// Product of the dimensions times the element size, refusing anything that overflows.
uint64_t checked_byte_count(const std::vector<int64_t>& shape, size_t element_bytes,
                            const std::string& where) {
  uint64_t count = element_bytes;
  for (int64_t d : shape) {
    UNIPET_CHECK(d >= 0, where << ": negative dimension " << d);
    UNIPET_CHECK(d == 0 || count <= std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d),
                 where << ": shape is too large");
    count *= static_cast<uint64_t>(d);
  }
  return count;
}

torch::Tensor parse_tensor(const std::string& name, const nlohmann::json& entry,
                           const char* data, uint64_t data_size, const std::string& source,
                           std::vector<Span>& spans) {
  const std::string where = source + ": tensor '" + name + "'";
  UNIPET_CHECK(entry.is_object(), where << ": entry is not an object");
  UNIPET_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), where << ": missing dtype");
  UNIPET_CHECK(entry.contains("shape") && entry["shape"].is_array(), where << ": missing shape");
  UNIPET_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
                   entry["data_offsets"].size() == 2,
               where << ": data_offsets must be [begin, end]");
  for (const auto& key : entry.items()) {
    UNIPET_CHECK(key.key() == "dtype" || key.key() == "shape" || key.key() == "data_offsets",
                 where << ": unexpected field '" << key.key() << "'");
  }
  const DtypeInfo& dtype = dtype_by_name(entry["dtype"].get<std::string>(), where);
  std::vector<int64_t> shape;
  for (const auto& d : entry["shape"]) {
    UNIPET_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
                 where << ": shape entries must be non-negative integers");
    UNIPET_CHECK(d.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                 where << ": dimension too large");
    shape.push_back(d.get<int64_t>());
  }
  const auto& offsets = entry["data_offsets"];
  UNIPET_CHECK(offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(),
               where << ": data_offsets must be non-negative integers");
  const uint64_t begin = offsets[0].get<uint64_t>();
  const uint64_t end = offsets[1].get<uint64_t>();
  UNIPET_CHECK(begin <= end, where << ": data_offsets begin " << begin << " > end " << end);
  UNIPET_CHECK(end <= data_size, where << ": data span [" << begin << ", " << end
                                       << ") runs past the end of the file (data section has "
                                       << data_size << " bytes; truncated?)");
  const uint64_t expected = checked_byte_count(shape, dtype.bytes, where);
  UNIPET_CHECK(expected == end - begin, where << ": shape " << torch::IntArrayRef(shape) << " × "
                                              << dtype.bytes << " bytes = " << expected
                                              << " but data_offsets span " << end - begin);
  spans.push_back({begin, end, name});
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(dtype.type));
  if (expected > 0) std::memcpy(t.data_ptr(), data + begin, expected);
  return t;
}

}  // namespace

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& source) {
  UNIPET_CHECK(host_is_little_endian(), "safetensors needs a little-endian host");
  UNIPET_CHECK(bytes.size() >= 8, source << ": not a safetensors file (only " << bytes.size()
                                         << " bytes; truncated?)");
  const uint64_t header_size = read_u64_le(bytes);
  UNIPET_CHECK(header_size <= kMaxHeaderBytes,
               source << ": header length " << header_size << " is implausible (corrupt file?)");
  UNIPET_CHECK(header_size <= bytes.size() - 8, source << ": header length " << header_size
                                                       << " exceeds the file size " << bytes.size()
                                                       << " (truncated?)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + header_size);
  } catch (const nlohmann::json::exception& e) {
    UNIPET_FAIL(source << ": header is not valid JSON (" << e.what() << ")");
  }
  UNIPET_CHECK(header.is_object(), source << ": header is not a JSON object");

  SafetensorsFile file;
  const char* data = bytes.data() + 8 + header_size;
  const uint64_t data_size = bytes.size() - 8 - header_size;
  std::vector<Span> spans;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") {
      UNIPET_CHECK(item.value().is_object(), source << ": __metadata__ is not an object");
      for (const auto& m : item.value().items()) {
        UNIPET_CHECK(m.value().is_string(),
                     source << ": __metadata__ value '" << m.key() << "' is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    file.tensors[item.key()] = parse_tensor(item.key(), item.value(), data, data_size, source, spans);
  }
  // The format requires the spans to tile the data section exactly: no overlap, no hole.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t cursor = 0;
  for (const Span& s : spans) {
    UNIPET_CHECK(s.begin >= cursor, source << ": tensor '" << s.name << "' overlaps another tensor");
    UNIPET_CHECK(s.begin == cursor, source << ": unused bytes before tensor '" << s.name << "'");
    cursor = s.end;
  }
  UNIPET_CHECK(cursor == data_size, source << ": " << data_size - cursor
                                           << " trailing bytes after the last tensor");
  return file;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  UNIPET_CHECK(in.good(), path << ": cannot open file");
  std::ostringstream content;
  content << in.rdbuf();
  UNIPET_CHECK(!in.bad(), path << ": read error");
  return parse_safetensors(content.str(), path);
}

std::string serialize_safetensors(const SafetensorsFile& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::vector<torch::Tensor> payload;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    UNIPET_CHECK(tensor.defined(), "safetensors: tensor '" << name << "' is undefined");
    const DtypeInfo& dtype = dtype_by_type(tensor.scalar_type(), "safetensors: tensor '" + name + "'");
    torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(cpu.numel()) * dtype.bytes;
    header[name] = {{"dtype", dtype.name},
                    {"shape", cpu.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    payload.push_back(cpu);
  }
  std::string json = header.dump();
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  json.append((8 - (json.size() % 8)) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += json;
  out.reserve(out.size() + offset);
  for (const auto& t : payload) {
    out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  }
  return out;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  write_file_atomically(path, serialize_safetensors(file));
}

}  // namespace unipet::io
