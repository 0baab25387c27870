// Many studies in one run (infer/studies.h): which studies a folder or a list holds, where each
// one's result goes (BIDS names included), which outputs are refused, and the resume rule that
// only a finished image of the study counts as done.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "infer/infer_test_util.h"
#include "io/dicom_test_util.h"
#include "unipet/infer/studies.h"
#include "unipet/io/image_io.h"

namespace unipet::infer {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;
using test::write_bytes;

// A smooth SUV image of [d, h, w] voxels at `path`.
void write_study(const std::string& path, int64_t d, int64_t h, int64_t w, uint64_t seed) {
  Volume v;
  v.data = test::smooth_body(d, h, w, seed);
  v.units = Units::SUV;
  io::write_image(v, path);
}

// Placeholder files and folders: planning looks at names only.
void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  write_bytes(path, "");
}

std::vector<int16_t> flat_slice(int) { return std::vector<int16_t>(10 * 12, 100); }

std::vector<std::string> names(const std::vector<StudyJob>& jobs) {
  std::vector<std::string> out;
  for (const auto& j : jobs) out.push_back(j.name);
  return out;
}

std::vector<std::string> output_names(const std::vector<StudyJob>& jobs) {
  std::vector<std::string> out;
  for (const auto& j : jobs) out.push_back(fs::path(j.output).filename().string());
  return out;
}

// scans/: two image files, a DICOM study folder, a BIDS-named image, and what is not a study
// (a hidden image, a text file).
std::string make_scans(const TempDir& dir) {
  const std::string scans = dir / "scans";
  touch(scans + "/b.mha");
  touch(scans + "/a.nii.gz");
  touch(scans + "/sub-01_ses-1_pet.nii.gz");
  fs::create_directories(scans + "/c_dicom");
  touch(scans + "/.hidden.nii.gz");
  touch(scans + "/notes.md");
  return scans;
}

TEST(Studies, AFolderGivesOneJobPerImageOrFolderInNameOrder) {
  TempDir dir;
  const std::string scans = make_scans(dir), out = dir / "out";
  const auto jobs = plan_studies(scans, out);
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(names(jobs),
            (std::vector<std::string>{"a.nii.gz", "b.mha", "c_dicom", "sub-01_ses-1_pet.nii.gz"}));
  EXPECT_EQ(jobs[0].input, scans + "/a.nii.gz");
  EXPECT_EQ(jobs[0].output, out + "/a.nii.gz");
  EXPECT_EQ(jobs[1].output, out + "/b.mha");    // an image keeps its own format
  EXPECT_EQ(jobs[2].output, out + "/c_dicom");  // a DICOM folder gives a DICOM folder
  EXPECT_EQ(jobs[3].output, out + "/sub-01_ses-1_desc-denoised_pet.nii.gz");
  for (const auto& j : jobs) EXPECT_EQ(j.uncertainty, "") << j.name;
  EXPECT_TRUE(is_study_collection(scans));
}

TEST(Studies, AFormatReplacesEveryExtensionAndUncertaintyMapsGetNamesOfTheirOwn) {
  TempDir dir;
  const std::string scans = make_scans(dir), out = dir / "out", unc = dir / "sd";
  EXPECT_EQ(
      output_names(plan_studies(scans, out, "nii")),
      (std::vector<std::string>{"a.nii", "b.nii", "c_dicom.nii", "sub-01_ses-1_desc-denoised_pet.nii"}));
  EXPECT_EQ(
      output_names(plan_studies(scans, out, "NRRD")),
      (std::vector<std::string>{"a.nrrd", "b.nrrd", "c_dicom.nrrd", "sub-01_ses-1_desc-denoised_pet.nrrd"}));
  EXPECT_EQ(output_names(plan_studies(scans, out, "dicom")),
            (std::vector<std::string>{"a", "b", "c_dicom", "sub-01_ses-1_desc-denoised_pet"}));
  const auto jobs = plan_studies(scans, out, "", unc);
  EXPECT_EQ(jobs[0].uncertainty, unc + "/a_uncertainty.nii.gz");
  EXPECT_EQ(jobs[1].uncertainty, unc + "/b_uncertainty.mha");
  EXPECT_EQ(jobs[2].uncertainty, unc + "/c_dicom_uncertainty");
  EXPECT_EQ(jobs[3].uncertainty, unc + "/sub-01_ses-1_desc-uncertainty_pet.nii.gz");
  EXPECT_EQ(jobs[3].output, out + "/sub-01_ses-1_desc-denoised_pet.nii.gz");
  for (const std::string bad : {"png", "nii.zip", ".nii"})
    expect_error([&] { plan_studies(scans, out, bad); },
                 {"--format must be nii.gz, nii, mha, nrrd or dicom, got '" + bad + "'"});
}

