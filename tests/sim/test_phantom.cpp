#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <set>

#include "sim/anatomy.h"
#include "unipet/io/suv.h"
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
  EXPECT_TRUE(torch::equal(a.organs.data, b.organs.data));
  EXPECT_EQ(a.weight_kg, b.weight_kg);
  EXPECT_EQ(a.numbers, b.numbers);
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
  EXPECT_GT((mu == 0.096f).sum().item<int64_t>(), 1000);                    // soft tissue
  EXPECT_GT(((mu >= 0.025f) & (mu <= 0.035f)).sum().item<int64_t>(), 100);  // lungs
  EXPECT_GT((mu == 0).sum().item<int64_t>(), 1000);                         // air around
}

TEST(Phantom, ActivitiesHaveFdgLikeSuvsAndTexture) {
  const Phantom p = generate_phantom(coarse(), 4);
  const double per_suv = io::bq_per_ml_per_suv(p.dose_at_scan_bq, p.weight_kg);
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
  o.no_lesion_fraction = 0;
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
    // Every voxel of the lesion (texture off) holds contrast x its reference tissue's uptake.
    const double per_suv = io::bq_per_ml_per_suv(p.dose_at_scan_bq, p.weight_kg);
    EXPECT_NEAR(p.activity.data.masked_select(mask).max().item<double>() / per_suv,
                lesion.contrast * lesion.host_suv, 1e-3 * lesion.contrast * lesion.host_suv);
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
  EXPECT_THROW(io::bq_per_ml_per_suv(0, 70), Error);
  o = coarse();
  o.no_lesion_fraction = 1.5;
  EXPECT_THROW(generate_phantom(o, 1), Error);
}

/// Voxel index (z, y, x) of a world point in a phantom's grid.
std::array<int64_t, 3> voxel_of(const Volume& v, const std::array<double, 3>& world) {
  std::array<int64_t, 3> index{};
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t n = v.data.size(2 - axis);
    index[2 - axis] =
        std::clamp<int64_t>(std::llround((world[axis] - v.origin[axis]) / v.spacing[axis]), 0, n - 1);
  }
  return index;
}

float at(const Volume& v, const std::array<int64_t, 3>& i) { return v.data[i[0]][i[1]][i[2]].item<float>(); }

