// Every command that writes, against the outputs it must never replace, and against a disk that
// fills up mid-write (simulated with a file-size limit: `ulimit -f` makes write() fail with EFBIG,
// as a full disk or a quota does).
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/fs_snapshot.h"
#include "infer/infer_test_util.h"
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

// The layout `unipet import pairs` writes when dataset.json is not beside the images: every path
// climbs out with "../" (here three levels, so that OUT/predictions/NAME/ + the path would be the
// input image itself). Two test subjects (16 x 24 x 24 smooth bodies in SUV, DRF 4 = the body with
// noise), the images in d/images, dataset.json in d/ds/a/b, and two model files.
std::string dot_dot_dataset(const fs::path& d) {
  fs::create_directories(d / "images");
  fs::create_directories(d / "ds/a/b");
  io::Dataset ds;
  ds.name = "pairs";
  ds.source = "test";
  ds.drfs = {4};
  ds.units = Units::SUV;
  for (int i = 1; i <= 2; ++i) {
    const std::string id = "s" + std::to_string(i);
    Volume full;
    full.data = smooth_body(16, 24, 24, i);
    full.spacing = {4, 4, 4};
    full.units = Units::SUV;
    io::write_image(full, (d / "images" / (id + "_f.nii.gz")).string());
    torch::manual_seed(i);
    full.data = (full.data + 0.3 * torch::randn_like(full.data)).clamp_min(0);
    io::write_image(full, (d / "images" / (id + "_l.nii.gz")).string());
    const std::string images = "../../../images/" + id;
    ds.subjects.push_back({id, "test", images + "_f.nii.gz", {{4.0, images + "_l.nii.gz"}}, {}, {}, {}});
  }
  io::write_dataset(ds, (d / "ds/a/b/dataset.json").string());
  save_identity_model((d / "identity.safetensors").string());
  fs::copy_file(trained_model_path(), d / "trained.safetensors");
  return (d / "ds/a/b/dataset.json").string();
}

TEST(CliOutputSafety, EvaluatePredictionsOfADotDotDatasetStayUnderTheReportAndAreCached) {
  TempDir tmp;
  const fs::path d = tmp.path();
  const std::string dataset = dot_dot_dataset(d);
  const FsSnapshot inputs = snapshot(d);
  const std::string args = "evaluate --dataset " + q(dataset) + " --method Id=" + q(d / "identity.safetensors") +
                           " --baseline none --out " + q(d / "report") + " --tile 16 --threads 1";
  CommandResult r = unipet_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* subject : {"s1", "s2"})
    EXPECT_TRUE(fs::is_regular_file(d / "report/predictions/Id" / subject / "drf_4.nii.gz")) << subject;
  // Nothing was written over the images, beside them or anywhere else outside the report.
  FsSnapshot outside_report = snapshot(d);
  for (auto it = outside_report.begin(); it != outside_report.end();)
    it = it->first.rfind("report", 0) == 0 ? outside_report.erase(it) : std::next(it);
  EXPECT_EQ(snapshot_diff(inputs, outside_report), "");
  EXPECT_NE(read_bytes(d / "report/summary.md").find("2 computed, 0 cached"), std::string::npos);

  // A second run reads its cache: nothing is made again, no file changes.
  const FsSnapshot report = snapshot(d / "report/predictions");
  r = unipet_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(read_bytes(d / "report/summary.md").find("0 computed, 2 cached"), std::string::npos);
  EXPECT_EQ(snapshot_diff(report, snapshot(d / "report/predictions")), "");

  // --show of no subject of the split fails before any prediction or report file is touched.
  const FsSnapshot before = snapshot(d);
  r = unipet_cli(args + " --method Other=" + q(d / "trained.safetensors") + " --show nosuch");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(r.output, error_line(r) + "\n");
  EXPECT_NE(error_line(r).find("--show nosuch"), std::string::npos) << r.output;
  EXPECT_EQ(snapshot_diff(before, snapshot(d)), "");
}

TEST(CliOutputSafety, EvaluateMethodsNeverShareACacheEntry) {
  TempDir tmp;
  const fs::path d = tmp.path();
  const std::string dataset = dot_dot_dataset(d);
  const std::string report = (d / "report").string();
  const std::string common = "evaluate --dataset " + q(dataset) + " --baseline lowdose --drf 4 --out " + q(report) +
                             " --tile 16 --threads 1 --blend off";
  CommandResult r = unipet_cli(common + " --method A=" + q(d / "identity.safetensors") + " --method B=" +
                               q(d / "trained.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  auto prediction = [&](const char* method) {
    return io::read_image(report + "/predictions/" + method + "/s1/drf_4.nii.gz").data;
  };
  const torch::Tensor a = prediction("A"), b = prediction("B");
  EXPECT_FALSE(torch::allclose(a, b)) << "two models' predictions are one file";
  const std::string metrics = read_bytes(report + "/metrics.csv");
  // The identity scores as the low dose does; the trained model does not.
  auto psnr_of = [&](const std::string& method) {
    const size_t at = metrics.find("s1,4," + method + ",body,");
    EXPECT_NE(at, std::string::npos) << metrics;
    const size_t from = at + std::string("s1,4," + method + ",body,").size();
    return std::stod(metrics.substr(from, metrics.find(',', from) - from));
  };
  EXPECT_NEAR(psnr_of("A"), psnr_of("lowdose"), 1e-3);
  EXPECT_GT(std::abs(psnr_of("B") - psnr_of("A")), 0.01);

  // The same models under swapped names: neither is served from the other's cache.
  r = unipet_cli(common + " --method A=" + q(d / "trained.safetensors") + " --method B=" +
                 q(d / "identity.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(read_bytes(report + "/summary.md").find("4 computed, 0 cached"), std::string::npos);
  EXPECT_TRUE(torch::allclose(prediction("A"), b, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(prediction("B"), a, 1e-5, 1e-5));

  // One name for two models is refused before anything is written.
  const FsSnapshot before = snapshot(d);
  r = unipet_cli(common + " --method A=" + q(d / "identity.safetensors") + " --method A=" + q(d / "trained.safetensors"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(r.output, error_line(r) + "\n");
  EXPECT_NE(error_line(r).find("--method A is given twice"), std::string::npos) << r.output;
  EXPECT_EQ(snapshot_diff(before, snapshot(d)), "");
}

}  // namespace
}  // namespace unipet::test