TEST(Studies, BidsNamedInputsGiveBidsDerivativeNames) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases{
      {"sub-01_ses-1_pet.nii.gz", "sub-01_ses-1_desc-denoised_pet.nii.gz"},
      {"sub-02_ses-1_desc-raw_pet.nii.gz", "sub-02_ses-1_desc-denoised_pet.nii.gz"},  // its desc replaced
      {"sub-03_desc-ac_ses-2_pet.mha", "sub-03_ses-2_desc-denoised_pet.mha"},         // desc goes last
      {"sub-04_trc-FDG_rec-acdyn_run-1_pet.nii", "sub-04_trc-FDG_rec-acdyn_run-1_desc-denoised_pet.nii"},
      // Not BIDS: the name is kept as it is.
      {"sub-05.nii.gz", "sub-05.nii.gz"},                  // no suffix
      {"sub-06_ses_pet.nii.gz", "sub-06_ses_pet.nii.gz"},  // an entity without a label
      {"sub-07_pet-x.nii.gz", "sub-07_pet-x.nii.gz"},      // a suffix that is not a label
      {"subject08_pet.nii.gz", "subject08_pet.nii.gz"},    // no sub- entity first
      {"sub-0.9_pet.nii.gz", "sub-0.9_pet.nii.gz"},        // a label with a dot
  };
  const std::string list = dir / "studies.txt";
  std::string text;
  for (const auto& [in, expected] : cases) {
    touch(dir / ("scans/" + in));
    text += "scans/" + in + "\n";
  }
  write_bytes(list, text);
  const auto jobs = plan_studies(list, dir / "out", "", dir / "sd");
  ASSERT_EQ(jobs.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(fs::path(jobs[i].output).filename(), cases[i].second);
  EXPECT_EQ(fs::path(jobs[0].uncertainty).filename(), "sub-01_ses-1_desc-uncertainty_pet.nii.gz");
  EXPECT_EQ(fs::path(jobs[1].uncertainty).filename(), "sub-02_ses-1_desc-uncertainty_pet.nii.gz");
  EXPECT_EQ(fs::path(jobs[4].uncertainty).filename(), "sub-05_uncertainty.nii.gz");
}

TEST(Studies, TwoStudiesWritingOneOutputAreRefusedNamingBoth) {
  TempDir dir;
  touch(dir / "bids/sub-01_pet.nii.gz");
  touch(dir / "bids/sub-01_desc-raw_pet.nii.gz");
  expect_error([&] { plan_studies(dir / "bids", dir / "out"); },
               {dir / "bids", "sub-01_desc-raw_pet.nii.gz and ",
                "sub-01_pet.nii.gz would both be written to ", "sub-01_desc-denoised_pet.nii.gz"});
  touch(dir / "mixed/a.nii");
  touch(dir / "mixed/a.nii.gz");
  EXPECT_EQ(plan_studies(dir / "mixed", dir / "out").size(), 2u);  // each keeps its extension
  expect_error([&] { plan_studies(dir / "mixed", dir / "out", "nii.gz"); },
               {"would both be written to " + (dir / "out") + "/a.nii.gz"});
}

TEST(Studies, AListNamesStudiesRelativeToItsFolderInItsOwnOrder) {
  TempDir dir;
  const std::string scans = make_scans(dir);
  const std::string list = dir / "lists/studies.txt";
  fs::create_directories(dir / "lists");
  write_bytes(list, "# studies of the trial\n\n  ../scans/b.mha  \n" + scans +
                        "/a.nii.gz\n\t# not this one\n" + "../scans/c_dicom\r\n   \n");
  const auto jobs = plan_studies(list, dir / "out");
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(names(jobs), (std::vector<std::string>{"b.mha", "a.nii.gz", "c_dicom"}));
  EXPECT_TRUE(fs::equivalent(jobs[0].input, scans + "/b.mha"));
  EXPECT_EQ(jobs[1].input, scans + "/a.nii.gz");  // an absolute line as written
  EXPECT_TRUE(fs::equivalent(jobs[2].input, scans + "/c_dicom"));
  EXPECT_EQ(output_names(jobs), (std::vector<std::string>{"b.mha", "a.nii.gz", "c_dicom"}));
  EXPECT_TRUE(is_study_collection(list));
}

