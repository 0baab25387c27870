#pragma once
// Internal to src/io: write outputs under a temporary name and publish them only when complete, so
// an error never leaves a partial file (or DICOM folder) where the user expects a result.
#include <filesystem>
#include <string>
#include <vector>

namespace unipet::io::detail {

/// A temporary folder beside `target` (same filesystem, so renames are atomic). Files written into
/// `dir()` are moved to `target`'s folder by publish(); anything left is deleted on destruction.
class StagingDir {
 public:
  /// `target`: the final path of the file or folder being produced.
  explicit StagingDir(const std::filesystem::path& target);
  ~StagingDir();
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  /// Moves `names` (files or folders in dir()) into the target's folder, in the given order, each
  /// replacing what was there. Put a header last so readers never see it before its data.
  void publish(const std::vector<std::string>& names);

 private:
  std::filesystem::path dir_;
  std::filesystem::path destination_;
};

/// Lower-case copy of `text`.
std::string lower(std::string text);

/// True when `path` ends with `suffix`, ignoring case.
bool ends_with_ci(const std::string& path, const std::string& suffix);

}  // namespace unipet::io::detail
