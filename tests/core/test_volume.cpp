#include <gtest/gtest.h>

#include "unipet/core/error.h"
#include "unipet/core/volume.h"

namespace unipet {
namespace {

Volume make_volume() {
  Volume v;
  v.data = torch::ones({4, 5, 6});
  v.spacing = {2.0, 3.0, 4.0};
  v.units = Units::BqPerMl;
  return v;
}

TEST(Volume, SizeIsReportedInWorldOrder) {
  const Volume v = make_volume();
  EXPECT_EQ(v.size_xyz(), (std::array<int64_t, 3>{6, 5, 4}));
  EXPECT_DOUBLE_EQ(v.voxel_volume_ml(), 0.024);
}

TEST(Volume, ValidateRejectsNanVoxelsWithTheirCount) {
  Volume v = make_volume();
  v.data[0][0][0] = std::nan("");
  v.data[1][0][0] = INFINITY;
  try {
    v.validate("x.nii");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.nii: 2 voxels are NaN or Inf"), std::string::npos);
  }
}

TEST(Volume, ValidateRejectsAbsurdSpacingAndSkewedDirections) {
  Volume v = make_volume();
  v.spacing[1] = 0.0;
  EXPECT_THROW(v.validate("a"), Error);
  v = make_volume();
  v.direction = {1, 0, 0, 0.5, 1, 0, 0, 0, 1};
  EXPECT_THROW(v.validate("a"), Error);
  v = make_volume();
  v.data = torch::ones({1, 4, 5, 6});
  EXPECT_THROW(v.validate("a"), Error);
  EXPECT_NO_THROW(make_volume().validate("a"));
}

TEST(Volume, SameGeometryComparesSizeSpacingOriginAndDirection) {
  const Volume a = make_volume();
  Volume b = make_volume();
  EXPECT_TRUE(same_geometry(a, b));
  b.origin[2] = 0.5;
  EXPECT_FALSE(same_geometry(a, b));
  b = with_geometry_of(a, torch::zeros({4, 5, 7}));
  EXPECT_FALSE(same_geometry(a, b));
}

TEST(Volume, UnitsRoundTripThroughText) {
  for (Units u : {Units::BqPerMl, Units::SUV, Units::Counts, Units::Unitless, Units::Unknown}) {
    EXPECT_EQ(units_from_string(to_string(u)), u);
  }
  EXPECT_THROW(units_from_string("furlongs"), Error);
}

}  // namespace
}  // namespace unipet
