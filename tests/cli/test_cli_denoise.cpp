#include <filesystem>
#include <tuple>

#include <gtest/gtest.h>

#include "cli/fs_snapshot.h"
#include "infer/infer_test_util.h"
#include "io/dicom_test_util.h"
#include "io/dicom_validators.h"
#include "io/io_test_util.h"
#include "unipet/core/sha256.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"
#include "unipet/io/suv.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;

// A [12, 20, 18] Bq/ml volume (about 0..60 kBq/ml, so 0..24 SUV at the factor below: values
// above the 20 SUV clip too) with oblique geometry.
Volume study_volume(uint64_t seed) {
  torch::manual_seed(seed);
  Volume v = awkward_volume(Units::BqPerMl);
  v.data = torch::rand({12, 20, 18}) * 60000;
  return v;
}

constexpr const char* kFactor = " --suv-factor 0.0004";

std::string denoise(const std::string& args, const std::string& model) {
  return "denoise " + args + " --tile 16 -m " + q(model);
}

TEST(CliDenoise, NiftiKeepsGeometryAndUnitsAndTheIdentityModelReturnsTheInput) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  const Volume in = study_volume(1);
  io::write_image(in, dir / "in.nii.gz");
  for (const char* precision : {"fp32", "bf16"}) {
    SCOPED_TRACE(precision);
    const std::string out = dir / (std::string("out_") + precision + ".nii.gz");
    const auto r = unipet_cli(denoise("-i " + q(dir / "in.nii.gz") + " -o " + q(out) + kFactor +
                                          " --precision " + precision,
                                      dir / "id.safetensors"));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("Bq/ml"), std::string::npos) << r.output;
    const Volume back = io::read_image(out);
    EXPECT_TRUE(same_geometry(in, back, 1e-4));
    EXPECT_EQ(back.units, Units::BqPerMl);
    EXPECT_LE((back.data - in.data).abs().max().item<double>(), 60000 * 1e-6);
  }
}

