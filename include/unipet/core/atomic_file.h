#pragma once
/// Crash-safe output: everything unipet writes goes to a temporary sibling first and is renamed
/// into place only when complete, so an interrupted run never leaves a truncated file.
///
///   unipet::write_file_atomically("model.safetensors", bytes);
///   auto tmp = unipet::temporary_sibling("out.nii.gz");  // ".out.nii.gz.tmp-1234-0" keeps the extension
#include <string>

namespace unipet {

/// A unique path in the folder of `path` whose name ends with the same extension(s), for writers
/// that choose a format by extension (ITK). The file is not created.
std::string temporary_sibling(const std::string& path);

/// Renames `temporary` over `path` (atomic on POSIX within one file system); removes `temporary`
/// and throws unipet::Error naming `path` on failure.
void commit_temporary(const std::string& temporary, const std::string& path);

/// Writes `bytes` to `path` through temporary_sibling and commit_temporary.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace unipet
