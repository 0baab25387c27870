#include <gtest/gtest.h>

#include <cmath>

#include "unipet/core/error.h"
#include "unipet/sim/acquisition.h"
#include "unipet/sim/scanner.h"

namespace unipet::sim {
namespace {

Volume uniform_block(double value) {
  Volume v;
  v.data = torch::zeros({3, 24, 24});
  v.data.index_put_({torch::indexing::Slice(), torch::indexing::Slice(6, 18),
                     torch::indexing::Slice(6, 18)},
                    value);
  v.spacing = {5.0, 5.0, 5.0};
  v.units = Units::BqPerMl;
  return v;
}

double total(const torch::Tensor& t) { return t.to(torch::kFloat64).sum().item<double>(); }

TEST(Scanner, ExpectedCountsSplitIntoTheRequestedTruesScatterAndRandoms) {
  const Volume activity = uniform_block(1000);
  const Volume mumap = with_geometry_of(activity, (activity.data > 0).to(torch::kFloat32) * 0.096);
  ScannerOptions o;
  o.prompts = 1e6;
  o.scatter_fraction = 0.3;
  o.randoms_fraction = 0.2;
  const Acquisition a = model_acquisition(activity, mumap, activity, o, 1);
  const double scatter = total(a.scatter), randoms = total(a.randoms);
  EXPECT_NEAR(total(a.expected_prompts), 1e6, 1.0);
  EXPECT_NEAR(total(a.expected_prompts) - scatter - randoms, 1e6 * 0.7 * 0.8, 1.0);
  EXPECT_NEAR(scatter, a.expected_scatter, 1e-6 * a.expected_scatter);
  EXPECT_NEAR(a.expected_scatter / (a.expected_scatter + a.expected_trues), 0.3, 1e-12);
  EXPECT_NEAR(randoms / 1e6, 0.2, 1e-6);
  EXPECT_GT(a.randoms.min().item<double>(), 0.0);  // randoms reach every bin
}

TEST(Scanner, AttenuationFactorsFollowTheMuMapLineIntegrals) {
  const Volume activity = uniform_block(1000);
  const Volume mumap = with_geometry_of(activity, (activity.data > 0).to(torch::kFloat32) * 0.096);
  ScannerOptions o;
  o.normalisation = false;
  const Acquisition a = model_acquisition(activity, mumap, activity, o, 1);
  // At angle 0, the central bins cross 60 mm of water: exp(-0.0096 * 60).
  EXPECT_NEAR(a.attenuation[1][0][12].item<double>(), std::exp(-0.0096 * 60.0), 0.02);
  EXPECT_NEAR(a.attenuation[1][0][0].item<double>(), 1.0, 1e-6);  // a line that misses the body
  EXPECT_NEAR(a.efficiency.min().item<double>(), 1.0, 1e-6);       // no normalisation: all ones
  EXPECT_NEAR(a.efficiency.max().item<double>(), 1.0, 1e-6);
}

TEST(Scanner, NormalisationDrawsDetectorEfficienciesFromTheSeed) {
  const Volume activity = uniform_block(1000);
  const Volume mumap = with_geometry_of(activity, torch::zeros_like(activity.data));
  ScannerOptions o;
  const torch::Tensor a = model_acquisition(activity, mumap, activity, o, 1).efficiency;
  const torch::Tensor b = model_acquisition(activity, mumap, activity, o, 1).efficiency;
  const torch::Tensor c = model_acquisition(activity, mumap, activity, o, 2).efficiency;
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  const double spread = (a / a.mean()).to(torch::kFloat64).std().item<double>();
  EXPECT_GT(spread, 0.05);
  EXPECT_LT(spread, 0.3);
}

TEST(Scanner, InvalidOptionsAndMismatchedImagesAreRejected) {
  const Volume activity = uniform_block(1000);
  ScannerOptions o;
  o.scatter_fraction = 1.0;
  EXPECT_THROW(make_projector(o, activity), Error);
  o = ScannerOptions{};
  o.ring_diameter_mm = 100;  // smaller than the 120 mm image
  EXPECT_THROW(make_projector(o, activity), Error);
  o = ScannerOptions{};
  Volume mumap = with_geometry_of(activity, torch::zeros_like(activity.data));
  mumap.spacing[0] = 4.0;
  EXPECT_THROW(model_acquisition(activity, mumap, activity, o, 1), Error);
  mumap = with_geometry_of(activity, torch::zeros_like(activity.data));
  const Volume empty = with_geometry_of(activity, torch::zeros_like(activity.data));
  EXPECT_THROW(model_acquisition(empty, mumap, empty, o, 1), Error);
}

}  // namespace
}  // namespace unipet::sim
