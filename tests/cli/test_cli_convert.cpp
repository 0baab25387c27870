#include <gtest/gtest.h>

#include "io/io_test_util.h"
#include "io/dicom_test_util.h"
#include "io/dicom_validators.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"

namespace unipet::test {
namespace {

TEST(CliConvert, EveryFormatInTurnKeepsValuesAndObliqueGeometry) {
  TempDir dir;
  const Volume original = awkward_volume(Units::BqPerMl);
  io::write_image(original, dir / "a.nii");
  const std::string chain[] = {"a.nii", "b.mha", "c.mhd", "d.nrrd", "e_dicom", "f.nii.gz"};
  for (size_t i = 1; i < std::size(chain); ++i) {
    const auto r = unipet_cli("convert " + q(dir / chain[i - 1]) + " " + q(dir / chain[i]));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(dicom_validation_errors(dir / "e_dicom"), "");  // a standalone series from a NIfTI
  const Volume last = io::read_image(dir / "f.nii.gz");
  EXPECT_TRUE(same_geometry(original, last, 1e-4));
  EXPECT_EQ(last.units, Units::BqPerMl);
  // Only the DICOM step quantises: half a step of each slice's max / 32767.
  const double tolerance = original.data.abs().max().item<double>() / 32767.0;
  EXPECT_LE((last.data - original.data).abs().max().item<double>(), tolerance);
}

TEST(CliConvert, DicomToSuvUsesTheTagsAndSuvFactorOverridesThem) {
  TempDir dir;
  write_pet_series(dir / "pet", "1.2.826.0.1.3680043.99.50", 2, 3.0, 2, 2,
                   [](int) { return std::vector<int16_t>{1000, 2000, 3000, 4000}; }, 1.0);
  ASSERT_EQ(unipet_cli("convert " + q(dir / "pet") + " " + q(dir / "suv.nrrd") + " --to suv").status, 0);
  const Volume suv = io::read_image(dir / "suv.nrrd");
  EXPECT_EQ(suv.units, Units::SUV);
  EXPECT_NEAR(suv.data[0][0][0].item<double>(), 1000 * 2.960750161260463e-4, 1e-6);
  ASSERT_EQ(
      unipet_cli("convert " + q(dir / "pet") + " " + q(dir / "suv2.nrrd") + " --to suv --suv-factor 0.001")
          .status,
      0);
  EXPECT_NEAR(io::read_image(dir / "suv2.nrrd").data[0][0][0].item<double>(), 1.0, 1e-6);
  // And to a DICOM series in SUV (GML), still derived from the patient's series.
  ASSERT_EQ(unipet_cli("convert " + q(dir / "pet") + " " + q(dir / "suv_dicom") + " --to suv").status, 0);
  const auto derived = io::read_dicom_series(dir / "suv_dicom");
  EXPECT_EQ(derived.volume.units, Units::SUV);
  EXPECT_EQ(derived.info.patient_id, "P001");
  EXPECT_EQ(derived.derivation.image_type, "DERIVED\\PRIMARY\\CONVERTED");
  EXPECT_NE(derived.derivation.description.find("converted to SUV from series 1.2.826.0.1.3680043.99.50"),
            std::string::npos)
      << derived.derivation.description;
  EXPECT_EQ(dicom_validation_errors(dir / "pet"), "");
  EXPECT_EQ(dicom_validation_errors(dir / "suv_dicom"), "");
}

TEST(CliConvert, FailuresExitNonZeroAndLeaveNoOutput) {
  TempDir dir;
  write_raw_mha(dir / "nan.mha", {2, 2, 2}, {1, 2, NAN, 4, 5, 6, 7, 8});
  io::write_image(awkward_volume(), dir / "good.nii");
  const std::string bytes = read_bytes(dir / "good.nii");
  write_bytes(dir / "cut.nii", bytes.substr(0, bytes.size() / 2));
  std::filesystem::create_directories(dir / "noweight");
  for (int k = 0; k < 2; ++k)
    pet_slice("1.2.826.0.1.3680043.99.51", k, 3.0 * k, 2, 2, {1, 2, 3, 4}, 1.0, 0)
        .erase(0x0010, 0x1030)
        .save(dir / ("noweight/" + std::to_string(k) + ".dcm"));
  struct Case {
    std::string args, output, problem;
  };
  const Case cases[] = {
      {q(dir / "nan.mha") + " " + q(dir / "o1.nii"), "o1.nii", "NaN or Inf"},
      {q(dir / "cut.nii") + " " + q(dir / "o2.nii.gz"), "o2.nii.gz", "truncated"},
      {q(dir / "noweight") + " " + q(dir / "o3.nii") + " --to suv", "o3.nii",
       "PatientWeight (0010,1030) is missing"},
      {q(dir / "nan.mha") + " " + q(dir / "o4_dicom"), "o4_dicom", "NaN or Inf"},
      {q(dir / "good.nii") + " " + q(dir / "o5.nii") + " --to suv", "o5.nii", "--suv-factor"},
      {q(dir / "good.nii") + " " + q(dir / "o6.png"), "o6.png", "unknown image format"}};
  for (const auto& c : cases) {
    const auto r = unipet_cli("convert " + c.args);
    EXPECT_EQ(r.status, 1) << c.args << ": " << r.output;
    EXPECT_NE(error_line(r).find(c.problem), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / c.output)) << c.output << " was left behind";
  }
  // Nothing temporary is left either.
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".unipet-tmp"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace unipet::test
