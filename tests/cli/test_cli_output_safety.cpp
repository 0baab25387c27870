// Every command that writes, against the outputs it must never replace, and against a disk that
// fills up mid-write (simulated with a file-size limit: `ulimit -f` makes write() fail with EFBIG,
// as a full disk or a quota does).
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/fs_snapshot.h"
#include "io/io_test_util.h"
#include "unipet/io/dataset.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;

// 8 x 128 x 128 random voxels: every format's file, and every DICOM slice, exceeds the limit below.
Volume incompressible_volume() {
  torch::manual_seed(3);
  Volume v = awkward_volume();
  v.data = torch::rand({8, 128, 128}) * 1000;
  return v;
}

// Runs `args` under a 16-block file-size limit (8 or 16 KB, depending on the shell).
CommandResult with_small_disk(const std::string& args) {
  return run_command("ulimit -f 16; '" + std::string(UNIPET_CLI_PATH) + "' " + args);
}

struct Writer {
  std::string name;
  std::string command;  ///< "{in}" is a valid input, "{out}" the output path
  std::string input;    ///< relative to the case folder
};

// Each writer, with its input prepared by prepare_inputs().
std::vector<Writer> writers() {
  const std::string sim = " --matrix 32 --slices 4 --voxel 14 --slice-thickness 24 --angles 16 --subsets 4"
                          " --iterations 1 --counts 1e6 --subjects 1 --drf 4";
  return {{"convert to NIfTI", "convert {in} {out}", "study/in.nii.gz"},
          {"convert to a DICOM folder", "convert {in} {out}", "study/in.nii.gz"},
          {"import udpet", "import udpet {in} -o {out}", "study"},
          {"import pairs", "import pairs --full '{in}/{id}_f.nii.gz' --low '{in}/{id}_l.nii.gz' --drf 4 -o {out}", "pairs"},
          {"simulate", "simulate --out {out}" + sim, ""},
          {"simulate from an image", "simulate --from-image {in} --out {out}" + sim.substr(0, sim.find(" --subjects")),
           "study/in.nii.gz"},
          {"train", "train --dataset {in} --stage bdn --out {out} --threads 1 --set width=16 --set blocks=1"
                    " --set san_depth=1 --set san_width=16 --set patch=8 --set iterations=1 --set validate_every=0",
           "pairs/dataset.json"},
          {"denoise", "denoise -i {in} -o {out} --suv-factor 0.001 --tile 8 -m '" + std::string(UNIPET_TEST_DATA_DIR) +
                          "/../../results/cpu-profile/unipet/model_final.safetensors'",
           "study/in.nii.gz"},
          {"evaluate", "evaluate --dataset {in} --split train --baseline lowdose --out {out}", "pairs/dataset.json"}};
}

void prepare_inputs(const fs::path& d) {
  fs::create_directories(d / "study/p1");
  io::write_image(awkward_volume(), (d / "study/in.nii.gz").string());
  io::write_image(awkward_volume(), (d / "study/p1/Full_dose.nii.gz").string());
  io::write_image(awkward_volume(), (d / "study/p1/1-4 dose.nii.gz").string());
  fs::create_directories(d / "pairs");
  io::write_image(awkward_volume(), (d / "pairs/s1_f.nii.gz").string());
  io::write_image(awkward_volume(), (d / "pairs/s1_l.nii.gz").string());
  io::Dataset pairs;
  pairs.name = "pairs";
  pairs.source = "test";
  pairs.drfs = {4};
  pairs.units = Units::SUV;
  pairs.subjects.push_back({"s1", "train", "s1_f.nii.gz", {{4.0, "s1_l.nii.gz"}}, {}, {}, {}});
  io::write_dataset(pairs, (d / "pairs/dataset.json").string());
}

std::string fill(std::string command, const fs::path& d, const std::string& input, const std::string& out) {
  auto replace = [&](const std::string& key, const std::string& value) {
    for (size_t at; (at = command.find(key)) != std::string::npos;) command.replace(at, key.size(), value);
  };
  replace("{in}", (d / input).string());
  replace("{out}", out);
  return command;
}

TEST(CliOutputSafety, EveryWriterRefusesWhatItMustNotReplace) {
  for (const Writer& w : writers()) {
    // The output path: a folder full of someone's files, the input itself, the folder holding it.
    std::vector<std::pair<std::string, std::string>> targets = {{"a non-empty folder", "taken"}};
    if (!w.input.empty()) {
      targets.push_back({"the input", w.input});
      targets.push_back({"the folder holding the input", fs::path(w.input).has_parent_path()
                                                              ? fs::path(w.input).parent_path().string()
                                                              : w.input});
    }
    for (const auto& [what, target] : targets) {
      SCOPED_TRACE(w.name + " onto " + what);
      TempDir tmp;
      const fs::path d = tmp.path();
      prepare_inputs(d);
      fs::create_directories(d / "taken/sub");
      write_bytes(d / "taken/sub/notes.txt", "precious");
      const FsSnapshot before = snapshot(d);
      const CommandResult r = unipet_cli(fill(w.command, d, w.input, (d / target).string()));
      EXPECT_EQ(r.status, 1) << r.output;
      EXPECT_NE(error_line(r).find((d / target).string()), std::string::npos) << r.output;
      EXPECT_EQ(snapshot_diff(before, snapshot(d)), "");
    }
  }
}

