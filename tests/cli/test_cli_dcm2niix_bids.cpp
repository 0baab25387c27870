// The NIfTI path most pipelines take: Debian's dcm2niix converts the tests' DICOM series to NIfTI
// and a JSON sidecar, and unipet must get the SUV factor from the sidecar (no --suv-factor) and
// give the SUV the DICOM path gives. dcm2niix is installed by `./run`: a missing one fails.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "infer/infer_test_util.h"
#include "io/dicom_test_util.h"
#include "io/io_test_util.h"
#include "unipet/core/sha256.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"
#include "unipet/io/sidecar.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;

// 8 slices of 16 x 16 in Bq/ml (one RescaleSlope, so dcm2niix keeps int16 with scl_slope).
void write_series(const std::string& folder, const std::string& decay) {
  write_pet_series(folder, "1.2.826.0.1.3680043.99.90", 8, 3.0, 16, 16, [](int k) {
    std::vector<int16_t> stored(16 * 16);
    for (size_t i = 0; i < stored.size(); ++i) stored[i] = static_cast<int16_t>((i * 131 + k * 977) % 20000);
    return stored;
  }, 2.0, [&](RawDicom& d) { d.set(0x0054, 0x1102, "CS", decay); });
}

// dcm2niix FOLDER into OUT/pet.nii.gz + OUT/pet.json; `anonymise` false keeps PatientWeight.
void dcm2niix(const std::string& folder, const std::string& out, bool anonymise) {
  ASSERT_TRUE(on_path("dcm2niix")) << "dcm2niix is not on PATH: ./run installs Debian's dcm2niix";
  fs::create_directories(out);
  const auto r = run_command("dcm2niix -z y -f pet -b y -ba " + std::string(anonymise ? "y" : "n") + " -o " + q(out) +
                             " " + q(folder));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(fs::exists(out + "/pet.nii.gz") && fs::exists(out + "/pet.json")) << r.output;
}

std::string denoise(const std::string& args, const std::string& model) {
  return "denoise " + args + " --tile 16 -m " + q(model);
}