TEST(Phantom, TheSameSeedGivesTheSameSubjectAtTwoVoxelSizes) {
  PhantomOptions coarse4;  // 448 x 448 x 192 mm
  coarse4.width = coarse4.height = 112;
  coarse4.slices = 48;
  coarse4.voxel_mm = coarse4.slice_mm = 4.0;
  PhantomOptions fine2 = coarse4;
  fine2.width = fine2.height = 224;
  fine2.slices = 96;
  fine2.voxel_mm = fine2.slice_mm = 2.0;
  for (uint64_t seed : {31u, 32u}) {
    const Phantom a = generate_phantom(coarse4, seed), b = generate_phantom(fine2, seed);
    // The description in mm is identical: lesion list, anatomy numbers.
    ASSERT_EQ(a.lesion_list.size(), b.lesion_list.size());
    for (size_t k = 0; k < a.lesion_list.size(); ++k) {
      const PhantomLesion &la = a.lesion_list[k], &lb = b.lesion_list[k];
      EXPECT_EQ(la.organ, lb.organ);
      EXPECT_EQ(la.centre_mm, lb.centre_mm);
      EXPECT_EQ(la.semi_axes_mm, lb.semi_axes_mm);
      EXPECT_EQ(la.diameter_mm, lb.diameter_mm);
      EXPECT_EQ(la.contrast, lb.contrast);
    }
    EXPECT_EQ(a.numbers, b.numbers);
    // Organ volumes agree within the discretisation of 4 mm voxels: 3% for organs of 50 ml and
    // more, 6% for the skeleton (shells a few mm thick, and spine ends cut flat).
    for (int64_t label = 1; label < static_cast<int64_t>(organ_names().size()); ++label) {
      const double va = (a.organs.data == label).sum().item<double>() * 64.0;
      const double vb = (b.organs.data == label).sum().item<double>() * 8.0;
      const std::string& name = organ_names()[static_cast<size_t>(label)];
      std::cout << "[ volumes  ] seed " << seed << " " << name << ": " << va / 1000 << " ml at 4 mm, "
                << vb / 1000 << " ml at 2 mm\n";
      if (vb < 50000) continue;
      const bool skeleton = name == "bone" || name == "skull" || name == "marrow";
      EXPECT_NEAR(va, vb, (skeleton ? 0.06 : 0.03) * vb) << name << " seed " << seed;
    }
    // The 2 mm activity averaged over 2 x 2 x 2 blocks matches the 4 mm one: the same total,
    // differences at boundaries, and none inside organs (blocks of one tissue, no lesion).
    namespace F = torch::nn::functional;
    auto pool = [](const torch::Tensor& v, bool max) {
      const torch::Tensor x = v.unsqueeze(0).unsqueeze(0);
      return (max ? F::max_pool3d(x, F::MaxPool3dFuncOptions(2))
                  : F::avg_pool3d(x, F::AvgPool3dFuncOptions(2)))
          .squeeze();
    };
    const torch::Tensor pooled = pool(b.activity.data, false);
    const torch::Tensor interior = (pool(b.organs.data, true) == -pool(-b.organs.data, true)) &
                                   (pool(b.organs.data, true) == a.organs.data) & (a.organs.data > 0) &
                                   (pool(b.lesions.data, true) == 0) & (a.lesions.data == 0);
    const double inside =
        ((pooled - a.activity.data).abs().masked_select(interior).to(torch::kFloat64).sum() /
         a.activity.data.masked_select(interior).to(torch::kFloat64).sum())
            .item<double>();
    std::cout << "[ activity ] seed " << seed << ": inside organs sum |pooled 2 mm - 4 mm| / sum = " << inside
              << "\n";
    // The texture is linear within each cell of its 20 mm lattice, whose nodes fall on 4 mm voxel
    // edges, so a block's mean equals its centre's value up to rounding.
    EXPECT_LT(inside, 1e-5) << seed;
    const double total = a.activity.data.to(torch::kFloat64).sum().item<double>();
    EXPECT_NEAR(pooled.to(torch::kFloat64).sum().item<double>(), total, 0.01 * total) << seed;
    const double difference = (pooled - a.activity.data).abs().to(torch::kFloat64).sum().item<double>();
    std::cout << "[ activity ] seed " << seed << ": sum |pooled 2 mm - 4 mm| / sum = " << difference / total
              << "\n";
    EXPECT_LT(difference / total, 0.10) << seed;
  }
}

TEST(Phantom, ArmsDownWidenTheBodyAndStayInTheFieldOfView) {
  PhantomOptions up = coarse();
  up.voxel_mm = 12;  // 768 mm across: room for the arms of every subject
  up.arms_up_fraction = 1;
  PhantomOptions down = up;
  down.arms_up_fraction = 0;
  // Lateral extent: columns (x) holding any body voxel.
  auto columns = [](const Phantom& p) { return (p.mumap.data > 0).any(0).any(0).sum().item<int64_t>(); };
  for (uint64_t seed : {7u, 8u, 9u}) {
    const Phantom a = generate_phantom(up, seed), b = generate_phantom(down, seed);
    EXPECT_EQ(a.numbers.at("arms_up"), 1.0);
    EXPECT_EQ(b.numbers.at("arms_up"), 0.0);
    EXPECT_EQ(b.numbers.at("fov_fit"), 1.0);
    EXPECT_GE(columns(b), columns(a) + 8) << seed;  // two arms of 5 cm or more
    // Bone and marrow in the arms: more skeleton with the arms down.
    EXPECT_GT((b.organs.data == organ_label("bone")).sum().item<int64_t>(),
              (a.organs.data == organ_label("bone")).sum().item<int64_t>());
    // In the default 512 mm field of view large subjects shrink to keep their arms inside it.
    const Phantom c = generate_phantom(coarse(), seed);
    PhantomOptions narrow = coarse();
    narrow.arms_up_fraction = 0;
    const Phantom d = generate_phantom(narrow, seed);
    const torch::Tensor edge = torch::cat({d.mumap.data.select(2, 0), d.mumap.data.select(2, 63)});
    EXPECT_EQ(edge.count_nonzero().item<int64_t>(), 0) << seed;
    EXPECT_LE(d.numbers.at("fov_fit"), c.numbers.at("fov_fit"));
  }
}

