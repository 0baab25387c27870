#include <gtest/gtest.h>

#include <cmath>

#include "unipet/core/error.h"
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
  const Projector p = make_projector(o, activity);
  const ScannerModel m = model_scanner(p, activity, mumap, o, 1);
  const double trues = total(m.multiplicative * p.forward(activity.data));
  const double background = total(m.background);
  EXPECT_NEAR(trues + background, 1e6, 1.0);
  EXPECT_NEAR(trues, 1e6 * 0.7 * 0.8, 1.0);
  EXPECT_NEAR(m.expected_scatter / (m.expected_scatter + m.expected_trues), 0.3, 1e-12);
  EXPECT_NEAR(m.expected_randoms / 1e6, 0.2, 1e-12);
  EXPECT_NEAR(total(m.expected_prompts(p, activity.data)), 1e6, 1.0);
  EXPECT_GT(m.background.min().item<double>(), 0.0);  // randoms reach every bin
}

TEST(Scanner, AttenuationFactorsFollowTheMuMapLineIntegrals) {
  const Volume activity = uniform_block(1000);
  const Volume mumap = with_geometry_of(activity, (activity.data > 0).to(torch::kFloat32) * 0.096);
  ScannerOptions o;
  o.normalisation = false;
  const Projector p = make_projector(o, activity);
  const ScannerModel m = model_scanner(p, activity, mumap, o, 1);
  // Without normalisation multiplicative = gain * exp(-P mu); at angle 0, the central bins cross
  // 60 mm of water: exp(-0.0096 * 60).
  const torch::Tensor factors = m.multiplicative / m.gain;
  const double central = factors[1][0][12].item<double>();
  EXPECT_NEAR(central, std::exp(-0.0096 * 60.0), 0.02);
  EXPECT_NEAR(factors[1][0][0].item<double>(), 1.0, 1e-6);  // a line that misses the body
}

TEST(Scanner, NormalisationDrawsDetectorEfficienciesFromTheSeed) {
  const Volume activity = uniform_block(1000);
  const Volume mumap = with_geometry_of(activity, torch::zeros_like(activity.data));
  ScannerOptions o;
  const Projector p = make_projector(o, activity);
  const torch::Tensor a = model_scanner(p, activity, mumap, o, 1).multiplicative;
  const torch::Tensor b = model_scanner(p, activity, mumap, o, 1).multiplicative;
  const torch::Tensor c = model_scanner(p, activity, mumap, o, 2).multiplicative;
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
  const Projector p = make_projector(o, activity);
  Volume mumap = with_geometry_of(activity, torch::zeros_like(activity.data));
  mumap.spacing[0] = 4.0;
  EXPECT_THROW(model_scanner(p, activity, mumap, o, 1), Error);
  mumap = with_geometry_of(activity, torch::zeros_like(activity.data));
  EXPECT_THROW(model_scanner(p, with_geometry_of(activity, torch::zeros_like(activity.data)), mumap, o, 1),
               Error);
}

}  // namespace
}  // namespace unipet::sim