TEST(CliDenoise, TtaUncertaintyOfTheIdentityIsZeroWithTheSameGeometry) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  const Volume in = study_volume(2);
  io::write_image(in, dir / "in.nrrd");
  const auto r = unipet_cli(denoise("-i " + q(dir / "in.nrrd") + " -o " + q(dir / "out.nrrd") + kFactor +
                                        " --tta --uncertainty " + q(dir / "sd.nii.gz"),
                                    dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  const Volume sd = io::read_image(dir / "sd.nii.gz");
  EXPECT_TRUE(same_geometry(in, sd, 1e-4));
  EXPECT_EQ(sd.units, Units::BqPerMl);
  EXPECT_LE(sd.data.abs().max().item<double>(), 60000 * 1e-6);
  EXPECT_LE((io::read_image(dir / "out.nrrd").data - in.data).abs().max().item<double>(), 60000 * 1e-6);
}

TEST(CliDenoise, DicomInBqmlComesBackAsADerivedDicomSeriesInBqmlWithTheSameSuv) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_pet_series(dir / "pet", "1.2.826.0.1.3680043.99.70", 6, 3.0, 10, 12, [](int k) {
    std::vector<int16_t> stored(10 * 12);
    for (size_t i = 0; i < stored.size(); ++i) stored[i] = static_cast<int16_t>((i * 37 + k * 1000) % 30000);
    return stored;
  }, 2.0);
  const auto in = io::read_dicom_series(dir / "pet");
  // No --suv-factor: the tags give it.
  auto r = unipet_cli(denoise("-i " + q(dir / "pet") + " -o " + q(dir / "out"), dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto out = io::read_dicom_series(dir / "out");
  EXPECT_EQ(out.volume.units, Units::BqPerMl);
  EXPECT_EQ(out.info.patient_id, "P001");
  EXPECT_NE(out.info.series_description.find("unipet"), std::string::npos);
  EXPECT_TRUE(same_geometry(in.volume, out.volume, 1e-3));
  EXPECT_NEAR(io::suv_factor(out.suv_tags).factor, io::suv_factor(in.suv_tags).factor, 1e-12);
  // int16 storage: half a step of each slice's max / 32767.
  EXPECT_LE((out.volume.data - in.volume.data).abs().max().item<double>(), 60000.0 / 32767);
  // A valid PET series that says what made it: dicom3tools finds no error in the source or in it.
  EXPECT_EQ(dicom_validation_errors(dir / "pet"), "");
  EXPECT_EQ(dicom_validation_errors(dir / "out"), "");
  EXPECT_EQ(out.derivation.image_type, "DERIVED\\PRIMARY\\DENOISED");
  EXPECT_EQ(out.derivation.source_series_uid, "1.2.826.0.1.3680043.99.70");
  EXPECT_NE(out.derivation.description.find("denoised with model id.safetensors (sha256 " +
                                            sha256_file(dir / "id.safetensors") + ")"),
            std::string::npos)
      << out.derivation.description;
  EXPECT_NE(out.derivation.contribution.find("unipet"), std::string::npos);
  EXPECT_EQ(out.info.series_number, "1003");
  EXPECT_EQ(out.info.series_description, "WB 3D test [unipet denoised]");
  // The same series to NIfTI.
  r = unipet_cli(denoise("-i " + q(dir / "pet") + " -o " + q(dir / "out.nii.gz"), dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  const Volume nifti = io::read_image(dir / "out.nii.gz");
  EXPECT_EQ(nifti.units, Units::BqPerMl);
  EXPECT_TRUE(same_geometry(in.volume, nifti, 1e-3));
  // The uncertainty map of a DICOM study is a derived series as well, and as valid.
  r = unipet_cli(denoise("-i " + q(dir / "pet") + " -o " + q(dir / "tta") + " --tta --uncertainty " + q(dir / "unc"),
                         dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(dicom_validation_errors(dir / "tta"), "");
  EXPECT_EQ(dicom_validation_errors(dir / "unc"), "");
  const auto unc = io::read_dicom_series(dir / "unc");
  EXPECT_EQ(unc.derivation.image_type, "DERIVED\\PRIMARY\\UNCERTAINTY");
  EXPECT_EQ(unc.info.series_number, "1004");
}

TEST(CliDenoise, AFolderOfStudiesRunsPastACorruptOneAndResumes) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  fs::create_directories(dir / "scans");
  io::write_image(study_volume(3), dir / "scans/a.nii.gz");
  io::write_image(study_volume(4), dir / "scans/b.mha");
  io::write_image(study_volume(5), dir / "scans/c.nii.gz");
  const std::string bytes = read_bytes(dir / "scans/c.nii.gz");
  write_bytes(dir / "scans/c.nii.gz", bytes.substr(0, bytes.size() / 2));
  const std::string args = "-i " + q(dir / "scans") + " -o " + q(dir / "out") + kFactor;
  auto r = unipet_cli(denoise(args, dir / "id.safetensors"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("[3/3] error: " + (dir / "scans/c.nii.gz")), std::string::npos) << r.output;
  EXPECT_NE(error_line(r).find("c.nii.gz"), std::string::npos) << r.output;
  std::vector<std::string> written;
  for (const auto& e : fs::directory_iterator(dir / "out")) written.push_back(e.path().filename().string());
  std::sort(written.begin(), written.end());
  // No partial c, no temporaries; each output has its sidecar.
  EXPECT_EQ(written, (std::vector<std::string>{"a.json", "a.nii.gz", "b.json", "b.mha"}));
  EXPECT_TRUE(torch::allclose(io::read_image(dir / "out/b.mha").data, study_volume(4).data, 1e-5, 0.1));
  // A rerun skips what is done; a study list works the same way, with paths relative to the list.
  r = unipet_cli(denoise(args, dir / "id.safetensors"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("0 denoised, 2 already done, 1 failed"), std::string::npos) << r.output;
  write_bytes(dir / "scans/list.txt", "# two of them\na.nii.gz\n\n" + (dir / "scans/b.mha") + "\n");
  r = unipet_cli(denoise("-i " + q(dir / "scans/list.txt") + " -o " + q(dir / "listed") + " --format nii" + kFactor,
                         dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "listed/a.nii") && fs::exists(dir / "listed/b.nii"));
}

// Every input counts: the image, the model, a list, the folder of studies and each DICOM study;
// an output among them, holding them or inside an input folder is refused before anything is
// written, with one line naming the output.
TEST(CliDenoise, NeverWritesOverOrIntoAnyOfItsInputs) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  fs::create_directories(dir / "scans/p1");
  io::write_image(study_volume(3), dir / "scans/a.nii.gz");
  for (int k = 0; k < 3; ++k)
    pet_slice("1.2.826.0.1.3680043.99.71", k, 3.0 * k, 4, 4, std::vector<int16_t>(16, static_cast<int16_t>(100 * (k + 1))),
              1.0, 0)
        .save(dir / ("scans/p1/" + std::to_string(k) + ".dcm"));
  write_bytes(dir / "scans/list.txt", "a.nii.gz\n");
  // A model whose name has an image extension: `-o` naming it once replaced it.
  fs::copy_file(dir / "id.safetensors", dir / "model.nii.gz");
  const std::string a = q(dir / "scans/a.nii.gz");
  // (args, the path the error names, whether it says which input): an existing folder as a
  // single study's uncertainty file is refused earlier, as a non-empty folder.
  const std::vector<std::tuple<std::string, std::string, bool>> cases = {
      {"-i " + a + " -o " + q(dir / "model.nii.gz") + kFactor + " --tile 16 -m " + q(dir / "model.nii.gz"),
       dir / "model.nii.gz", true},
      {"-i " + q(dir / "scans") + " -o " + q(dir / "scans/out") + kFactor, dir / "scans/out", true},
      {"-i " + q(dir / "scans/list.txt") + " -o " + q(dir / "scans") + kFactor, dir / "scans", true},
      {"-i " + q(dir / "scans/p1") + " -o " + q(dir / "scans/p1/denoised"), dir / "scans/p1/denoised", true},
      {"-i " + a + " -o " + q(dir / "out.nii.gz") + kFactor + " --tta --uncertainty " + q(dir / "scans"),
       dir / "scans", false},
      {"-i " + q(dir / "scans") + " -o " + q(dir / "out") + kFactor + " --tta --uncertainty " + q(dir / "scans/sd"),
       dir / "scans/sd", true},
  };
  for (const auto& [args, named, says_input] : cases) {
    SCOPED_TRACE(args);
    const FsSnapshot before = snapshot(dir.path());
    const std::string command =
        args.find(" -m ") == std::string::npos ? denoise(args, dir / "id.safetensors") : "denoise " + args;
    const auto r = unipet_cli(command);
    EXPECT_EQ(r.status, 1) << r.output;
    const std::string line = error_line(r);
    EXPECT_NE(line.find(named), std::string::npos) << r.output;
    if (says_input) {
      EXPECT_NE(line.find("input"), std::string::npos) << r.output;
    }
    EXPECT_EQ(snapshot_diff(before, snapshot(dir.path())), "");
  }
}

// Resume trusts only an output that reads back as the study's image: a 0-byte file, an empty
// folder or another size is a failed study naming it, and is left as it was.
TEST(CliDenoise, AResumedCollectionDoesNotTrustABrokenOutput) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  fs::create_directories(dir / "scans");
  io::write_image(study_volume(3), dir / "scans/a.nii.gz");
  io::write_image(study_volume(4), dir / "scans/b.nii.gz");
  io::write_image(study_volume(5), dir / "scans/c.nii.gz");
  fs::create_directories(dir / "out/b.nii.gz");
  write_bytes(dir / "out/a.nii.gz", "");
  Volume small = study_volume(6);
  small.data = small.data.slice(0, 0, 6).contiguous();
  io::write_image(small, dir / "out/c.nii.gz");
  const FsSnapshot before = snapshot(dir / "out");
  const auto r = unipet_cli(denoise("-i " + q(dir / "scans") + " -o " + q(dir / "out") + kFactor, dir / "id.safetensors"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("0 denoised, 0 already done, 3 failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((dir / "out/a.nii.gz") + ": exists but does not read back"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((dir / "out/b.nii.gz") + ": exists but does not read back"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((dir / "out/c.nii.gz") + ": exists but is 18 x 20 x 6, not the study's 18 x 20 x 12"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(snapshot_diff(before, snapshot(dir / "out")), "");
}

TEST(CliDenoise, AFolderOfDicomStudiesIsRecognisedAndEachStaysDicom) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  for (const char* patient : {"p1", "p2"}) {
    fs::create_directories(dir / ("scans/" + std::string(patient)));
    for (int k = 0; k < 3; ++k)
      pet_slice(std::string("1.2.826.0.1.3680043.99.7") + patient[1], k, 3.0 * k, 4, 4,
                std::vector<int16_t>(16, static_cast<int16_t>(100 * (k + 1))), 1.0, 0)
          .save(dir / ("scans/" + std::string(patient) + "/" + std::to_string(k) + ".dcm"));
  }
  const auto r = unipet_cli(denoise("-i " + q(dir / "scans") + " -o " + q(dir / "out"), dir / "id.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* patient : {"p1", "p2"})
    EXPECT_EQ(io::read_dicom_series(dir / ("out/" + std::string(patient))).volume.units, Units::BqPerMl);
  // One patient's folder alone is a single study.
  const auto one = unipet_cli(denoise("-i " + q(dir / "scans/p1") + " -o " + q(dir / "p1.nii.gz"), dir / "id.safetensors"));
  ASSERT_EQ(one.status, 0) << one.output;
}

TEST(CliDenoise, ATrainedModelDenoisesASimulatedLowDoseImage) {
  // A smooth body with Poisson noise at a low count level: the trained model must bring it
  // closer to the noise-free image (the CPU profile gains 4.7 dB on average over its inputs).
  TempDir dir;
  auto clean = smooth_body(40, 64, 64, 8, 0.8);
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(9);
  auto noisy = torch::poisson(clean * 3.0, gen) / 3.0;
  Volume in;
  in.data = noisy;
  in.spacing = {4, 4, 4};
  in.units = Units::SUV;
  io::write_image(in, dir / "low.nii.gz");
  const auto r = unipet_cli("denoise -i " + q(dir / "low.nii.gz") + " -o " + q(dir / "den.nii.gz") +
                            " --precision bf16 -m " + q(trained_model_path()));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto den = io::read_image(dir / "den.nii.gz").data;
  const double mse_in = (noisy - clean).pow(2).mean().item<double>();
  const double mse_out = (den - clean).pow(2).mean().item<double>();
  EXPECT_LT(mse_out, 0.5 * mse_in) << "MSE " << mse_in << " -> " << mse_out;
}

}  // namespace
}  // namespace unipet::test
