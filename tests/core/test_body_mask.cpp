#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/core/body_mask.h"

namespace unipet {
namespace {

// A cylinder of SUV 2 along D (radius 7 voxels) with a cold "lung" disk inside, one hot voxel
// and one isolated speck of SUV 2 in the air.
struct TorsoCase {
  torch::Tensor image = torch::zeros({6, 20, 20});
  torch::Tensor cylinder;
  TorsoCase() {
    auto h = torch::arange(20, torch::kFloat32).view({1, 20, 1});
    auto w = torch::arange(20, torch::kFloat32).view({1, 1, 20});
    cylinder = ((h - 9.5).pow(2) + (w - 9.5).pow(2) <= 49.0).expand({6, 20, 20}).clone();
    auto lung = ((h - 9.5).pow(2) + (w - 6.0).pow(2) <= 4.0).expand({6, 20, 20});
    image.masked_fill_(cylinder, 2.0);
    image.masked_fill_(lung, 0.0);
    image[3][9][12] = 100.0;  // one hot voxel (the bladder) must not set the scale
    image[3][1][1] = 2.0;     // the speck: its 3×3×3 mean 2/27 is under 10% of 2
  }
};

TEST(EvalBodyMask, IsTheBodyOutlineWithHolesFilledAndNoSpecks) {
  TorsoCase c;
  auto mask = body_mask(c.image);
  EXPECT_EQ(mask.scalar_type(), torch::kBool);
  EXPECT_EQ(mask.sizes(), c.image.sizes());
  EXPECT_TRUE(mask.equal(c.cylinder))
      << "differs in " << (mask != c.cylinder).sum().item<int64_t>() << " voxels";
  EXPECT_TRUE(mask[2][9][6].item<bool>());   // inside the lung
  EXPECT_FALSE(mask[3][1][1].item<bool>());  // the speck
}

TEST(EvalBodyMask, AHotOrganLargerThanAPercentileDoesNotSetTheScale) {
  // A "bladder" of SUV 60 filling 0.33% of the volume (so it sets the 99.9th percentile), in a body of SUV 1
  // with a thin layer of SUV 0.3 (subcutaneous fat): 5% of the bladder would be 3 SUV and leave
  // nothing but the bladder; 10% of the tissue level (1) keeps the whole outline.
  TorsoCase c;
  c.image.masked_fill_(c.cylinder, 1.0);
  auto h = torch::arange(20, torch::kFloat32).view({1, 20, 1});
  auto w = torch::arange(20, torch::kFloat32).view({1, 1, 20});
  const auto rim = (((h - 9.5).pow(2) + (w - 9.5).pow(2)) > 30.0).expand({6, 20, 20}) & c.cylinder;
  c.image.masked_fill_(rim, 0.3);
  c.image.slice(0, 2, 4).slice(1, 9, 11).slice(2, 9, 11).fill_(60.0);
  auto mask = body_mask(c.image);
  EXPECT_TRUE(mask.equal(c.cylinder)) << "differs in " << (mask != c.cylinder).sum().item<int64_t>() << " voxels";
}

TEST(EvalBodyMask, AHighFractionKeepsOnlyTheHotterPart) {
  // Two thirds of the cylinder at SUV 2 (the typical level), a third at SUV 1: at 60% of 2 only
  // the SUV 2 part is body. Its rim, where the 3×3×3 mean takes in air, drops below 1.2 too.
  TorsoCase c;
  c.image.slice(0, 0, 2).mul_(0.5);
  auto mask = body_mask(c.image, 0.6);
  EXPECT_FALSE(mask.slice(0, 0, 2).any().item<bool>());
  EXPECT_FALSE((mask & ~c.cylinder).any().item<bool>());
  EXPECT_TRUE(mask.slice(0, 3, 5).slice(1, 4, 16).slice(2, 4, 16).equal(
      c.cylinder.slice(0, 3, 5).slice(1, 4, 16).slice(2, 4, 16)));
}

TEST(EvalBodyMask, RefusesBadFractionsAndEmptyImages) {
  test::expect_error([] { body_mask(torch::ones({4, 4, 4}), 0.0); }, {"body_mask", "fraction"});
  test::expect_error([] { body_mask(torch::ones({4, 4, 4}), 1.0); }, {"body_mask", "fraction"});
  test::expect_error([] { body_mask(torch::zeros({4, 4, 4})); }, {"body_mask", "mean"});
  test::expect_error([] { body_mask(torch::ones({4, 4})); }, {"body_mask", "[D, H, W]"});
}

}  // namespace
}  // namespace unipet
