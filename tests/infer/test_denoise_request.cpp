// The library side of `unipet denoise` (infer/denoise_request.h): the rules checked before the
// model loads, one study against a folder of studies, and what the outcome says.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "infer/infer_test_util.h"
#include "unipet/infer/denoise_request.h"
#include "unipet/io/image_io.h"

namespace unipet::infer {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;

void write_study(const std::string& path, uint64_t seed) {
  Volume v;
  v.data = test::smooth_body(12, 16, 16, seed);
  v.units = Units::SUV;
  io::write_image(v, path);
}

struct Fixture {
  TempDir dir;
  std::string model = (dir.path() / "identity.safetensors").string();
  std::string scan = (dir.path() / "scan.nii.gz").string();
  Fixture() {
    test::save_identity_model(model);
    write_study(scan, 1);
  }
  DenoiseRequest request(const std::string& output) const {
    DenoiseRequest r;
    r.input = scan;
    r.output = output;
    r.model = model;
    r.denoise.window.tile = 16;
    return r;
  }
};

TEST(DenoiseRequest, OneStudyIsDenoisedAndSummarisedOnOneLine) {
  Fixture f;
  const std::string out = (f.dir.path() / "out.nii.gz").string();
  std::ostringstream log;
  const DenoiseOutcome outcome = run_denoise_request(f.request(out), log);
  EXPECT_FALSE(outcome.collection);
  EXPECT_FALSE(outcome.default_model);
  EXPECT_EQ(outcome.model, f.model);
  EXPECT_EQ(outcome.failed_studies(), "");
  const std::string summary = outcome.summary(f.scan);
  EXPECT_EQ(std::count(summary.begin(), summary.end(), '\n'), 1) << summary;
  EXPECT_NE(summary.find("12"), std::string::npos) << summary;  // the size is in the line
  // The identity model returns its input.
  EXPECT_TRUE(torch::allclose(io::read_image(out).data, io::read_image(f.scan).data, 1e-5, 1e-5));
}

TEST(DenoiseRequest, RulesAreCheckedBeforeTheModelLoadsOrAnythingIsWritten) {
  Fixture f;
  const fs::path out = f.dir.path() / "out.nii.gz";
  std::ostringstream log;
  DenoiseRequest r = f.request(out.string());
  r.model = (f.dir.path() / "missing.safetensors").string();  // never reached by these errors
  r.uncertainty = (f.dir.path() / "sd.nii.gz").string();
  expect_error([&] { run_denoise_request(r, log); }, {"--uncertainty needs --tta"});
  r.uncertainty.clear();
  r.format = "nii";
  expect_error([&] { run_denoise_request(r, log); }, {"--format applies to a folder or list of studies"});
  r.format.clear();
  r.output = f.scan;  // the output is the input
  expect_error([&] { run_denoise_request(r, log); }, {"scan.nii.gz", "is the input"});
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(f.dir.path() / "sd.nii.gz"));
}

TEST(DenoiseRequest, AFolderOfStudiesGoesToAFolderAndCountsItsOutcomes) {
  Fixture f;
  const fs::path scans = f.dir.path() / "scans";
  fs::create_directories(scans);
  write_study((scans / "a.nii.gz").string(), 2);
  write_study((scans / "b.nii.gz").string(), 3);
  std::ostringstream log;
  DenoiseRequest r = f.request((f.dir.path() / "denoised").string());
  r.input = scans.string();
  const DenoiseOutcome first = run_denoise_request(r, log);
  ASSERT_TRUE(first.collection);
  EXPECT_EQ(first.summary(r.input), "2 denoised, 0 already done, 0 failed, of 2 studies in " + r.input + "\n");
  EXPECT_TRUE(fs::exists(f.dir.path() / "denoised" / "a.nii.gz"));
  // A rerun skips both; an output that is a file, not a folder, is refused.
  EXPECT_EQ(run_denoise_request(r, log).summary(r.input),
            "0 denoised, 2 already done, 0 failed, of 2 studies in " + r.input + "\n");
  r.output = f.scan;
  expect_error([&] { run_denoise_request(r, log); }, {"is not a folder"});
}

TEST(DenoiseRequest, AFailedStudyIsAnOutcomeNamedInFailedStudies) {
  Fixture f;
  const fs::path scans = f.dir.path() / "scans";
  fs::create_directories(scans);
  write_study((scans / "good.nii.gz").string(), 4);
  test::write_bytes((scans / "bad.nii.gz").string(), "not an image");
  std::ostringstream log;
  DenoiseRequest r = f.request((f.dir.path() / "denoised").string());
  r.input = scans.string();
  const DenoiseOutcome outcome = run_denoise_request(r, log);
  EXPECT_EQ(outcome.failed_studies(), "bad.nii.gz");
  EXPECT_EQ(outcome.summary(r.input), "1 denoised, 0 already done, 1 failed, of 2 studies in " + r.input + "\n");
}

}  // namespace
}  // namespace unipet::infer
