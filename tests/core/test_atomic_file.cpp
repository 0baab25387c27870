#include "unipet/core/atomic_file.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;

TEST(CheckOutputPath, AcceptsANewPathAndAnExistingFile) {
  TempDir dir;
  EXPECT_NO_THROW(check_output_path(dir / "new.nii.gz"));
  write_bytes(dir / "old.nii.gz", "x");
  EXPECT_NO_THROW(check_output_path(dir / "old.nii.gz"));
  EXPECT_NO_THROW(check_output_path(dir / "new_folder", {OutputKind::Folder}));
  fs::create_directory(dir / "empty");
  EXPECT_NO_THROW(check_output_path(dir / "empty", {OutputKind::Folder}));
}

TEST(CheckOutputPath, RefusesAFolderWhereAFileIsWanted) {
  TempDir dir;
  fs::create_directory(dir / "x.nii.gz");
  expect_error([&] { check_output_path(dir / "x.nii.gz"); }, {dir / "x.nii.gz", "is a folder"});
  // A link to a folder is a folder too.
  fs::create_directory_symlink(dir / "x.nii.gz", dir / "link.nii.gz");
  expect_error([&] { check_output_path(dir / "link.nii.gz"); }, {dir / "link.nii.gz", "is a folder"});
}

TEST(CheckOutputPath, RefusesANonEmptyFolderUnlessTheCallerOwnsIt) {
  TempDir dir;
  fs::create_directory(dir / "out");
  write_bytes(dir / "out/a.txt", "a");
  expect_error([&] { check_output_path(dir / "out", {OutputKind::Folder}); }, {dir / "out", "not empty"});
  expect_error([&] { check_output_path(dir / "out/", {OutputKind::Folder}); }, {"not empty"});
  EXPECT_NO_THROW(check_output_path(dir / "out", {OutputKind::Folder, {}, true}));
  write_bytes(dir / "file", "f");
  expect_error([&] { check_output_path(dir / "file", {OutputKind::Folder}); }, {dir / "file", "not a folder"});
}

TEST(CheckOutputPath, RefusesTheInputAndFoldersHoldingIt) {
  TempDir dir;
  fs::create_directories(dir / "study/dicom");
  write_bytes(dir / "study/in.nii", "x");
  const std::vector<fs::path> inputs = {dir / "study/in.nii"};
  // Spelled differently, still the same file.
  expect_error([&] { check_output_path(dir / "study/../study/./in.nii", {OutputKind::File, inputs}); },
               {"is the input"});
  fs::create_symlink(dir / "study/in.nii", dir / "alias.nii");
  expect_error([&] { check_output_path(dir / "alias.nii", {OutputKind::File, inputs}); }, {"is the input"});
  expect_error([&] { check_output_path(dir / "study", {OutputKind::Folder, inputs, true}); },
               {dir / "study", "holds the input"});
  expect_error([&] { check_output_path(dir.path(), {OutputKind::Folder, inputs, true}); }, {"holds the input"});
  // A sibling whose name starts like the input's folder is not inside it.
  EXPECT_NO_THROW(check_output_path(dir / "study2", {OutputKind::Folder, inputs}));
}

TEST(CheckOutputPath, RefusesAMissingParentFolder) {
  TempDir dir;
  expect_error([&] { check_output_path(dir / "no/such/out.nii"); }, {"does not exist"});
}

TEST(StagingDir, PublishReplacesAFileButNeverAFolder) {
  TempDir dir;
  write_bytes(dir / "a.txt", "old");
  {
    StagingDir staging(dir / "a.txt");
    write_bytes((staging.dir() / "a.txt").string(), "new");
    staging.publish({"a.txt"});
  }
  EXPECT_EQ(read_bytes(dir / "a.txt"), "new");
  // Between the check and the publish someone puts a folder there: it survives.
  StagingDir staging(dir / "b.txt");
  write_bytes((staging.dir() / "b.txt").string(), "new");
  fs::create_directory(dir / "b.txt");
  write_bytes(dir / "b.txt/keep", "keep");
  expect_error([&] { staging.publish({"b.txt"}); }, {"not a regular file"});
  EXPECT_EQ(read_bytes(dir / "b.txt/keep"), "keep");
}

TEST(StagingDir, AFolderReplacesOnlyAnEmptyFolder) {
  TempDir dir;
  fs::create_directory(dir / "series");
  {
    StagingDir staging(dir / "series", OutputKind::Folder);
    fs::create_directory(staging.dir() / "series");
    write_bytes((staging.dir() / "series/IM1").string(), "1");
    staging.publish({"series"});
  }
  EXPECT_EQ(read_bytes(dir / "series/IM1"), "1");
  expect_error([&] { StagingDir staging(dir / "series", OutputKind::Folder); }, {"not empty"});
}

TEST(StagingDir, NothingIsLeftWhenNotPublished) {
  TempDir dir;
  {
    StagingDir staging(dir / "out.nii");
    write_bytes((staging.dir() / "out.nii").string(), "partial");
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(StagingDir, RemovesFoldersLeftByKilledProcessesOnly) {
  TempDir dir;
  // A pid that is not running now: a child that has exited and been reaped.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const fs::path dead = dir.path() / (".unipet-tmp-" + std::to_string(child) + "-0-out.nii");
  const fs::path alive = dir.path() / (".unipet-tmp-" + std::to_string(::getppid()) + "-0-out.nii");
  const fs::path user = dir.path() / ".unipet-tmp-notes";
  for (const auto& p : {dead, alive, user}) fs::create_directory(p);
  write_bytes((dead / "out.nii").string(), "half a file");
  write_file_atomically(dir / "other.txt", "x");
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(user));
  EXPECT_TRUE(is_staging_name(dead.filename().string()));
  EXPECT_FALSE(is_staging_name("unipet-tmp"));
}

TEST(CreatedFolder, RemovesOnlyTheEmptyFoldersItCreated) {
  TempDir dir;
  { CreatedFolder made(dir / "a/b/c"); }
  EXPECT_FALSE(fs::exists(dir / "a"));
  {
    CreatedFolder made(dir / "a/b/c");
    write_bytes(dir / "a/b/c/result", "r");
  }
  EXPECT_TRUE(fs::exists(dir / "a/b/c/result"));
  fs::remove_all(dir / "a");
  {
    CreatedFolder made(dir / "a/b");
    made.keep();
  }
  EXPECT_TRUE(fs::is_directory(dir / "a/b"));
  {
    CreatedFolder existing(dir / "a");  // already there: never removed
  }
  EXPECT_TRUE(fs::is_directory(dir / "a/b"));
  write_bytes(dir / "file", "f");
  expect_error([&] { CreatedFolder bad(dir / "file"); }, {"not a folder"});
}

TEST(WriteFileAtomically, ReplacesTheFileAndChecksTheWrite) {
  TempDir dir;
  write_file_atomically(dir / "model.safetensors", "first");
  write_file_atomically(dir / "model.safetensors", "second");
  EXPECT_EQ(read_bytes(dir / "model.safetensors"), "second");
  fs::create_directory(dir / "folder.json");
  expect_error([&] { write_file_atomically(dir / "folder.json", "{}"); }, {"is a folder"});
  EXPECT_TRUE(fs::is_directory(dir / "folder.json"));
}

}  // namespace
}  // namespace unipet::test
