#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/infer/blend.h"

namespace unipet::test {
namespace {

using infer::Blend;
using infer::BlendObservation;

TEST(Blend, FittedAlphaIsTheClosedFormLeastSquaresStepPooledOverImages) {
  torch::manual_seed(11);
  std::vector<BlendObservation> obs;
  double num = 0, den = 0;
  for (int i = 0; i < 3; ++i) {
    const auto x = torch::rand({6, 7, 8}) + 1, f = torch::rand({6, 7, 8}) + 1;
    const auto y = x + 0.3 * (f - x) + 0.05 * torch::randn({6, 7, 8});
    const auto mask = torch::rand({6, 7, 8}) > 0.3;
    obs.push_back(infer::blend_observation(x, f, y, mask, 4, 2.0 + 0.1 * i));
    const auto d = (f - x).to(torch::kFloat64).masked_select(mask), t = (y - x).to(torch::kFloat64).masked_select(mask);
    num += (d * t).sum().item<double>(), den += d.square().sum().item<double>();
  }
  const Blend b = infer::fit_blend(obs);
  ASSERT_EQ(b.knots.size(), 1u);
  EXPECT_NEAR(b.knots[0].alpha, num / den, 1e-12);
  EXPECT_NEAR(b.knots[0].alpha, 0.3, 0.02);
  EXPECT_NEAR(b.knots[0].log2_n, 2.1, 1e-12);  // the median of 2.0, 2.1, 2.2
  EXPECT_EQ(b.knots[0].images, 3);
}

TEST(Blend, AlphaZeroReturnsTheInputBitForBitAndOneTheNetwork) {
  torch::manual_seed(12);
  const auto x = torch::rand({5, 6, 7}) * 13, f = torch::rand({5, 6, 7});
  EXPECT_TRUE(torch::equal(infer::apply_blend(x, f, 0.0), x));
  EXPECT_TRUE(torch::equal(infer::apply_blend(x, f, 1.0), f));
  EXPECT_TRUE(torch::allclose(infer::apply_blend(x, f, 0.25), 0.75 * x + 0.25 * f, 1e-5, 1e-5));
  expect_error([&] { infer::apply_blend(x, f, 1.5); }, {"alpha"});
}

TEST(Blend, IsMonotoneClippedAndClampedBeyondTheEndKnots) {
  // DRF 2 wants 0.9 but DRF 4 only 0.5 (weights 1 and 3): pooled to (0.9 + 1.5) / 4 = 0.6; DRF 20
  // wants more than 1, clipped to 1; a DRF with a negative step is clipped to 0.
  const std::vector<BlendObservation> obs{
      {2, 1.0, 0.9, 1.0}, {4, 2.0, 1.5, 3.0}, {20, 4.0, 5.0, 4.0}, {1.5, 0.2, -2.0, 1.0}};
  const Blend b = infer::fit_blend(obs);
  ASSERT_EQ(b.knots.size(), 4u);
  EXPECT_EQ(b.knots[0].alpha, 0.0);
  EXPECT_NEAR(b.knots[1].alpha, 0.6, 1e-12);
  EXPECT_NEAR(b.knots[2].alpha, 0.6, 1e-12);
  EXPECT_NEAR(b.knots[1].alpha_ls, 0.9, 1e-12);
  EXPECT_EQ(b.knots[3].alpha, 1.0);
  EXPECT_EQ(b.alpha_at(-5), 0.0);
  EXPECT_EQ(b.alpha_at(9), 1.0);
  EXPECT_NEAR(b.alpha_at(3.0), 0.8, 1e-12);  // halfway from 0.6 at 2 to 1 at 4
  EXPECT_NEAR(b.alpha_at(0.6), 0.3, 1e-12);
}

TEST(Blend, RoundTripsThroughJsonAndRefusesBrokenTables) {
  const Blend b = infer::fit_blend({{2, 1.0, 0.2, 1.0}, {10, 3.0, 0.8, 1.0}});
  const Blend back = Blend::from_json(b.to_json(), "m.safetensors");
  ASSERT_EQ(back.knots.size(), 2u);
  EXPECT_EQ(back.knots[1].alpha, b.knots[1].alpha);
  EXPECT_EQ(back.knots[0].log2_n, 1.0);
  expect_error([] { Blend::from_json(R"({"version":1,"knots":[]})", "m.safetensors"); }, {"m.safetensors", "unipet.blend"});
  expect_error([] {
    Blend::from_json(R"({"version":1,"knots":[{"drf":2,"images":1,"log2_n":1,"alpha_ls":0.5,"alpha":0.5},)"
                     R"({"drf":4,"images":1,"log2_n":2,"alpha_ls":0.2,"alpha":0.2}]})", "m.safetensors");
  }, {"m.safetensors", "alpha"});
  expect_error([] { infer::fit_blend({}); }, {"no validation images"});
}

}  // namespace
}  // namespace unipet::test
