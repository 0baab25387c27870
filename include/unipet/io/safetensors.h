#pragma once
/// A reader and writer for the safetensors format: an 8-byte little-endian header length N, N
/// bytes of JSON (per tensor: "dtype", "shape", "data_offsets" [begin, end) into the data
/// section; optional "__metadata__" of string values), then the raw little-endian data.
///
///   auto file = unipet::io::read_safetensors("model.safetensors");
///   torch::Tensor w = file.tensors.at("conv0.weight");
///   unipet::io::write_safetensors("copy.safetensors", file);
///
/// Every byte of the header is validated; any inconsistency is a unipet::Error naming the file
/// (or the `source` label) and the tensor at fault, never a crash: the parser is fuzzed.
#include <cstdint>
#include <map>
#include <string>

#include <torch/torch.h>

namespace unipet::io {

struct SafetensorsFile {
  std::map<std::string, torch::Tensor> tensors;      ///< CPU, contiguous, owned copies
  std::map<std::string, std::string> metadata;       ///< "__metadata__"
};

/// Parses safetensors bytes. `source` names the bytes in error messages (a file name).
/// Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& source);

/// Reads and parses a file; throws unipet::Error if it is missing, unreadable or invalid.
SafetensorsFile read_safetensors(const std::string& path);

/// Serialises tensors (moved to the CPU, made contiguous) in key order with `metadata`.
std::string serialize_safetensors(const SafetensorsFile& file);

/// Writes atomically: a temporary file in the same folder, renamed over `path` when complete.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace unipet::io
