#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/io/dataset.h"

namespace unipet {
namespace {

namespace fs = std::filesystem;

using test::CommandResult;

class CliSimulate : public ::testing::Test {
 protected:
  CommandResult run_cli(const std::string& arguments) const { return test::unipet_cli(arguments); }
  test::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

TEST_F(CliSimulate, WritesATinyDatasetThatReadsBack) {
  const fs::path out = dir_ / "data";
  const CommandResult r = run_cli("simulate --out " + out.string() +
                            " --subjects 3 --drf 2,4,10 --seed 5 --matrix 32 --slices 4 --voxel 14"
                            " --slice-thickness 24 --angles 16 --osem-subsets 4 --osem-iterations 1"
                            " --counts 1e6 --val 0.33 --test 0.33 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  const io::Dataset ds = io::read_dataset((out / "dataset.json").string());
  // The older spellings (--split, --subsets, --iterations) still mean the same, byte for byte.
  const fs::path old = dir_ / "old";
  ASSERT_EQ(run_cli("simulate --out " + old.string() +
                    " --subjects 3 --drf 2,4,10 --seed 5 --matrix 32 --slices 4 --voxel 14"
                    " --slice-thickness 24 --angles 16 --subsets 4 --iterations 1"
                    " --counts 1e6 --split 0.34,0.33,0.33 --threads 1")
                .status,
            0);
  const io::Dataset old_ds = io::read_dataset((old / "dataset.json").string());
  ASSERT_EQ(old_ds.subjects.size(), ds.subjects.size());
  for (size_t i = 0; i < ds.subjects.size(); ++i) {
    EXPECT_EQ(old_ds.subjects[i].split, ds.subjects[i].split) << ds.subjects[i].id;
    EXPECT_EQ(test::read_bytes((old / ds.subjects[i].id / "drf_4.nii.gz").string()),
              test::read_bytes((out / ds.subjects[i].id / "drf_4.nii.gz").string()))
        << ds.subjects[i].id;
  }
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
  ASSERT_EQ(run_cli("simulate --out " + phantoms.string() + " --subjects 1 --drf 2" + tiny)
                .status,
            0);
  const fs::path subject = phantoms / "sim0000";
  const fs::path out = dir_ / "patient";
  const CommandResult r = run_cli("simulate --out " + out.string() + " --from-image " +
                               (subject / "activity.nii.gz").string() + " --mumap " +
                               (subject / "mumap.nii.gz").string() +
                               " --weight 70 --dose 2e8 --drf 5,20" + tiny);
  ASSERT_EQ(r.status, 0) << r.output;
  const io::Dataset ds = io::read_dataset((out / "dataset.json").string());
  ASSERT_EQ(ds.subjects.size(), 1u);
  EXPECT_EQ(ds.subjects[0].id, "000_activity");
  EXPECT_EQ(ds.subjects[0].numbers.at("weight_kg"), 70);
  EXPECT_EQ(ds.strings.at("mumap_input"), (subject / "mumap.nii.gz").string());
  EXPECT_TRUE(fs::exists(ds.resolve(ds.subjects[0].low_dose.at(20))));
}

TEST_F(CliSimulate, BadArgumentsGiveAOneLineErrorAndANonZeroExit) {
  const CommandResult bad_drf = run_cli("simulate --out " + (dir_ / "x").string() + " --drf 2,0.5");
  EXPECT_NE(bad_drf.status, 0);
  EXPECT_EQ(std::count(bad_drf.output.begin(), bad_drf.output.end(), '\n'), 1) << bad_drf.output;
  EXPECT_NE(bad_drf.output.find("DRF must be > 1"), std::string::npos) << bad_drf.output;
  const CommandResult bad_split = run_cli("simulate --out " + (dir_ / "x").string() + " --split 0.5,0.5");
  EXPECT_NE(bad_split.status, 0);
  EXPECT_NE(bad_split.output.find("--split needs three fractions"), std::string::npos) << bad_split.output;
  const CommandResult missing_out = run_cli("simulate --subjects 1");
  EXPECT_NE(missing_out.status, 0);
  EXPECT_FALSE(fs::exists(dir_ / "x" / "dataset.json"));
}

TEST_F(CliSimulate, RealismOptionsReachEverySubjectsRecord) {
  const std::string tiny = " --subjects 1 --drf 4 --seed 9 --matrix 32 --slices 4 --voxel 14"
                           " --slice-thickness 24 --angles 16 --subsets 4 --iterations 1 --counts 1e6";
  const fs::path tof = dir_ / "tof";
  CommandResult r = run_cli("simulate --out " + tof.string() + tiny +
                            " --tof 214 --scatter-error 0.1 --norm-error 0.02 --mumap-shift 3"
                            " --mumap-blur 5 --psf-model 0.8 --arms-up-fraction 0 --psf 4 --psf-axial 6");
  ASSERT_EQ(r.status, 0) << r.output;
  io::Dataset ds = io::read_dataset((tof / "dataset.json").string());
  const io::DatasetSubject s = ds.subjects.at(0);  // a copy: ds is read again below
  EXPECT_EQ(s.numbers.at("tof_fwhm_ps"), 214);
  EXPECT_GT(s.numbers.at("tof_bins"), 1);
  EXPECT_EQ(s.numbers.at("oversampling"), 2);
  EXPECT_EQ(s.numbers.at("normalisation_error"), 0.02);
  EXPECT_EQ(s.numbers.at("arms_up"), 0);
  EXPECT_NEAR(std::hypot(std::hypot(s.numbers.at("mumap_shift_x_mm"), s.numbers.at("mumap_shift_y_mm")),
                         s.numbers.at("mumap_shift_z_mm")),
              3.0, 1e-9);
  EXPECT_NEAR(s.numbers.at("recon_psf_fwhm_mm"), 0.8 * 4, 1e-9);
  // --psf sets the axial resolution too only when --psf-axial is not given.
  EXPECT_EQ(s.numbers.at("psf_fwhm_mm"), 4);
  EXPECT_EQ(s.numbers.at("psf_axial_fwhm_mm"), 6);
  EXPECT_EQ(ds.numbers.at("scatter_scale_sd"), 0.1);
  EXPECT_TRUE(fs::exists(tof / s.id / "mumap_ac.nii.gz"));
  EXPECT_TRUE(fs::exists(tof / s.id / "liver.nii.gz"));

  // --inverse-crime: the phantom on the output grid and every correction exact.
  const fs::path crime = dir_ / "crime";
  r = run_cli("simulate --out " + crime.string() + tiny + " --inverse-crime");
  ASSERT_EQ(r.status, 0) << r.output;
  ds = io::read_dataset((crime / "dataset.json").string());
  const io::DatasetSubject& c = ds.subjects.at(0);
  EXPECT_EQ(c.numbers.at("oversampling"), 1);
  EXPECT_EQ(c.numbers.at("scatter_scale"), 1);
  EXPECT_EQ(c.numbers.at("delayed_randoms"), 0);
  EXPECT_EQ(c.numbers.at("recon_psf_fwhm_mm"), 4.5);
  EXPECT_EQ(c.numbers.at("mumap_shift_x_mm"), 0);
  // The same seed draws the same anatomy either way.
  EXPECT_EQ(c.numbers.at("weight_kg"), s.numbers.at("weight_kg"));
  EXPECT_EQ(c.numbers.at("lesions"), s.numbers.at("lesions"));
  EXPECT_EQ(c.numbers.at("body_scale"), s.numbers.at("body_scale"));
}

}  // namespace
}  // namespace unipet
