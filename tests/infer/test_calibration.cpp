#include <cmath>
#include <sstream>

#include <gtest/gtest.h>

#include "infer/calibration_test_util.h"
#include "infer/infer_test_util.h"
#include "unipet/infer/calibration.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/infer/studies.h"
#include "unipet/io/image_io.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;

// One tiny dataset and one calibration of the committed CPU-profile model, shared by the tests.
class Calibration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir() = std::make_unique<TempDir>();
    dataset() = simulate_calibration_dataset(dir()->path());
    infer::CalibrateOptions o;
    o.dataset = dataset();
    o.model = trained_model_path();
    o.out = *dir() / "calibrated.safetensors";
    o.denoise.compute.device = "cpu";
    o.denoise.window.tile = 16;
    std::ostringstream log;
    result() = std::make_unique<infer::CalibrateResult>(infer::calibrate_model(o, log));
  }
  static void TearDownTestSuite() {
    result().reset();
    dir().reset();
  }
  static std::unique_ptr<TempDir>& dir() {
    static std::unique_ptr<TempDir> d;
    return d;
  }
  static std::string& dataset() {
    static std::string path;
    return path;
  }
  static std::unique_ptr<infer::CalibrateResult>& result() {
    static std::unique_ptr<infer::CalibrateResult> r;
    return r;
  }
  static std::string calibrated() { return *dir() / "calibrated.safetensors"; }
};

TEST_F(Calibration, WritesACopyWithTheSameWeightsAndTheCalibrationInItsMetadata) {
  const auto original = nn::load_unipet(trained_model_path());
  const auto copy = nn::load_unipet(calibrated());
  const auto a = nn::state_dict(*original.model), b = nn::state_dict(*copy.model);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
  for (const char* key : {infer::kDrfEstimatorKey, infer::kBlendKey, infer::kTrainedDrfsKey})
    EXPECT_TRUE(copy.metadata.count(key)) << key;
  const auto c = infer::read_calibration(calibrated());
  EXPECT_EQ(c.trained_drfs, (std::vector<double>{3, 12}));
  EXPECT_EQ(c.estimator->images, 3 * 3);  // three train subjects: full dose, DRF 3, DRF 12
  ASSERT_EQ(c.blend->knots.size(), 2u);   // one val subject at two DRFs
  EXPECT_LE(c.blend->knots[0].alpha, c.blend->knots[1].alpha);
  for (const auto& k : c.blend->knots) EXPECT_TRUE(k.alpha >= 0 && k.alpha <= 1);
  EXPECT_NE(result()->table().find("residual SD"), std::string::npos);
}

TEST_F(Calibration, EstimatorRanksTheDoseLevelsOfAHeldOutSubject) {
  const io::Dataset d = io::read_dataset(dataset());
  const auto* test_subject = d.subjects_in_split("test").at(0);
  const auto c = infer::read_calibration(calibrated());
  const double full = c.estimator->estimate(io::read_image(d.resolve(test_subject->full_dose))).log2_drf;
  const double drf3 = c.estimator->estimate(io::read_image(d.resolve(test_subject->low_dose.at(3)))).log2_drf;
  const double drf12 = c.estimator->estimate(io::read_image(d.resolve(test_subject->low_dose.at(12)))).log2_drf;
  EXPECT_LT(full, drf3);
  EXPECT_LT(drf3, drf12);
  // Two DRFs a factor 4 apart: the estimates should be about 2 apart in log2.
  EXPECT_NEAR(drf12 - drf3, 2.0, 0.75);
}