TEST(Studies, ABadListOrAnEmptyFolderIsRefusedNamingIt) {
  TempDir dir;
  make_scans(dir);
  const std::string list = dir / "studies.txt";
  write_bytes(list, "# two studies\nscans/a.nii.gz\nscans/missing.nii.gz\n");
  expect_error([&] { plan_studies(list, dir / "out"); },
               {list + ":3: ", "scans/missing.nii.gz does not exist"});
  write_bytes(list, "# nothing yet\n\n");
  expect_error([&] { plan_studies(list, dir / "out"); },
               {list + ": no studies (image files or DICOM folders) found"});
  expect_error([&] { plan_studies(dir / "absent.txt", dir / "out"); },
               {(dir / "absent.txt") + ": cannot read the study list"});
  fs::create_directories(dir / "empty");
  touch(dir / "empty/.hidden.nii.gz");
  touch(dir / "empty/readme.md");
  expect_error([&] { plan_studies(dir / "empty", dir / "out"); }, {(dir / "empty") + ": no studies"});
}

TEST(Studies, AnOutputThatIsOrHoldsOrLiesInsideAnInputIsRefused) {
  TempDir dir;
  const std::string scans = make_scans(dir);
  expect_error([&] { plan_studies(scans, scans); }, {scans + ": the output folder is the input folder"});
  expect_error([&] { plan_studies(scans, scans + "/"); }, {"the output folder is the input folder"});
  expect_error([&] { plan_studies(scans, scans + "/out"); },
               {scans + "/out: lies inside the input folder " + scans});
  // Even when an earlier run made it (it is not taken for a study, but still refused).
  fs::create_directories(scans + "/out");
  expect_error([&] { plan_studies(scans, scans + "/out"); }, {"lies inside the input folder"});
  fs::remove(scans + "/out");
  expect_error([&] { plan_studies(scans, dir / "out", "", scans + "/sd"); },
               {scans + "/sd: lies inside the input folder " + scans});
  // A list's studies: the output may not hold one or be one.
  const std::string list = dir / "studies.txt";
  write_bytes(list, "scans/a.nii.gz\nscans/c_dicom\n");
  expect_error([&] { plan_studies(list, scans); }, {scans + ": holds the input "});
  expect_error([&] { plan_studies(list, scans + "/c_dicom"); }, {scans + "/c_dicom: is the input "});
  expect_error([&] { plan_studies(list, scans + "/c_dicom/out"); },
               {scans + "/c_dicom/out: lies inside the input folder "});
  // The model (or any other input the caller names).
  touch(dir / "models/m.safetensors");
  expect_error([&] { plan_studies(list, dir / "models", "", "", {dir / "models/m.safetensors"}); },
               {(dir / "models") + ": holds the input " + (dir / "models/m.safetensors")});
  // Beside the inputs is fine.
  EXPECT_EQ(plan_studies(list, dir / "out", "", dir / "sd", {dir / "models/m.safetensors"}).size(), 2u);
}

TEST(Studies, OnlyListsFoldersOfImagesAndSeveralPetFoldersAreCollections) {
  TempDir dir;
  const std::string scans = make_scans(dir);
  EXPECT_TRUE(is_study_collection(scans));
  EXPECT_FALSE(is_study_collection(scans + "/a.nii.gz"));  // one image
  EXPECT_FALSE(is_study_collection(dir / "missing"));
  touch(dir / "List.TXT");
  EXPECT_TRUE(is_study_collection(dir / "List.TXT"));
  // A folder with DICOM files of its own is one study.
  test::write_pet_series(dir / "one", "1.2.826.0.1.3680043.99.901", 2, 3.0, 10, 12, flat_slice, 1.0);
  EXPECT_FALSE(is_study_collection(dir / "one"));
  // One PET series, however deeply nested, is one study; two subfolders with PET are two.
  test::write_pet_series(dir / "nested/a/b/c", "1.2.826.0.1.3680043.99.902", 2, 3.0, 10, 12, flat_slice, 1.0);
  EXPECT_FALSE(is_study_collection(dir / "nested"));
  test::write_pet_series(dir / "two/p1/pet", "1.2.826.0.1.3680043.99.903", 2, 3.0, 10, 12, flat_slice, 1.0);
  test::write_pet_series(dir / "two/p2", "1.2.826.0.1.3680043.99.904", 2, 3.0, 10, 12, flat_slice, 1.0);
  EXPECT_TRUE(is_study_collection(dir / "two"));
  // Hidden entries do not count.
  fs::create_directories(dir / "hidden_only");
  touch(dir / "hidden_only/.x.nii.gz");
  EXPECT_FALSE(is_study_collection(dir / "hidden_only"));
}

