#include <gtest/gtest.h>

#include "infer/infer_test_util.h"
#include "io/io_test_util.h"
#include "io/dicom_test_util.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"
#include "unipet/nn/model_file.h"

namespace unipet::test {
namespace {

TEST(CliInfo, PrintsGeometryUnitsAndTheNegativeVoxels) {
  TempDir dir;
  Volume v = awkward_volume(Units::BqPerMl);
  v.data = v.data.abs();
  v.data[1][1][1] = -0.5f;
  v.data[2][2][2] = -2.0f;
  io::write_image(v, dir / "pet.nii.gz");
  const auto r = unipet_cli("info " + q(dir / "pet.nii.gz"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const std::string part :
       {"format:      NIfTI", "size:        7 x 6 x 5 voxels", "spacing:     1.65, 2.1, 3.27 mm",
        "origin:      -120.25, 33.5, 402.75 mm", "units:       Bq/ml", "negative:    2 voxels, minimum -2",
        "SUV factor:  not available"})
    EXPECT_NE(r.output.find(part), std::string::npos) << "'" << part << "' not in:\n" << r.output;
}

TEST(CliInfo, ShowsTheSuvFactorOfADicomSeriesWithItsTags) {
  TempDir dir;
  std::filesystem::create_directories(dir / "pet");
  for (int k = 0; k < 2; ++k)
    pet_slice("1.2.826.0.1.3680043.99.40", k, 3.0 * k, 2, 2, {1, 2, 3, 4}, 1.0, 0)
        .save(dir / ("pet/" + std::to_string(k)));
  const auto r = unipet_cli("info " + q(dir / "pet"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const std::string part :
       {"SUV factor:  0.00029607502", "decayed dose 2.5331418e+08 Bq after 3600 s",
        "DecayCorrection (0054,1102): START", "RadionuclideTotalDose (0018,1074): 370000000 Bq",
        // The shipped model is calibrated, so info tries its noise estimate: 2 x 2 x 2 voxels is a
        // line saying why not, not a failure.
        "noise level: not measured: ", "too small to measure the noise in"})
    EXPECT_NE(r.output.find(part), std::string::npos) << "'" << part << "' not in:\n" << r.output;
  const auto overridden = unipet_cli("info " + q(dir / "pet") + " --suv-factor 0.5");
  EXPECT_NE(overridden.output.find("SUV factor:  0.5"), std::string::npos) << overridden.output;
}

TEST(CliInfo, ShowsWhatMadeADenoisedSeriesOrFile) {
  TempDir dir;
  save_identity_model(dir / "id.safetensors");
  write_pet_series(dir / "pet", "1.2.826.0.1.3680043.99.42", 3, 3.0, 4, 4,
                   [](int k) { return std::vector<int16_t>(16, static_cast<int16_t>(100 * (k + 1))); }, 1.0);
  for (const char* out : {"den", "den.nii.gz"}) {
    SCOPED_TRACE(out);
    auto r = unipet_cli("denoise -i " + q(dir / "pet") + " -o " + q(dir / out) + " --tile 16 -m " +
                        q(dir / "id.safetensors"));
    ASSERT_EQ(r.status, 0) << r.output;
    r = unipet_cli("info " + q(dir / out));
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string source = std::string(out) == "den" ? "source series: 1.2.826.0.1.3680043.99.42"
                                                         : "source:        " + (dir / "pet");
    for (const std::string& part :
         {std::string("provenance:  unipet "), std::string("denoised with model id.safetensors (sha256 "),
          std::string("made by:       unipet"), source})
      EXPECT_NE(r.output.find(part), std::string::npos) << "'" << part << "' not in:\n" << r.output;
  }
  // The original series has no provenance lines.
  EXPECT_EQ(unipet_cli("info " + q(dir / "pet")).output.find("provenance:"), std::string::npos);
}

TEST(CliInfo, ListsTheSeriesOfAFolderWithSeveral) {
  TempDir dir;
  std::filesystem::create_directories(dir / "study");
  io::write_dicom_series(awkward_volume(), dir / "study/a");
  io::write_dicom_series(awkward_volume(), dir / "study/b");
  const auto r = unipet_cli("info " + q(dir / "study"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 DICOM series, 2 PET"), std::string::npos) << r.output;
  const auto uid = io::list_dicom_series(dir / "study").front().series_uid;
  const auto one = unipet_cli("info " + q(dir / "study") + " --series " + uid);
  ASSERT_EQ(one.status, 0) << one.output;
  EXPECT_NE(one.output.find(uid), std::string::npos) << one.output;
}

TEST(CliInfo, DescribesAModelFile) {
  TempDir dir;
  nn::UniPET model(nn::UniPETOptions().width(16).blocks(2).san_width(32).san_depth(1));
  nn::save_unipet(dir / "m.safetensors", model, nn::IntensityNormalization{});
  const auto r = unipet_cli("info " + q(dir / "m.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("width:       16"), std::string::npos) << r.output;
}

TEST(CliInfo, BadInputsFailWithOneLineNamingTheFile) {
  TempDir dir;
  write_bytes(dir / "junk.nii", std::string(400, 'z'));
  write_raw_mha(dir / "nan.mha", {2, 2, 2}, {1, 2, NAN, 4, 5, 6, 7, 8});
  write_raw_mha(dir / "movie.mha", {2, 2, 2, 2}, std::vector<float>(16, 1.0f));
  write_raw_mha(dir / "flat.mha", {4, 4}, std::vector<float>(16, 1.0f));
  write_raw_mha(dir / "wide.mha", {2, 2, 2}, std::vector<float>(8, 1.0f), "ElementSpacing = 1 1 1e9\n");
  std::filesystem::create_directories(dir / "nopet");
  write_bytes(dir / "nopet/notes.txt", "hello");
  std::filesystem::create_directories(dir / "ctonly");
  pet_slice("1.2.826.0.1.3680043.99.41", 0, 0, 2, 2, {1, 2, 3, 4}, 1.0, 0)
      .set(0x0008, 0x0060, "CS", "CT")
      .save(dir / "ctonly/ct.dcm");
  const std::pair<std::string, std::string> cases[] = {{"junk.nii", "junk.nii"},
                                                       {"movie.mha", "4D"},
                                                       {"flat.mha", "2D"},
                                                       {"wide.mha", "absurd voxel spacing"},
                                                       {"nopet", "no DICOM series found"},
                                                       {"ctonly", "no PET series"},
                                                       {"missing.nii", "no such file"}};
  for (const auto& [name, problem] : cases) {
    const auto r = unipet_cli("info " + q(dir / name));
    EXPECT_EQ(r.status, 1) << name << ": " << r.output;
    const std::string line = error_line(r);
    EXPECT_NE(line.find(name), std::string::npos) << line;
    EXPECT_NE(line.find(problem), std::string::npos) << line;
  }
  // NaN and Inf voxels are described (and counted), not refused: info is how a user finds them.
  const auto r = unipet_cli("info " + q(dir / "nan.mha"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("non-finite voxels: 1 NaN, 0 Inf"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace unipet::test