TEST(CliDcm2niix, ANiftiAndItsSidecarGiveTheSuvOfTheDicomSeries) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_series(dir / "pet", "ADMIN");
  dcm2niix(dir / "pet", dir / "nii", false);
  // The DICOM path.
  auto r = unipet_cli(denoise("-i " + q(dir / "pet") + " -o " + q(dir / "den_dicom"), dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto dicom = io::read_dicom_series(dir / "den_dicom");
  const double dicom_factor = io::suv_factor(dicom.suv_tags).factor;
  const torch::Tensor dicom_suv = dicom.volume.data * dicom_factor;
  // The NIfTI path, with no --suv-factor: the sidecar gives it, and the output's sidecar too.
  r = unipet_cli(denoise("-i " + q(dir / "nii/pet.nii.gz") + " -o " + q(dir / "den.nii.gz"), dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto sidecar = io::read_sidecar(dir / "den.nii.gz");
  ASSERT_TRUE(sidecar.has_value());
  const double nifti_factor = io::sidecar_suv_factor(*sidecar).factor;
  const Volume nifti = io::read_image(dir / "den.nii.gz");
  EXPECT_EQ(nifti.units, Units::BqPerMl);
  const torch::Tensor nifti_suv = nifti.data * nifti_factor;
  EXPECT_NEAR(nifti_factor, dicom_factor, 1e-3 * dicom_factor);
  EXPECT_NEAR(nifti_factor, 75000.0 / 370e6, 1e-12);  // ADMIN: weight / dose
  // dcm2niix stores the rows flipped (RAS), so compare what does not depend on voxel order.
  for (const auto& [name, ours, theirs] :
       {std::tuple{"mean", nifti_suv.mean().item<double>(), dicom_suv.mean().item<double>()},
        std::tuple{"max", nifti_suv.max().item<double>(), dicom_suv.max().item<double>()},
        std::tuple{"sum of squares", nifti_suv.square().sum().item<double>(), dicom_suv.square().sum().item<double>()}})
    EXPECT_NEAR(ours, theirs, 1e-3 * std::abs(theirs)) << name;
  const auto doc = nlohmann::json::parse(sidecar->json);
  EXPECT_EQ(doc["GeneratedBy"][0]["ModelSHA256"], sha256_file(dir / "id.safetensors"));
  EXPECT_EQ(doc["Sources"][0], dir / "nii/pet.nii.gz");
  EXPECT_EQ(doc["Units"], "Bq/mL");
}

TEST(CliDcm2niix, AnAnonymisedSidecarNeedsWeightAndAStartCorrectionNeedsTheInjectionTime) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_series(dir / "admin", "ADMIN");
  dcm2niix(dir / "admin", dir / "anon", true);  // dcm2niix's default drops PatientWeight
  auto r = unipet_cli(denoise("-i " + q(dir / "anon/pet.nii.gz") + " -o " + q(dir / "a.nii.gz"), dir / "id.safetensors"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(error_line(r).find("pet.json: cannot compute SUV: no BodyWeight or PatientWeight"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir / "a.nii.gz") || fs::exists(dir / "a.json"));
  r = unipet_cli(denoise("-i " + q(dir / "anon/pet.nii.gz") + " -o " + q(dir / "a.nii.gz") + " --weight 75",
                         dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NEAR(io::sidecar_suv_factor(*io::read_sidecar(dir / "a.nii.gz")).factor, 75000.0 / 370e6, 1e-12);

  // Debian's dcm2niix (v1.0.20220720) writes no injection time: with START there is no factor.
  write_series(dir / "start", "START");
  dcm2niix(dir / "start", dir / "s", false);
  r = unipet_cli(denoise("-i " + q(dir / "s/pet.nii.gz") + " -o " + q(dir / "s.nii.gz"), dir / "id.safetensors"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(error_line(r).find("dcm2niix does not record the injection time"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "s.nii.gz"));
}

TEST(CliSidecar, BadSidecarsGiveOneLineAndNoOutput) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  const std::string good = R"("Units": "Bq/mL", "InjectedRadioactivity": 370, "InjectedRadioactivityUnits": "MBq",
    "TracerRadionuclide": "F18", "InjectionStart": 0, "ImageDecayCorrected": true, "ImageDecayCorrectionTime": 3600)";
  struct Case {
    std::string name, json, problem;
  };
  const Case cases[] = {
      {"junk", "{" + good + ", \"BodyWeight\": }", "not valid JSON"},
      {"nodose", R"({"Units": "Bq/mL", "BodyWeight": 75, "ImageDecayCorrectionTime": 0, "InjectionStart": 0})",
       "no InjectedRadioactivity"},
      {"kbq", R"({"Units": "kBq/mL", "BodyWeight": 75})", "Units is 'kBq/mL'"},
      {"zero", "{" + good + ", \"BodyWeight\": 0}", "BodyWeight/PatientWeight is 0 kg"},
      {"ct", "{" + good + ", \"BodyWeight\": 75, \"Modality\": \"CT\"}", "CT series, not PET"}};
  Volume v = awkward_volume(Units::Unknown);
  v.data = v.data.abs();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    io::write_image(v, dir / (c.name + ".nii.gz"));
    write_bytes(dir / (c.name + ".json"), c.json);
    const auto r = unipet_cli(denoise("-i " + q(dir / (c.name + ".nii.gz")) + " -o " + q(dir / (c.name + "_out.nii.gz")),
                                      dir / "id.safetensors"));
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(error_line(r).find(c.name + ".json: "), std::string::npos) << r.output;
    EXPECT_NE(error_line(r).find(c.problem), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir / (c.name + "_out.nii.gz")) || fs::exists(dir / (c.name + "_out.json")));
  }
}

TEST(CliSidecar, ABidsNamedStudyGetsBidsDerivativeNames) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  fs::create_directories(dir / "bids");
  Volume v = awkward_volume(Units::Unknown);
  v.data = v.data.abs();
  io::write_image(v, dir / "bids/sub-01_ses-1_pet.nii.gz");
  write_bytes(dir / "bids/sub-01_ses-1_pet.json",
              R"({"Units": "Bq/mL", "InjectedRadioactivity": 370, "InjectedRadioactivityUnits": "MBq", "BodyWeight": 75,
                  "TracerRadionuclide": "F18", "InjectionStart": 0, "ImageDecayCorrected": true,
                  "ImageDecayCorrectionTime": 3600})");
  io::write_image(v, dir / "bids/plain.nii.gz");
  write_bytes(dir / "bids/plain.json", read_bytes(dir / "bids/sub-01_ses-1_pet.json"));
  const auto r = unipet_cli(denoise("-i " + q(dir / "bids") + " -o " + q(dir / "derivatives"), dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* name : {"sub-01_ses-1_desc-denoised_pet.nii.gz", "sub-01_ses-1_desc-denoised_pet.json",
                           "plain.nii.gz", "plain.json"})
    EXPECT_TRUE(fs::exists(dir / (std::string("derivatives/") + name))) << name;
  // The output's sidecar gives the input's factor.
  EXPECT_NEAR(io::sidecar_suv_factor(*io::read_sidecar(dir / "derivatives/plain.nii.gz")).factor,
              2.960750161260463e-4, 1e-15);
}

}  // namespace
}  // namespace unipet::test
