#pragma once
// A record of everything under a folder (type, size, bytes, mode), so a test can assert that a
// failed command changed nothing it did not own.
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "test_util.h"

namespace unipet::test {

using FsSnapshot = std::map<std::string, std::string>;

/// Every entry under `root` (relative path -> description including the file's bytes).
inline FsSnapshot snapshot(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  FsSnapshot out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path& p = it->path();
    const auto status = fs::symlink_status(p);
    std::ostringstream d;
    d << static_cast<int>(status.type()) << " " << static_cast<int>(status.permissions());
    if (fs::is_symlink(status)) d << " -> " << fs::read_symlink(p).string();
    if (fs::is_regular_file(status)) d << " " << fs::file_size(p) << " " << std::hash<std::string>{}(read_bytes(p));
    out[fs::relative(p, root).string()] = d.str();
  }
  return out;
}

/// Human-readable differences between two snapshots ("" when equal).
inline std::string snapshot_diff(const FsSnapshot& before, const FsSnapshot& after) {
  std::string diff;
  for (const auto& [path, what] : before) {
    const auto at = after.find(path);
    if (at == after.end()) diff += "removed " + path + "; ";
    else if (at->second != what) diff += "changed " + path + "; ";
  }
  for (const auto& [path, what] : after)
    if (!before.count(path)) diff += "added " + path + "; ";
  return diff;
}

}  // namespace unipet::test
