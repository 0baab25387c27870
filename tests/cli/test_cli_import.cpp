#include <gtest/gtest.h>

#include "io/io_test_util.h"
#include "unipet/io/dataset.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"

namespace unipet::test {
namespace {

TEST(CliImport, UdpetTreeBecomesADatasetJson) {
  TempDir dir;
  std::filesystem::create_directories(dir / "UDPET/p1");
  std::filesystem::create_directories(dir / "UDPET/p2");
  io::write_dicom_series(awkward_volume(), dir / "UDPET/p1/Full_dose");
  io::write_dicom_series(awkward_volume(), dir / "UDPET/p1/1-10 dose");
  io::write_image(awkward_volume(), dir / "UDPET/p2/Full_dose.nii.gz");
  io::write_image(awkward_volume(), dir / "UDPET/p2/1-10 dose.nii.gz");
  const auto r = unipet_cli("import udpet " + q(dir / "UDPET") + " --out " + q(dir / "ds/dataset.json") +
                            " --val 0 --test 0");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 subjects (2 train, 0 val, 0 test), DRFs 10"), std::string::npos) << r.output;
  const io::Dataset d = io::read_dataset(dir / "ds/dataset.json");
  EXPECT_EQ(d.subjects.at(0).low_dose.at(10), "images/p1/drf_10.nii.gz");
}

TEST(CliImport, PairsUsePatternsAndRejectMismatchedGeometry) {
  TempDir dir;
  io::write_image(awkward_volume(), dir / "s1_full.nii");
  io::write_image(awkward_volume(), dir / "s1_low4.nii");
  const std::string args = "import pairs --full " + q(dir / "{id}_full.nii") + " --low " +
                           q(dir / "{id}_low{drf}.nii") + " --drf 4 --out " + q(dir / "dataset.json");
  const auto ok = unipet_cli(args);
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_EQ(io::read_dataset(dir / "dataset.json").subjects.at(0).id, "s1");
  std::filesystem::remove(dir / "dataset.json");
  Volume moved = awkward_volume();
  moved.origin[0] += 10;
  io::write_image(moved, dir / "s1_low4.nii");
  const auto bad = unipet_cli(args);
  EXPECT_EQ(bad.status, 1);
  const std::string line = error_line(bad);
  EXPECT_NE(line.find("s1_full.nii"), std::string::npos) << line;
  EXPECT_NE(line.find("s1_low4.nii"), std::string::npos) << line;
  EXPECT_FALSE(std::filesystem::exists(dir / "dataset.json"));
}

}  // namespace
}  // namespace unipet::test
