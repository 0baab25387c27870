// `unipet calibrate`, `unipet estimate-drf` and what a calibrated model changes in `info` and
// `denoise`, run as the real binary on a tiny simulated dataset.
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "infer/calibration_test_util.h"
#include "infer/infer_test_util.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/io/dataset.h"

namespace unipet::test {
namespace {

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(CliCalibrate, CalibratesThenEstimatesDescribesAndBlends) {
  TempDir dir;
  const std::string dataset = simulate_calibration_dataset(dir.path());
  const io::Dataset d = io::read_dataset(dataset);
  const auto* s = d.subjects_in_split("test").at(0);
  const std::string full = d.resolve(s->full_dose), low = d.resolve(s->low_dose.at(12));
  const std::string model = trained_model_path(), calibrated = dir / "cal.safetensors";

  auto r = unipet_cli("calibrate --dataset " + q(dataset) + " -m " + q(model) + " -o " + q(calibrated) +
                      " --tile 16 --threads 1 --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("residual SD"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("alpha"), std::string::npos) << r.output;

  r = unipet_cli("estimate-drf " + q(low) + " -m " + q(calibrated));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(count(r.output, "\n"), 1u) << r.output;
  EXPECT_NE(r.output.find("effective DRF"), std::string::npos) << r.output;
  r = unipet_cli("estimate-drf " + q(low) + " -m " + q(calibrated) + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_LT(j.at("low").get<double>(), j.at("drf").get<double>());
  EXPECT_GT(j.at("high").get<double>(), j.at("drf").get<double>());
  EXPECT_EQ(j.at("trained_drfs").get<std::vector<double>>(), (std::vector<double>{3, 12}));

  r = unipet_cli("estimate-drf -m " + q(calibrated) + " --dataset " + q(dataset) + " --split test");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| all | 3 |"), std::string::npos) << r.output;

  r = unipet_cli("info " + q(calibrated));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("blend:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trained on:  DRF 3, 12"), std::string::npos) << r.output;
  r = unipet_cli("info " + q(low) + " -m " + q(calibrated));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("noise level: effective DRF"), std::string::npos) << r.output;

  // evaluate scores the network alone (U) and the blend (U+blend), or the network only with --blend off.
  r = unipet_cli("evaluate --dataset " + q(dataset) + " --method U=" + q(calibrated) + " --out " + q(dir / "report") +
                 " --baseline lowdose --tile 16 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string csv = read_bytes(dir / "report/metrics.csv");
  EXPECT_NE(csv.find(",U+blend,"), std::string::npos) << csv.substr(0, 400);
  EXPECT_NE(csv.find(",U,"), std::string::npos);
  r = unipet_cli("evaluate --dataset " + q(dataset) + " --method U=" + q(calibrated) + " --out " + q(dir / "report_off") +
                 " --baseline lowdose --tile 16 --threads 1 --blend off");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_bytes(dir / "report_off/metrics.csv").find("U+blend"), std::string::npos);

  // Blend off: byte for byte what the uncalibrated model writes.
  std::ostringstream factor;
  factor.precision(17);
  factor << io::subject_suv_factor(d, *s);
  const std::string units = " --suv-factor " + factor.str() + " --tile 16 --threads 1";
  r = unipet_cli("denoise -i " + q(low) + " -o " + q(dir / "plain.nii.gz") + " -m " + q(model) + units);
  ASSERT_EQ(r.status, 0) << r.output;
  r = unipet_cli("denoise -i " + q(low) + " -o " + q(dir / "off.nii.gz") + " -m " + q(calibrated) + units + " --blend off");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_bytes(dir / "plain.nii.gz"), read_bytes(dir / "off.nii.gz"));
  r = unipet_cli("denoise -i " + q(low) + " -o " + q(dir / "on.nii.gz") + " -m " + q(calibrated) + units);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("blend alpha"), std::string::npos) << r.output;
  EXPECT_NE(read_bytes(dir / "plain.nii.gz"), read_bytes(dir / "on.nii.gz"));

  // A model said to be trained on DRF 50 to 100 only: the full dose gets exactly one warning line.
  auto loaded = nn::load_unipet(calibrated);
  auto c = infer::ModelCalibration::from_metadata(loaded.metadata, calibrated);
  c.trained_drfs = {50, 100};
  c.estimator->residual_sd = 0.1;
  auto metadata = loaded.metadata;
  for (const auto& [key, value] : c.metadata()) metadata[key] = value;
  nn::save_unipet(dir / "narrow.safetensors", loaded.model, loaded.normalization, metadata);
  r = unipet_cli("denoise -i " + q(full) + " -o " + q(dir / "full_out.nii.gz") + " -m " + q(dir / "narrow.safetensors") + units);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(count(r.output, "warning"), 1u) << r.output;
  EXPECT_NE(r.output.find("cleaner"), std::string::npos) << r.output;

  // The blend refitted alone: the estimator is the model's own, byte for byte, and no train split is read.
  r = unipet_cli("calibrate --dataset " + q(dataset) + " -m " + q(dir / "narrow.safetensors") + " -o " +
                 q(dir / "refit.safetensors") + " --estimator-split keep --tile 16 --threads 1 --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto refit = nn::load_unipet(dir / "refit.safetensors").metadata;
  EXPECT_EQ(refit.at(infer::kDrfEstimatorKey), metadata.at(infer::kDrfEstimatorKey));
  EXPECT_EQ(refit.at(infer::kBlendKey), loaded.metadata.at(infer::kBlendKey));

  // The uncalibrated model given the calibrated one's estimator: that estimator byte for byte, and
  // the blend refitted to the same table (same network, same estimator, same val split).
  r = unipet_cli("calibrate --dataset " + q(dataset) + " -m " + q(model) + " -o " + q(dir / "grafted.safetensors") +
                 " --estimator-from " + q(calibrated) + " --tile 16 --threads 1 --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto grafted = nn::load_unipet(dir / "grafted.safetensors").metadata;
  EXPECT_EQ(grafted.at(infer::kDrfEstimatorKey), loaded.metadata.at(infer::kDrfEstimatorKey));
  EXPECT_EQ(grafted.at(infer::kBlendKey), loaded.metadata.at(infer::kBlendKey));

  // With the full doses as DRF-1 inputs: one more knot, below the others, at alpha 0 (the full
  // dose is its own target), so a scan that clean keeps itself.
  r = unipet_cli("calibrate --dataset " + q(dataset) + " -m " + q(calibrated) + " -o " +
                 q(dir / "identity.safetensors") + " --estimator-split keep --blend-identity on --tile 16 --threads 1 --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto plain_blend = *infer::read_calibration(calibrated).blend;
  const auto identity_blend = *infer::read_calibration(dir / "identity.safetensors").blend;
  ASSERT_EQ(identity_blend.knots.size(), plain_blend.knots.size() + 1) << r.output;
  EXPECT_EQ(identity_blend.knots.front().drf, 1.0);
  EXPECT_EQ(identity_blend.knots.front().alpha, 0.0);
  EXPECT_LT(identity_blend.knots.front().log2_n, plain_blend.knots.front().log2_n);
  EXPECT_EQ(identity_blend.alpha_at(identity_blend.knots.front().log2_n - 1), 0.0);
}

}  // namespace
}  // namespace unipet::test