TEST(CliOutputSafety, AFullDiskIsAnErrorAndLeavesTheTargetAsItWas) {
  TempDir tmp;
  const fs::path d = tmp.path();
  io::write_image(incompressible_volume(), (d / "in.mha").string());
  for (const char* name : {"out.nii", "out.nii.gz", "out.mha", "out.mhd", "out.nrrd", "series"}) {
    SCOPED_TRACE(name);
    const fs::path out = d / name;
    const CommandResult r = with_small_disk("convert " + q(d / "in.mha") + " " + q(out.string()));
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(error_line(r).find("write failed"), std::string::npos) << r.output;
    EXPECT_EQ(r.output, error_line(r) + "\n") << "not exactly one line";
    EXPECT_FALSE(fs::exists(out));
    // Nothing else appeared: only the input is left in the folder.
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(d)) left.push_back(e.path().filename().string());
    EXPECT_EQ(left, std::vector<std::string>{"in.mha"});
  }
  // An earlier result survives a failed replacement, byte for byte.
  write_bytes(d / "old.nii", "an earlier result");
  const CommandResult r = with_small_disk("convert " + q(d / "in.mha") + " " + q(d / "old.nii"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(read_bytes(d / "old.nii"), "an earlier result");
}

TEST(CliOutputSafety, AFailedSimulationLeavesNoFolderAndNoHalfSubject) {
  TempDir tmp;
  const fs::path out = tmp.path() / "new/data";
  const CommandResult r = with_small_disk("simulate --out " + q(out.string()) +
                                          " --matrix 64 --slices 8 --voxel 7 --slice-thickness 12 --angles 16"
                                          " --subsets 4 --iterations 1 --counts 1e6 --subjects 1 --drf 4");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(error_line(r).find("write failed"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(tmp.path())) << "left: " << (fs::exists(tmp.path() / "new") ? "new/" : "");
}

TEST(CliOutputSafety, AnInterruptedSimulationResumesAndItsFolderIsRecognised) {
  TempDir tmp;
  const fs::path out = tmp.path() / "data";
  const std::string args = "simulate --out " + q(out.string()) +
                           " --matrix 32 --slices 4 --voxel 14 --slice-thickness 24 --angles 16 --subsets 4"
                           " --iterations 1 --counts 1e6 --drf 4 --subjects ";
  ASSERT_EQ(unipet_cli(args + "1").status, 0);
  // A staging folder of a run killed mid-subject is not a result and does not block the resume.
  fs::create_directories(out / ".unipet-tmp-999999999-0-sim0001/sim0001");
  const CommandResult r = unipet_cli(args + "2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("sim0000 (1/2, "), std::string::npos);
  EXPECT_NE(r.output.find("already complete"), std::string::npos) << r.output;
  EXPECT_EQ(io::read_dataset((out / "dataset.json").string()).subjects.size(), 2u);
  EXPECT_FALSE(fs::exists(out / ".unipet-tmp-999999999-0-sim0001"));
  // A subject folder without its record is not overwritten.
  fs::create_directories(out / "sim0002");
  write_bytes(out / "sim0002/mine.txt", "x");
  const CommandResult blocked = unipet_cli(args + "3");
  EXPECT_EQ(blocked.status, 1);
  EXPECT_NE(error_line(blocked).find("sim0002"), std::string::npos) << blocked.output;
  EXPECT_EQ(read_bytes(out / "sim0002/mine.txt"), "x");
}

TEST(CliOutputSafety, FilesAreStillReplacedWhenTheyAreFiles) {
  TempDir tmp;
  const fs::path d = tmp.path();
  io::write_image(awkward_volume(), (d / "in.nii.gz").string());
  write_bytes(d / "out.nii.gz", "an older result");
  const CommandResult r = unipet_cli("convert " + q(d / "in.nii.gz") + " " + q(d / "out.nii.gz"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(torch::equal(io::read_image((d / "out.nii.gz").string()).data, awkward_volume().data));
  // An empty folder is a fine place for a DICOM series.
  fs::create_directory(d / "series");
  EXPECT_EQ(unipet_cli("convert " + q(d / "in.nii.gz") + " " + q(d / "series")).status, 0);
  EXPECT_FALSE(fs::is_empty(d / "series"));
}

}  // namespace
}  // namespace unipet::test
