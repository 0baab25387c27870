#include <gtest/gtest.h>

#include "reference.h"
#include "unipet/core/error.h"
#include "unipet/nn/losses.h"

namespace unipet::nn {
namespace {

TEST(StylizedRegionMask, MatchesTheReferenceMask) {
  auto full = unipet::test::reference_tensor("metric_vectors.safetensors", "reference");
  auto expected = unipet::test::reference_tensor("metric_vectors.safetensors", "textured_mask_thresh_0.5");
  auto mask = stylized_region_mask(full, 0.5);
  EXPECT_EQ(mask.sizes(), full.sizes());
  EXPECT_EQ(mask.scalar_type(), torch::kFloat32);
  // Both classes occur, so the comparison is not trivially all-zero or all-one.
  EXPECT_GT(expected.sum().item<double>(), 0.0);
  EXPECT_LT(expected.sum().item<double>(), static_cast<double>(expected.numel()));
  EXPECT_EQ((mask != expected).sum().item<int64_t>(), 0);
}

TEST(StylizedRegionMask, FlatImagesHaveNoStylizedInterior) {
  auto flat = torch::full({1, 1, 6, 6, 6}, 3.0f);
  // Zero padding makes the border "textured"; the interior of a constant image is not.
  auto mask = stylized_region_mask(flat, 1e-3);
  EXPECT_EQ(mask.slice(2, 1, 5).slice(3, 1, 5).slice(4, 1, 5).sum().item<double>(), 0.0);
  EXPECT_EQ(mask[0][0][0][0][0].item<float>(), 1.0f);
}

TEST(LocalVariance, EqualsTheBoxVarianceInTheInterior) {
  torch::manual_seed(8);
  auto x = torch::randn({1, 1, 5, 5, 5}, torch::kFloat64);
  auto var = local_variance(x);
  auto box = x.slice(2, 1, 4).slice(3, 1, 4).slice(4, 1, 4);
  const double expected = box.var(/*unbiased=*/false).item<double>();
  EXPECT_NEAR(var[0][0][2][2][2].item<double>(), expected, 1e-12);
}

TEST(Losses, AreMeanAbsoluteErrorsAndCheckShapes) {
  auto a = torch::tensor({1.0f, 2.0f, 3.0f}), b = torch::tensor({2.0f, 2.0f, 0.0f});
  EXPECT_FLOAT_EQ(reconstruction_loss(a, b).item<float>(), 4.0f / 3.0f);
  EXPECT_FLOAT_EQ(style_alignment_loss(a, b).item<float>(), 4.0f / 3.0f);
  EXPECT_THROW(reconstruction_loss(a, torch::zeros({4})), Error);
  EXPECT_THROW(style_alignment_loss(a, torch::zeros({2})), Error);
}

}  // namespace
}  // namespace unipet::nn
