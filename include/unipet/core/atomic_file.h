#pragma once
/// Safe output: the one place that decides whether unipet may write somewhere, and how.
///
/// Everything unipet writes is produced under a temporary name in the target's folder, checked,
/// synced to disk, and moved into place only when complete, so an interrupted run, a full disk
/// or an error never leaves a truncated file (or half a DICOM folder) where the user expects a
/// result. Nothing that is not a file unipet would replace is ever removed: an existing folder
/// where a file is wanted, a non-empty folder, the input itself or a folder holding the input is
/// refused with one line naming it.
///
///   unipet::check_output_path("out.nii.gz", {unipet::OutputKind::File, {"in.nii.gz"}});
///   unipet::write_file_atomically("model.safetensors", bytes);
///
///   unipet::StagingDir staging("out.mhd");          // several files that belong together
///   write(staging.dir() / "out.raw"); write(staging.dir() / "out.mhd");
///   staging.publish({"out.raw", "out.mhd"});         // header last
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace unipet {

/// What an output path will hold.
enum class OutputKind {
  File,   ///< replaces a regular file (or a symlink to one), never anything else
  Folder  ///< a new folder, or an existing empty one
};

/// How an output path is checked by check_output_path.
struct OutputCheck {
  // A constructor rather than an aggregate, so callers can write {kind} or {kind, inputs}.
  OutputCheck(OutputKind kind_ = OutputKind::File, std::vector<std::filesystem::path> inputs_ = {},
              bool existing_folder_is_ours_ = false)
      : kind(kind_), inputs(std::move(inputs_)), existing_folder_is_ours(existing_folder_is_ours_) {}

  OutputKind kind = OutputKind::File;
  /// Paths the command reads: the target may not be one of them nor a folder holding one.
  std::vector<std::filesystem::path> inputs;
  /// Folder: accept an existing non-empty folder, because the caller has recognised it as its
  /// own earlier output (e.g. `simulate` resuming). Its contents are still never removed.
  bool existing_folder_is_ours = false;
};

/// The one "may I write here" rule of every writer. Throws unipet::Error naming `target` when
/// it exists and is not what `check` allows (see OutputKind), when it is one of the inputs, a
/// folder holding one or a path inside an input folder, or when its folder does not exist.
void check_output_path(const std::filesystem::path& target, const OutputCheck& check = {});

/// The inputs part of check_output_path alone, for an output that may not exist yet nor have
/// its folder (a folder of studies' output root): `target` is none of `inputs`, holds none of
/// them and lies inside no input folder.
void check_apart_from_inputs(const std::filesystem::path& target, const std::vector<std::filesystem::path>& inputs);

/// fsync(2) of a file, or of a folder (`directory`: its entries, after a rename into it). Throws
/// unipet::Error naming `path`; a folder on a file system that cannot sync folders is let pass.
void fsync_path(const std::filesystem::path& path, bool directory);

/// True for the names StagingDir gives its temporary folders (".unipet-tmp-..."), so listings
/// of a folder can skip them: they are never results.
bool is_staging_name(const std::string& filename);

/// A temporary folder beside `target` (same file system, so renames are atomic). Files written
/// into dir() are synced and moved to the target's folder by publish(); anything left is deleted
/// on destruction. Creating one also removes staging folders that killed unipet processes left
/// in the same folder.
class StagingDir {
 public:
  /// `target`: the final path of the file or folder being produced; checked with
  /// check_output_path(target, {kind}). Throws unipet::Error naming it when it may not be
  /// written or its folder is missing or not writable.
  explicit StagingDir(const std::filesystem::path& target, OutputKind kind = OutputKind::File);
  ~StagingDir();
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  /// Moves `names` (files or folders in dir()) into the target's folder, in the given order: a
  /// file replaces only a regular file, a folder only an empty folder. Every file is fsync'ed
  /// before it is moved and the target's folder after. Put a header last so readers never see
  /// it before its data.
  void publish(const std::vector<std::string>& names);

 private:
  std::filesystem::path dir_;
  std::filesystem::path destination_;
};

/// Creates `folder` and its missing parents. Unless keep() is called, the destructor removes
/// again the folders it created, when they are still empty, so a failed command leaves no empty
/// output folder behind. Throws unipet::Error naming `folder` when it cannot be created.
class CreatedFolder {
 public:
  explicit CreatedFolder(const std::filesystem::path& folder);
  ~CreatedFolder();
  CreatedFolder(const CreatedFolder&) = delete;
  CreatedFolder& operator=(const CreatedFolder&) = delete;
  void keep() { created_.clear(); }

 private:
  std::vector<std::filesystem::path> created_;  ///< innermost first
};

/// Writes `bytes` to `path` through a StagingDir; every write and the close are checked, so a
/// full disk is an error and leaves `path` as it was.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace unipet