TEST(Phantom, AboutATenthOfSubjectsHaveNoLesion) {
  PhantomOptions o;
  o.width = o.height = 32;
  o.voxel_mm = 16.0;
  o.slices = 16;
  o.slice_mm = 24.0;
  int none = 0;
  std::set<std::string> hosts;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const Phantom p = generate_phantom(o, seed);
    if (p.lesion_list.empty()) ++none;
    EXPECT_EQ(p.numbers.at("lesions"), static_cast<double>(p.lesion_list.size()));
    for (const PhantomLesion& l : p.lesion_list) hosts.insert(l.organ);
  }
  // Binomial(50, 0.1): mean 5; [1, 12] holds 99.5% of its mass.
  EXPECT_GE(none, 1);
  EXPECT_LE(none, 12);
  for (const char* host : {"liver", "lung", "bone", "node_mediastinal", "node_axillary"}) {
    EXPECT_EQ(hosts.count(host), 1u) << host;
  }
  o.no_lesion_fraction = 1;
  EXPECT_TRUE(generate_phantom(o, 3).lesion_list.empty());
}

TEST(Phantom, LesionsSitInTheirHostTissueAndNodesInsideTheBody) {
  PhantomOptions o = coarse();
  o.width = o.height = 128;
  o.voxel_mm = 4.0;
  o.min_lesions = o.max_lesions = 8;
  o.no_lesion_fraction = 0;
  int nodes = 0, nodes_in_body = 0, lesions = 0, in_host = 0;
  for (uint64_t seed = 40; seed < 46; ++seed) {
    const Phantom p = generate_phantom(o, seed);
    for (const PhantomLesion& l : p.lesion_list) {
      ++lesions;
      // The organ map holds the tissue under the lesions.
      const std::string tissue =
          organ_names()[static_cast<size_t>(at(p.organs, voxel_of(p.organs, l.centre_mm)))];
      const bool node = l.organ.rfind("node_", 0) == 0;
      if (node) {
        ++nodes;
        nodes_in_body += tissue != "air" ? 1 : 0;
        EXPECT_LE(l.diameter_mm, 20.0);
      }
      const bool host = node                ? (tissue == "fat" || tissue == "muscle")
                        : l.organ == "bone" ? (tissue == "bone" || tissue == "marrow")
                                            : tissue == l.organ;
      in_host += host ? 1 : 0;
    }
  }
  EXPECT_GT(nodes, 3);
  // The centre is a point of the host tissue; its 4 x 4 x 12 mm voxel is too, unless the point
  // lies within half a voxel of the organ's (or the skin's) boundary.
  EXPECT_GE(nodes_in_body, 0.9 * nodes) << nodes_in_body << " of " << nodes;
  EXPECT_GE(in_host, 0.85 * lesions) << in_host << " of " << lesions;
}

