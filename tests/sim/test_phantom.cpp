#include <gtest/gtest.h>

#include <set>

#include "unipet/core/error.h"
#include "unipet/sim/phantom.h"

namespace unipet::sim {
namespace {

PhantomOptions coarse() {
  PhantomOptions o;
  o.width = o.height = 64;
  o.voxel_mm = 8.0;  // the default 512 mm transaxial field
  o.slices = 32;
  o.slice_mm = 12.0;  // and the default 384 mm axial one
  return o;
}

TEST(Phantom, TheSameSeedGivesIdenticalVolumes) {
  const Phantom a = generate_phantom(coarse(), 21), b = generate_phantom(coarse(), 21);
  EXPECT_TRUE(torch::equal(a.activity.data, b.activity.data));
  EXPECT_TRUE(torch::equal(a.mumap.data, b.mumap.data));
  EXPECT_TRUE(torch::equal(a.lesions.data, b.lesions.data));
  EXPECT_EQ(a.weight_kg, b.weight_kg);
}

TEST(Phantom, DifferentSeedsGiveDifferentAnatomy) {
  const Phantom a = generate_phantom(coarse(), 1), b = generate_phantom(coarse(), 2);
  // Tissue boundaries move: a sizeable share of voxels change attenuation class.
  const double changed = (a.mumap.data != b.mumap.data).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(changed, 0.03);
  EXPECT_NE(a.weight_kg, b.weight_kg);
  EXPECT_FALSE(torch::equal(a.lesions.data, b.lesions.data));
}

TEST(Phantom, AttenuationCoefficientsArePhysical) {
  const Phantom p = generate_phantom(coarse(), 3);
  const torch::Tensor mu = p.mumap.data;
  EXPECT_GE(mu.min().item<double>(), 0.0);
  const double max_mu = mu.max().item<double>();
  EXPECT_GE(max_mu, 0.13);
  EXPECT_LE(max_mu, 0.17);
  EXPECT_GT((mu == 0.096f).sum().item<int64_t>(), 1000);                      // soft tissue
  EXPECT_GT(((mu >= 0.025f) & (mu <= 0.035f)).sum().item<int64_t>(), 100);  // lungs
  EXPECT_GT((mu == 0).sum().item<int64_t>(), 1000);                           // air around
}

TEST(Phantom, ActivitiesHaveFdgLikeSuvsAndTexture) {
  const Phantom p = generate_phantom(coarse(), 4);
  const double per_suv = bq_per_ml_per_suv(p.dose_at_scan_bq, p.weight_kg);
  EXPECT_NEAR(p.injected_dose_bq, 3.7e6 * p.weight_kg, 1.0);
  EXPECT_LT(p.dose_at_scan_bq, p.injected_dose_bq);
  const torch::Tensor suv = p.activity.data / per_suv;
  EXPECT_TRUE((suv.masked_select(p.mumap.data == 0) == 0).all().item<bool>());
  const torch::Tensor body = suv.masked_select(p.mumap.data > 0);
  const double median = body.median().item<double>();
  EXPECT_GT(median, 0.2);  // most of the body is fat and muscle
  EXPECT_LT(median, 1.5);
  EXPECT_LT(suv.max().item<double>(), 40.0 * 8.0 * 1.6);
  // Texture: soft tissue is not a handful of constant values.
  EXPECT_GT(std::get<0>(torch::_unique(body)).numel(), 1000);
}

TEST(Phantom, LesionsAreLabelledHotAndWithinTheirSizeRange) {
  PhantomOptions o = coarse();
  o.min_lesions = o.max_lesions = 6;
  o.heterogeneity = 0;  // so a lesion's uptake is exactly contrast x its host's
  const Phantom p = generate_phantom(o, 5);
  ASSERT_FALSE(p.lesion_list.empty());
  for (const PhantomLesion& lesion : p.lesion_list) {
    const torch::Tensor mask = p.lesions.data == static_cast<float>(lesion.label);
    ASSERT_GT(mask.sum().item<int64_t>(), 0) << lesion.label;
    EXPECT_GE(lesion.diameter_mm, 5.0);
    EXPECT_LE(lesion.diameter_mm, 30.0);
    EXPECT_GE(lesion.contrast, 1.5);
    EXPECT_LE(lesion.contrast, 8.0);
    EXPECT_GT(p.activity.data.masked_select(mask).min().item<double>(), 0.0);
  }
  std::set<float> labels;
  const torch::Tensor unique = std::get<0>(torch::_unique(p.lesions.data));
  for (int64_t i = 0; i < unique.numel(); ++i) labels.insert(unique[i].item<float>());
  EXPECT_EQ(labels.size(), p.lesion_list.size() + 1);  // background and each lesion
}

TEST(Phantom, GeometryIsCentredWithTheRequestedSpacing) {
  const Phantom p = generate_phantom(coarse(), 6);
  EXPECT_EQ(p.activity.data.sizes(), (std::vector<int64_t>{32, 64, 64}));
  EXPECT_EQ(p.activity.spacing, (std::array<double, 3>{8.0, 8.0, 12.0}));
  EXPECT_DOUBLE_EQ(p.activity.origin[0], -31.5 * 8.0);
  EXPECT_DOUBLE_EQ(p.activity.origin[2], -15.5 * 12.0);
  EXPECT_EQ(p.activity.units, Units::BqPerMl);
  EXPECT_TRUE(same_geometry(p.activity, p.mumap));
  EXPECT_TRUE(same_geometry(p.activity, p.lesions));
  p.activity.validate("activity");
}

TEST(Phantom, InvalidOptionsAreRejected) {
  PhantomOptions o = coarse();
  o.min_lesions = 5;
  o.max_lesions = 2;
  EXPECT_THROW(generate_phantom(o, 1), Error);
  o = coarse();
  o.voxel_mm = 0;
  EXPECT_THROW(generate_phantom(o, 1), Error);
  EXPECT_THROW(bq_per_ml_per_suv(0, 70), Error);
}

}  // namespace
}  // namespace unipet::sim
