#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_paths.h"
#include "unipet/io/dataset.h"

namespace unipet {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code;
  std::string err;
};

CliRun run_cli(const std::string& arguments, const fs::path& dir) {
  const fs::path err = dir / "stderr.txt";
  const std::string command = std::string(UNIPET_CLI_PATH) + " " + arguments + " > " +
                              (dir / "stdout.txt").string() + " 2> " + err.string();
  const int status = std::system(command.c_str());
  std::ifstream in(err);
  std::stringstream text;
  text << in.rdbuf();
  return {WEXITSTATUS(status), text.str()};
}

class CliSimulate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           (std::string("unipet_test_cli_simulate_") +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CliSimulate, WritesATinyDatasetThatReadsBack) {
  const fs::path out = dir_ / "data";
  const CliRun r = run_cli("simulate --out " + out.string() +
                            " --subjects 3 --drf 2,4,10 --seed 5 --matrix 32 --slices 4 --voxel 14"
                            " --slice-thickness 24 --angles 16 --subsets 4 --iterations 1"
                            " --counts 1e6 --split 0.34,0.33,0.33 --threads 1",
                        dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const io::Dataset ds = io::read_dataset((out / "dataset.json").string());
  EXPECT_EQ(ds.drfs, (std::vector<double>{2, 4, 10}));
  ASSERT_EQ(ds.subjects.size(), 3u);
  EXPECT_EQ(ds.subjects_in_split("train").size(), 1u);
  EXPECT_EQ(ds.subjects_in_split("val").size(), 1u);
  EXPECT_EQ(ds.numbers.at("prompts_per_study"), 1e6);
  for (const auto& s : ds.subjects) {
    for (const char* file : {"activity.nii.gz", "mumap.nii.gz", "lesions.nii.gz", "full.nii.gz",
                             "drf_2.nii.gz", "drf_4.nii.gz", "drf_10.nii.gz", "subject.json"}) {
      EXPECT_TRUE(fs::exists(out / s.id / file)) << s.id << "/" << file;
    }
  }
}

TEST_F(CliSimulate, AUsersImageAndMuMapBecomeALowDoseSeries) {
  const fs::path phantoms = dir_ / "phantoms";
  const std::string tiny = " --matrix 32 --slices 4 --voxel 14 --slice-thickness 24 --angles 16"
                           " --subsets 4 --iterations 1 --counts 1e6";
  ASSERT_EQ(run_cli("simulate --out " + phantoms.string() + " --subjects 1 --drf 2" + tiny, dir_)
                .exit_code,
            0);
  const fs::path subject = phantoms / "sim0000";
  const fs::path out = dir_ / "patient";
  const CliRun r = run_cli("simulate --out " + out.string() + " --from-image " +
                               (subject / "activity.nii.gz").string() + " --mumap " +
                               (subject / "mumap.nii.gz").string() +
                               " --weight 70 --dose 2e8 --drf 5,20" + tiny,
                           dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const io::Dataset ds = io::read_dataset((out / "dataset.json").string());
  ASSERT_EQ(ds.subjects.size(), 1u);
  EXPECT_EQ(ds.subjects[0].id, "000_activity");
  EXPECT_EQ(ds.subjects[0].numbers.at("weight_kg"), 70);
  EXPECT_EQ(ds.strings.at("mumap_input"), (subject / "mumap.nii.gz").string());
  EXPECT_TRUE(fs::exists(ds.resolve(ds.subjects[0].low_dose.at(20))));
}

TEST_F(CliSimulate, BadArgumentsGiveAOneLineErrorAndANonZeroExit) {
  const CliRun bad_drf = run_cli("simulate --out " + (dir_ / "x").string() + " --drf 2,0.5", dir_);
  EXPECT_NE(bad_drf.exit_code, 0);
  EXPECT_EQ(std::count(bad_drf.err.begin(), bad_drf.err.end(), '\n'), 1) << bad_drf.err;
  EXPECT_NE(bad_drf.err.find("DRF must be > 1"), std::string::npos) << bad_drf.err;
  const CliRun bad_split = run_cli("simulate --out " + (dir_ / "x").string() + " --split 0.5,0.5", dir_);
  EXPECT_NE(bad_split.exit_code, 0);
  EXPECT_NE(bad_split.err.find("--split needs three fractions"), std::string::npos) << bad_split.err;
  const CliRun missing_out = run_cli("simulate --subjects 1", dir_);
  EXPECT_NE(missing_out.exit_code, 0);
  EXPECT_FALSE(fs::exists(dir_ / "x" / "dataset.json"));
}

}  // namespace
}  // namespace unipet
