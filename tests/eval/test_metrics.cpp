#include <cmath>

#include <gtest/gtest.h>

#include "reference.h"
#include "unipet/core/error.h"
#include "unipet/eval/metrics.h"

namespace unipet::eval {
namespace {

torch::Tensor vec(const std::string& key) { return unipet::test::reference_tensor("metric_vectors.safetensors", key); }

TEST(Metrics, PsnrMatchesScikitImage) {
  const double expected = vec("psnr_range20").item<double>();
  EXPECT_NEAR(psnr(vec("reference"), vec("test"), 20.0), expected, 1e-3);
}

TEST(Metrics, SsimMatchesScikitImage) {
  const double expected = vec("ssim_range20_skimage").item<double>();
  EXPECT_NEAR(ssim(vec("reference"), vec("test"), 20.0), expected, 1e-4);
}

TEST(Metrics, IdenticalImagesArePerfect) {
  auto x = vec("reference");
  EXPECT_TRUE(std::isinf(psnr(x, x, 20.0)));
  EXPECT_NEAR(ssim(x, x, 20.0), 1.0, 1e-12);
}

TEST(Metrics, PsnrOfAKnownErrorIsExact) {
  auto a = torch::zeros({4, 4, 4});
  auto b = torch::full({4, 4, 4}, 2.0);
  EXPECT_NEAR(psnr(a, b, 20.0), 10.0 * std::log10(400.0 / 4.0), 1e-12);
}

TEST(Metrics, RejectMismatchedShapesTinyImagesAndBadRanges) {
  EXPECT_THROW(psnr(torch::zeros({4, 4, 4}), torch::zeros({4, 4, 5}), 1.0), Error);
  EXPECT_THROW(psnr(torch::zeros({4, 4, 4}), torch::zeros({4, 4, 4}), 0.0), Error);
  EXPECT_THROW(ssim(torch::zeros({10, 12, 12}), torch::zeros({10, 12, 12}), 1.0), Error);
  EXPECT_THROW(ssim(torch::zeros({2, 1, 12, 12, 12}), torch::zeros({2, 1, 12, 12, 12}), 1.0), Error);
}

}  // namespace
}  // namespace unipet::eval
