#include <gtest/gtest.h>

#include "reference.h"
#include "unipet/core/error.h"
#include "unipet/nn/modulated_conv.h"

namespace unipet::nn {
namespace {

TEST(ModulatedConv3d, DemodulatedWeightsHaveUnitNorm) {
  torch::manual_seed(1);
  ModulatedConv3d conv(ModulatedConv3dOptions(8, 6));
  auto style = torch::randn({3, 8});
  auto w = conv->modulated_weight(style);
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{3, 6, 8, 3, 3, 3}));
  auto norms = w.pow(2).sum({2, 3, 4, 5}).sqrt();
  EXPECT_LT((norms - 1).abs().max().item<double>(), 1e-5);
}

TEST(ModulatedConv3d, StyleScalesInputChannels) {
  torch::manual_seed(2);
  ModulatedConv3d conv(ModulatedConv3dOptions(4, 5));
  auto style = torch::randn({1, 4});
  auto w = conv->modulated_weight(style)[0];
  // Undo the demodulation: the ratio to the raw weight is (style[i] + 1) times a per-output factor.
  auto ratio = w / conv->weight;
  auto per_input = ratio / ratio.select(1, 0).unsqueeze(1);
  auto expected = ((style[0] + 1) / (style[0][0] + 1)).view({1, 4, 1, 1, 1}).expand_as(per_input);
  EXPECT_LT(unipet::test::relative_error(per_input, expected), 1e-5);
}

TEST(ModulatedConv3d, ABatchOfStylesEqualsEachSampleRunAlone) {
  torch::manual_seed(3);
  ModulatedConv3d conv(ModulatedConv3dOptions(4, 4));
  auto x = torch::randn({3, 4, 5, 6, 7});
  auto style = torch::randn({3, 4});
  auto batched = conv(x, style);
  for (int64_t n = 0; n < 3; ++n) {
    auto single = conv(x.slice(0, n, n + 1), style.slice(0, n, n + 1));
    EXPECT_LT(unipet::test::relative_error(batched.slice(0, n, n + 1), single), 1e-5);
  }
}

TEST(ModulatedConv3d, ZeroStyleIsAWeightNormalisedConvolution) {
  torch::manual_seed(4);
  ModulatedConv3d conv(ModulatedConv3dOptions(3, 2));
  auto x = torch::randn({1, 3, 4, 4, 4});
  auto w = conv->weight / conv->weight.pow(2).sum({1, 2, 3, 4}, true).sqrt();
  auto expected = torch::conv3d(x, w, {}, 1, 1);
  EXPECT_LT(unipet::test::relative_error(conv(x, torch::Tensor()), expected), 1e-5);
  EXPECT_EQ(conv(x, torch::Tensor()).sizes(), (std::vector<int64_t>{1, 2, 4, 4, 4}));
}

TEST(ModulatedConv3d, OutputScaleMultipliesEachOutputChannel) {
  torch::manual_seed(11);
  ModulatedConv3d conv(ModulatedConv3dOptions(3, 4));
  auto x = torch::randn({2, 3, 5, 4, 6});
  auto style = torch::randn({2, 3});
  auto scale = torch::tensor({0.5f, -2.0f, 0.0f, 3.0f});
  auto expected = conv(x, style) * scale.view({1, 4, 1, 1, 1});
  EXPECT_LT(unipet::test::relative_error(conv(x, style, scale), expected), 1e-5);
  EXPECT_THROW(conv(x, style, torch::ones({3})), Error);
}

TEST(ModulatedConv3d, RejectsBadOptionsAndShapes) {
  EXPECT_THROW(ModulatedConv3d(ModulatedConv3dOptions(0, 4)), Error);
  EXPECT_THROW(ModulatedConv3d(ModulatedConv3dOptions(4, 4).kernel_size(2)), Error);
  ModulatedConv3d conv(ModulatedConv3dOptions(4, 4));
  EXPECT_THROW(conv(torch::randn({1, 3, 4, 4, 4}), torch::Tensor()), Error);
  EXPECT_THROW(conv(torch::randn({2, 4, 4, 4, 4}), torch::randn({2, 5})), Error);
  EXPECT_THROW(conv(torch::randn({2, 4, 4, 4, 4}), torch::randn({3, 4})), Error);
}

}  // namespace
}  // namespace unipet::nn
