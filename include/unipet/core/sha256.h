#pragma once
/// SHA-256 (FIPS 180-4) of bytes or of a file, as 64 lower-case hex digits: the identity of a
/// model file that derived images and sidecars record, so a reader can tell which model made them.
///
///   std::string id = unipet::sha256_file("models/unipet-default.safetensors");
#include <string>

namespace unipet {

/// SHA-256 of `bytes`.
std::string sha256_hex(const std::string& bytes);

/// SHA-256 of the file at `path`, read in blocks. Throws unipet::Error naming `path` when it
/// cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace unipet
