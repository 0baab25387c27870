#include "unipet/io/pet_image.h"

#include <gtest/gtest.h>

#include "io/dicom_test_util.h"
#include "io/io_test_util.h"
#include "io/nifti_test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/image_io.h"

namespace unipet::io {
namespace {

using test::expect_error;
using test::TempDir;

constexpr double kHandSuvFactor = 2.960750161260463e-4;  // see test_suv.cpp

// A 3-slice DICOM PET series with full SUV tags; values 100 * stored.
std::string make_dicom(const TempDir& dir) {
  const std::string folder = dir / "dicom";
  std::filesystem::create_directories(folder);
  for (int k = 0; k < 3; ++k)
    test::pet_slice("1.2.826.0.1.3680043.99.30", k, 4.0 * k, 2, 3, {0, 1, 2, 3, 4, -1}, 100.0, 0)
        .save(folder + "/s" + std::to_string(k) + ".dcm");
  return folder;
}

TEST(PetImage, DicomToNiftiInSuvUsesTheTagFactorAndKeepsGeometry) {
  TempDir dir;
  const std::string dicom = make_dicom(dir);
  ConvertOptions o;
  o.to = "suv";
  convert_pet(dicom, dir / "suv.nii.gz", o);
  const Volume suv = read_image(dir / "suv.nii.gz");
  const Volume bq = read_pet(dicom).volume;
  EXPECT_EQ(suv.units, Units::SUV);
  EXPECT_TRUE(same_geometry(suv, bq, 1e-5));
  EXPECT_TRUE(torch::allclose(suv.data, bq.data * kHandSuvFactor, 1e-6, 1e-9));
}

TEST(PetImage, SuvBackToBqmlNeedsAnExplicitFactor) {
  TempDir dir;
  write_image(test::awkward_volume(Units::SUV), dir / "suv.nii");
  ConvertOptions o;
  o.to = "bqml";
  expect_error([&] { convert_pet(dir / "suv.nii", dir / "bq.nii", o); }, {"suv.nii", "--suv-factor"});
  EXPECT_FALSE(std::filesystem::exists(dir / "bq.nii"));
  o.suv_factor = 2.0;
  convert_pet(dir / "suv.nii", dir / "bq.nii", o);
  const Volume bq = read_image(dir / "bq.nii");
  EXPECT_EQ(bq.units, Units::BqPerMl);
  EXPECT_TRUE(torch::allclose(bq.data, test::awkward_volume().data / 2.0));
}

TEST(PetImage, NiftiToSuvWithoutDicomTagsAsksForTheFactor) {
  TempDir dir;
  write_image(test::awkward_volume(Units::Unknown), dir / "x.nrrd");
  ConvertOptions o;
  o.to = "suv";
  expect_error([&] { convert_pet(dir / "x.nrrd", dir / "y.nrrd", o); },
               {"x.nrrd", "no SUV tags", "--suv-factor"});
}

TEST(PetImage, ConvertingDicomToDicomMakesADerivedSeries) {
  TempDir dir;
  const std::string dicom = make_dicom(dir);
  convert_pet(dicom, dir / "derived", {});
  const PetImage derived = read_pet(dir / "derived");
  ASSERT_TRUE(derived.dicom.has_value());
  EXPECT_EQ(derived.dicom->info.patient_id, "P001");
  EXPECT_NEAR(suv_factor_for(derived).factor, kHandSuvFactor, 1e-15);
  EXPECT_TRUE(same_geometry(derived.volume, read_pet(dicom).volume, 1e-6));
}

TEST(PetImage, DescriptionReportsGeometryNegativesAndSuvTags) {
  TempDir dir;
  const std::string text = describe_pet(make_dicom(dir));
  for (const std::string part :
       {"DICOM series (3 files)", "3 x 2 x 3 voxels", "spacing:     2, 2.5, 4 mm", "units:       Bq/ml",
        "negative:    3 voxels, minimum -100", "SUV factor:  0.00029607502",
        "PatientWeight (0010,1030): 75 kg", "RadiopharmaceuticalStartTime (0018,1072): 100000"})
    EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in:\n" << text;
  write_image(test::awkward_volume(), dir / "plain.mha");
  const std::string plain = describe_pet(dir / "plain.mha");
  EXPECT_NE(plain.find("SUV factor:  not available"), std::string::npos) << plain;
}

TEST(PetImage, DescriptionCountsNanAndInfVoxelsThatReadingRefuses) {
  TempDir dir;
  std::vector<float> values(27, 2.0f);
  values[0] = -1.0f;
  values[4] = std::nanf("");
  values[5] = std::nanf("");
  values[9] = INFINITY;
  test::write_bytes(dir / "nan.nii.gz", test::gzip_bytes(test::NiftiBytes(3, 3, 3, values).bytes()));
  expect_error([&] { read_pet(dir / "nan.nii.gz"); }, {"nan.nii.gz", "3 voxels are NaN or Inf"});
  const std::string text = describe_pet(dir / "nan.nii.gz");
  for (const std::string part : {"non-finite voxels: 2 NaN, 1 Inf", "min -1, max 2", "(finite voxels)",
                                 "negative:    1 voxels, minimum -1"})
    EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in:\n" << text;
  const std::string clean = describe_pet(make_dicom(dir));
  EXPECT_NE(clean.find("non-finite voxels: 0 NaN, 0 Inf"), std::string::npos) << clean;
}

TEST(PetImage, DescribingAFolderWithSeveralPetSeriesListsThem) {
  TempDir dir;
  std::filesystem::create_directories(dir / "study");
  write_dicom_series(test::awkward_volume(), dir / "study/one");
  write_dicom_series(test::awkward_volume(), dir / "study/two");
  const std::string text = describe_pet(dir / "study");
  EXPECT_NE(text.find("2 DICOM series, 2 PET"), std::string::npos) << text;
  EXPECT_NE(text.find("choose one with --series"), std::string::npos) << text;
}

}  // namespace
}  // namespace unipet::io