TEST(Phantom, UptakesStayInTheirDocumentedRanges) {
  PhantomOptions o = coarse();
  o.heterogeneity = 0;
  o.max_lesions = o.min_lesions = 0;
  const std::map<std::string, std::pair<double, double>> ranges = {
      {"bladder", {5, 60}}, {"cortex", {5, 12}},  {"liver", {1.8, 2.8}},    {"muscle", {0.6, 1.0}},
      {"fat", {0.3, 0.5}},  {"lung", {0.3, 0.5}}, {"myocardium", {1.5, 12}}};
  std::map<std::string, std::pair<double, double>> seen;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    const Phantom p = generate_phantom(o, seed);
    const torch::Tensor suv = p.activity.data / io::bq_per_ml_per_suv(p.dose_at_scan_bq, p.weight_kg);
    for (const auto& [name, range] : ranges) {
      const torch::Tensor values = suv.masked_select(p.organs.data == organ_label(name));
      if (values.numel() == 0) continue;  // e.g. a brain outside this field of view
      const double lo = values.min().item<double>(), hi = values.max().item<double>();
      EXPECT_NEAR(lo, hi, 1e-4 * hi) << name;  // one uptake per organ without texture
      EXPECT_GE(lo, range.first * (1 - 1e-5)) << name;
      EXPECT_LE(hi, range.second * (1 + 1e-5)) << name;
      auto& s = seen.try_emplace(name, lo, lo).first->second;
      s = {std::min(s.first, lo), std::max(s.second, lo)};
    }
    EXPECT_NEAR(p.numbers.at("bladder_suv"),
                suv.masked_select(p.organs.data == organ_label("bladder")).max().item<double>(), 1e-4 * 60);
  }
  // The widened ranges are used: bladders from under 20 to over 30 SUV across 12 subjects.
  EXPECT_LT(seen.at("bladder").first, 20);
  EXPECT_GT(seen.at("bladder").second, 30);
}

TEST(Phantom, HabitusVariesAndIsRecorded) {
  double smallest = 1e9, largest = 0, thinnest = 1e9, thickest = 0;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    const Phantom p = generate_phantom(coarse(), seed);
    for (const char* key : {"weight_kg", "body_scale", "fov_fit", "fat_mm", "ap_lateral_ratio", "arms_up",
                            "liver_suv", "bladder_suv", "brain_cortex_suv", "brain_in_view", "lesions"}) {
      EXPECT_EQ(p.numbers.count(key), 1u) << key;
    }
    EXPECT_EQ(p.numbers.at("brain_in_view"), p.brain_in_view ? 1.0 : 0.0);
    const double body = (p.mumap.data > 0).sum().item<double>();
    smallest = std::min(smallest, body);
    largest = std::max(largest, body);
    thinnest = std::min(thinnest, p.numbers.at("fat_mm"));
    thickest = std::max(thickest, p.numbers.at("fat_mm"));
  }
  EXPECT_GT(largest, 1.3 * smallest);  // slim to obese
  EXPECT_GT(thickest, 2 * thinnest);
}

TEST(Phantom, OrganLabelsHaveNames) {
  EXPECT_EQ(organ_names().size(), 16u);
  EXPECT_EQ(organ_names()[0], "air");
  EXPECT_EQ(organ_names()[static_cast<size_t>(organ_label("liver"))], "liver");
  EXPECT_THROW(organ_label("appendix"), Error);
  const Phantom p = generate_phantom(coarse(), 12);
  EXPECT_TRUE(same_geometry(p.activity, p.organs));
  EXPECT_GT((p.organs.data == organ_label("liver")).sum().item<int64_t>(), 100);
  // Air in the organ map is exactly where the mu-map is zero.
  EXPECT_TRUE(torch::equal(p.organs.data == 0, p.mumap.data == 0));
}

TEST(Phantom, RenderingOnAGridEqualsRenderingEachVoxelCentre) {
  // The grid renderer evaluates each shape only within its bounding box; it must agree with the
  // point renderer that lesion placement uses.
  PhantomOptions o = coarse();
  o.arms_up_fraction = 0;
  Random r(stream_seed(3, 1));
  const detail::Anatomy a = detail::draw_anatomy(o, 90, r);
  const torch::Tensor x = (torch::arange(64, torch::kFloat64) * 8 - 252).to(torch::kFloat32);
  const torch::Tensor z = (torch::arange(32, torch::kFloat64) * 12 + 6).to(torch::kFloat32);
  const torch::Tensor grid = detail::render_tissue_on_grid(a, x, x, z);
  const torch::Tensor points =
      detail::render_tissue(a, x.view({1, 1, -1}), x.view({1, -1, 1}), z.view({-1, 1, 1}));
  EXPECT_TRUE(torch::equal(grid, points));
  EXPECT_GT(std::get<0>(torch::_unique(grid)).numel(), 12);  // most tissues present
}

}  // namespace
}  // namespace unipet::sim
