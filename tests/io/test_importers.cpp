#include "unipet/io/importers.h"

#include <gtest/gtest.h>

#include "io/dicom_test_util.h"
#include "io/io_test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"

namespace unipet::io {
namespace {

using test::expect_error;
using test::TempDir;

Volume pet_like(float scale) {
  Volume v = test::awkward_volume(Units::BqPerMl);
  v.data = v.data.abs() * scale;
  return v;
}

// A tiny UDPET tree: patient A as DICOM folders (full, 1-4, 1-20), patient B as NIfTI files
// (full, 1-4), and a documentation folder that is not a patient.
void make_udpet_tree(const TempDir& dir) {
  const std::string root = dir / "UDPET";
  std::filesystem::create_directories(root + "/docs");
  test::write_bytes(root + "/docs/README.txt", "not a patient");
  const char* names[] = {"Full_dose", "1-4 dose", "1-20 dose"};
  const float scales[] = {1.0f, 0.25f, 0.05f};
  std::filesystem::create_directories(root + "/A");
  for (int i = 0; i < 3; ++i) write_dicom_series(pet_like(scales[i]), root + "/A/" + names[i]);
  std::filesystem::create_directories(root + "/B");
  write_image(pet_like(1.0f), root + "/B/Full_dose.nii.gz");
  write_image(pet_like(0.25f), root + "/B/1-4 dose.nii.gz");
}

TEST(Importers, UdpetNamesGiveTheirDoseReductionFactor) {
  EXPECT_EQ(udpet_drf_from_name("Full_dose"), 1.0);
  EXPECT_EQ(udpet_drf_from_name("full dose.nii.gz"), 1.0);
  EXPECT_EQ(udpet_drf_from_name("1-2 dose"), 2.0);
  EXPECT_EQ(udpet_drf_from_name("1-100 dose.nii"), 100.0);
  EXPECT_EQ(udpet_drf_from_name("1_50_dose"), 50.0);
  EXPECT_EQ(udpet_drf_from_name("README"), 0.0);
  EXPECT_EQ(udpet_drf_from_name("CT"), 0.0);
}

TEST(Importers, UdpetTreeOfDicomAndNiftiBecomesADataset) {
  TempDir dir;
  make_udpet_tree(dir);
  UdpetImportOptions o;
  o.root = dir / "UDPET";
  o.out = dir / "out/dataset.json";
  o.split.val_fraction = 0;
  o.split.test_fraction = 0.5;
  const Dataset written = import_udpet(o);
  const Dataset d = read_dataset(o.out);
  ASSERT_EQ(d.subjects.size(), 2u);
  EXPECT_EQ(d.source, "udpet");
  EXPECT_EQ(d.units, Units::BqPerMl);
  EXPECT_EQ(d.drfs, (std::vector<double>{4, 20}));
  const DatasetSubject& a = d.subjects[0];
  EXPECT_EQ(a.id, "A");
  EXPECT_EQ(a.full_dose, "images/A/full_dose.nii.gz");  // DICOM converted beside dataset.json
  EXPECT_EQ(a.low_dose.at(20), "images/A/drf_20.nii.gz");
  EXPECT_NE(a.strings.at("source_dir").find("UDPET/A"), std::string::npos);
  const Volume full_a = read_image(d.resolve(a.full_dose));
  EXPECT_TRUE(same_geometry(full_a, pet_like(1.0f), 1e-5));
  EXPECT_EQ(full_a.units, Units::BqPerMl);
  EXPECT_NEAR(read_image(d.resolve(a.low_dose.at(4))).data.max().item<double>(),
              pet_like(0.25f).data.max().item<double>(), 1e-3);
  const DatasetSubject& b = d.subjects[1];
  EXPECT_EQ(b.low_dose.size(), 1u);
  EXPECT_EQ(b.full_dose, "../UDPET/B/Full_dose.nii.gz");  // NIfTI referenced in place
  EXPECT_TRUE(std::filesystem::exists(d.resolve(b.low_dose.at(4))));
  // One of two subjects in test, deterministically.
  EXPECT_EQ(d.subjects_in_split("test").size(), 1u);
  const std::string first_split = a.split;
  o.out = dir / "again/dataset.json";
  EXPECT_EQ(import_udpet(o).subjects[0].split, first_split);
}

TEST(Importers, UdpetGeometryMismatchNamesBothFiles) {
  TempDir dir;
  std::filesystem::create_directories(dir / "UDPET/C");
  write_image(pet_like(1.0f), dir / "UDPET/C/Full_dose.nii.gz");
  Volume shifted = pet_like(0.5f);
  shifted.origin[2] += 3.0;
  write_image(shifted, dir / "UDPET/C/1-2 dose.nii.gz");
  UdpetImportOptions o;
  o.root = dir / "UDPET";
  o.out = dir / "dataset.json";
  expect_error([&] { import_udpet(o); }, {"geometry mismatch", "C/Full_dose.nii.gz", "C/1-2 dose.nii.gz"});
  EXPECT_FALSE(std::filesystem::exists(dir / "dataset.json"));
}

TEST(Importers, UdpetPatientWithoutFullDoseIsAnError) {
  TempDir dir;
  std::filesystem::create_directories(dir / "UDPET/D");
  write_image(pet_like(0.5f), dir / "UDPET/D/1-2 dose.nii");
  UdpetImportOptions o;
  o.root = dir / "UDPET";
  o.out = dir / "dataset.json";
  expect_error([&] { import_udpet(o); }, {"UDPET/D", "no Full_dose"});
}

TEST(Importers, PairsPatternsFindSubjectsAndEveryDrf) {
  TempDir dir;
  std::filesystem::create_directories(dir / "data/sub");
  for (const std::string id : {"p01", "p02", "p03"}) {
    write_image(pet_like(1.0f), dir / ("data/" + id + "_full.nii.gz"));
    write_image(pet_like(0.25f), dir / ("data/" + id + "_drf4.nii.gz"));
    write_image(pet_like(0.05f), dir / ("data/" + id + "_drf20.nii.gz"));
  }
  write_image(pet_like(1.0f), dir / "data/sub/ignored_full.nii.gz");  // '/' is not part of {id}
  PairsImportOptions o;
  o.full_pattern = dir / "data/{id}_full.nii.gz";
  o.low_patterns = {dir / "data/{id}_drf{drf}.nii.gz"};
  o.drfs = {4, 20};
  o.out = dir / "data/dataset.json";
  o.split.val_fraction = 1.0 / 3;
  o.split.test_fraction = 1.0 / 3;
  import_pairs(o);
  const Dataset d = read_dataset(o.out);
  ASSERT_EQ(d.subjects.size(), 3u);
  EXPECT_EQ(d.subjects[0].id, "p01");
  EXPECT_EQ(d.subjects[0].full_dose, "p01_full.nii.gz");
  EXPECT_EQ(d.subjects[2].low_dose.at(20), "p03_drf20.nii.gz");
  EXPECT_EQ(d.subjects_in_split("train").size(), 1u);
  EXPECT_EQ(d.subjects_in_split("val").size(), 1u);
  EXPECT_EQ(d.subjects_in_split("test").size(), 1u);
}

TEST(Importers, PairsMissingLowDoseAndMismatchesAreErrors) {
  TempDir dir;
  write_image(pet_like(1.0f), dir / "a_full.nii");
  PairsImportOptions o;
  o.full_pattern = dir / "{id}_full.nii";
  o.low_patterns = {dir / "{id}_low.nii"};
  o.drfs = {10};
  o.out = dir / "dataset.json";
  expect_error([&] { import_pairs(o); }, {"subject a", "a_low.nii", "does not exist"});
  Volume coarse = pet_like(0.1f);
  coarse.spacing[0] *= 2;
  write_image(coarse, dir / "a_low.nii");
  expect_error([&] { import_pairs(o); }, {"geometry mismatch", "a_full.nii", "a_low.nii"});
  o.full_pattern = dir / "nothing_{id}.nii";
  expect_error([&] { import_pairs(o); }, {"matches no file"});
  o.full_pattern = dir / "a_full.nii";
  expect_error([&] { import_pairs(o); }, {"{id} exactly once"});
  EXPECT_FALSE(std::filesystem::exists(dir / "dataset.json"));
}

TEST(Importers, SplitsAreDeterministicAndRespectFractions) {
  std::vector<DatasetSubject> subjects(20);
  for (int i = 0; i < 20; ++i) subjects[i].id = "s" + std::to_string(i);
  SplitOptions o;
  o.val_fraction = 0.2;
  o.test_fraction = 0.1;
  assign_splits(subjects, o);
  auto copy = subjects;
  assign_splits(copy, o);
  int val = 0, test = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(subjects[i].split, copy[i].split);
    val += subjects[i].split == "val";
    test += subjects[i].split == "test";
  }
  EXPECT_EQ(val, 4);
  EXPECT_EQ(test, 2);
  o.val_fraction = 0.95;
  expect_error([&] { assign_splits(subjects, o); }, {"val + test < 1"});
}

}  // namespace
}  // namespace unipet::io