TEST_F(Calibration, BlendOffGivesTheUncalibratedOutputAndOnTheClosedForm) {
  const io::Dataset d = io::read_dataset(dataset());
  const auto* s = d.subjects_in_split("test").at(0);
  const std::string low = d.resolve(s->low_dose.at(3));
  infer::DenoiseOptions o;
  o.compute.device = "cpu";
  o.window.tile = 16;
  infer::StudyOptions study;
  study.suv_factor = io::subject_suv_factor(d, *s);
  const infer::Denoiser plain(trained_model_path(), o);
  infer::denoise_study(plain, low, *dir() / "plain.nii.gz", study);
  o.blend = false;
  const auto off_report = infer::denoise_study(infer::Denoiser(calibrated(), o), low, *dir() / "off.nii.gz", study);
  EXPECT_EQ(read_bytes(*dir() / "plain.nii.gz"), read_bytes(*dir() / "off.nii.gz"));
  EXPECT_FALSE(off_report.blend_alpha.has_value());
  ASSERT_TRUE(off_report.noise.has_value());
  o.blend = true;
  const auto on_report = infer::denoise_study(infer::Denoiser(calibrated(), o), low, *dir() / "on.nii.gz", study);
  ASSERT_TRUE(on_report.blend_alpha.has_value());
  const auto x = io::read_image(low).data, f = io::read_image(*dir() / "plain.nii.gz").data;
  const auto on = io::read_image(*dir() / "on.nii.gz").data;
  // α per voxel from the network's output in the model's units (SUV), as the blend was fitted.
  const auto blend = infer::read_calibration(calibrated()).blend;
  ASSERT_TRUE(blend.has_value());
  const auto alpha = blend->alpha_map(on_report.noise->log2_drf, f * *study.suv_factor);
  EXPECT_TRUE(torch::allclose(on, x + alpha * (f - x), 1e-4, 1e-2)) << (on - (x + alpha * (f - x))).abs().max();
  EXPECT_NEAR(*on_report.blend_alpha, blend->alpha_at(on_report.noise->log2_drf), 1e-12);
  EXPECT_NE(on_report.summary().find("blend alpha"), std::string::npos);
}

TEST_F(Calibration, ScanNoiseIgnoresUnitsAndWarnsOutsideTheTrainedRange) {
  const io::Dataset d = io::read_dataset(dataset());
  const auto* s = d.subjects_in_split("test").at(0);
  Volume low = io::read_image(d.resolve(s->low_dose.at(12)));
  io::write_image(low, *dir() / "bqml.nii.gz");
  low.data = low.data * 1e-3f;
  io::write_image(low, *dir() / "scaled.nii.gz");
  const auto a = infer::estimate_scan_noise(*dir() / "bqml.nii.gz", calibrated());
  const auto b = infer::estimate_scan_noise(*dir() / "scaled.nii.gz", calibrated());
  EXPECT_NEAR(a.estimate.log2_drf, b.estimate.log2_drf, 1e-4);

  infer::ModelCalibration c = infer::read_calibration(calibrated());
  c.trained_drfs = {50, 100};
  infer::DrfEstimate clean;
  clean.log2_drf = std::log2(3.0);
  clean.log2_sd = 0.2;
  EXPECT_NE(c.range_warning(clean).find("cleaner"), std::string::npos);
  clean.log2_drf = std::log2(400.0);
  EXPECT_NE(c.range_warning(clean).find("noisier"), std::string::npos);
  clean.log2_drf = std::log2(40.0);
  EXPECT_EQ(c.range_warning(clean), "");  // the interval reaches 50
}

TEST_F(Calibration, ModelsWithoutCalibrationAreNamedAndJunkMetadataRefused) {
  expect_error([] { infer::estimate_scan_noise("scan.nii.gz", trained_model_path()); },
               {"model_final.safetensors", "unipet calibrate"});
  const std::map<std::string, std::string> only_blend{{infer::kBlendKey, infer::read_calibration(calibrated()).blend->to_json()}};
  expect_error([&] { infer::ModelCalibration::from_metadata(only_blend, "half.safetensors"); },
               {"half.safetensors", "unipet.drf_estimator"});
  expect_error([] { infer::ModelCalibration::from_metadata({{infer::kTrainedDrfsKey, "[2, \"x\"]"}}, "m.safetensors"); },
               {"m.safetensors", "unipet.trained_drfs"});
}

}  // namespace
}  // namespace unipet::test