TEST(Studies, AnExistingOutputIsSkippedOnlyWhenItIsAFinishedImageOfTheStudy) {
  TempDir dir;
  test::save_identity_model(dir / "identity.safetensors");
  DenoiseOptions o;
  o.compute.device = "cpu";
  o.window.tile = 16;
  const Denoiser denoiser(dir / "identity.safetensors", o);
  // Four studies of 10 x 12 x 14 voxels ([D, H, W]); three outputs already there and wrong.
  fs::create_directories(dir / "scans");
  for (int i = 1; i <= 4; ++i) write_study(dir / ("scans/p" + std::to_string(i) + ".nii.gz"), 10, 12, 14, i);
  const std::string out = dir / "out";
  fs::create_directories(out);
  write_bytes(out + "/p1.nii.gz", "");          // 0 bytes: killed while writing, by another tool
  fs::create_directories(out + "/p2.nii.gz");   // a folder
  write_study(out + "/p3.nii.gz", 8, 8, 8, 9);  // another image's output
  const auto jobs = plan_studies(dir / "scans", out);
  ASSERT_EQ(jobs.size(), 4u);

  std::ostringstream log;
  const auto first = denoise_studies(denoiser, jobs, {}, log);
  ASSERT_EQ(first.size(), 4u);
  using Status = StudyOutcome::Status;
  EXPECT_EQ(first[0].status, Status::Failed);
  EXPECT_EQ(
      first[0].message.rfind(out + "/p1.nii.gz: exists but does not read back as a denoised image (", 0), 0u)
      << first[0].message;
  EXPECT_NE(first[0].message.find("); remove it to denoise p1.nii.gz again"), std::string::npos)
      << first[0].message;
  EXPECT_EQ(first[1].status, Status::Failed);
  EXPECT_EQ(first[1].message.rfind(out + "/p2.nii.gz: exists but does not read back", 0), 0u)
      << first[1].message;
  EXPECT_EQ(first[2].status, Status::Failed);
  EXPECT_EQ(first[2].message, out +
                                  "/p3.nii.gz: exists but is 8 x 8 x 8, not the study's 14 x 12 x 10; "
                                  "remove it to denoise p3.nii.gz again");
  // One study's failure does not stop the next.
  EXPECT_EQ(first[3].status, Status::Done) << first[3].message;
  for (const auto& outcome : first)
    EXPECT_EQ(outcome.message.find('\n'), std::string::npos) << outcome.message;
  // Nothing that was there is overwritten or removed.
  EXPECT_EQ(fs::file_size(out + "/p1.nii.gz"), 0u);
  EXPECT_TRUE(fs::is_directory(out + "/p2.nii.gz"));
  EXPECT_TRUE(fs::is_empty(out + "/p2.nii.gz"));
  EXPECT_EQ(io::read_image(out + "/p3.nii.gz").size_xyz(), (std::array<int64_t, 3>{8, 8, 8}));
  // The identity network gives the study back.
  const Volume done = io::read_image(out + "/p4.nii.gz"), input = io::read_image(dir / "scans/p4.nii.gz");
  EXPECT_LE((done.data - input.data).abs().max().item<double>(), 1e-4);
  EXPECT_NE(log.str().find("[1/4] error: " + out + "/p1.nii.gz: exists"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("[4/4] "), std::string::npos) << log.str();

  // A second run skips the finished study, leaves its file as it is, and fails the others again.
  const std::string finished = test::read_bytes(out + "/p4.nii.gz");
  std::ostringstream again_log;
  const auto again = denoise_studies(denoiser, jobs, {}, again_log);
  EXPECT_EQ(again[3].status, Status::Skipped);
  EXPECT_EQ(again[3].message, out + "/p4.nii.gz exists, skipped");
  EXPECT_EQ(test::read_bytes(out + "/p4.nii.gz"), finished);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(again[i].status, Status::Failed) << i;
  EXPECT_NE(again_log.str().find("[4/4] " + out + "/p4.nii.gz exists, skipped"), std::string::npos)
      << again_log.str();
}

}  // namespace
}  // namespace unipet::infer
