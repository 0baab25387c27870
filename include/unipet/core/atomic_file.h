#pragma once
/// Crash-safe output: everything unipet writes is produced under a temporary name in the target's
/// folder and moved into place only when complete, so an interrupted run or an error never leaves
/// a truncated file (or half a DICOM folder) where the user expects a result.
///
///   unipet::write_file_atomically("model.safetensors", bytes);
///
///   unipet::StagingDir staging("out.mhd");          // several files that belong together
///   write(staging.dir() / "out.raw"); write(staging.dir() / "out.mhd");
///   staging.publish({"out.raw", "out.mhd"});         // header last
#include <filesystem>
#include <string>
#include <vector>

namespace unipet {

/// A temporary folder beside `target` (same file system, so renames are atomic). Files written
/// into dir() are moved to the target's folder by publish(); anything left is deleted on
/// destruction.
class StagingDir {
 public:
  /// `target`: the final path of the file or folder being produced. Throws unipet::Error naming
  /// it when its folder does not exist or is not writable.
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

/// Writes `bytes` to `path` through a StagingDir.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace unipet
