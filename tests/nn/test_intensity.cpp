#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/nn/intensity.h"
#include "unipet/nn/model_file.h"

namespace unipet::nn {
namespace {

// PET values as they come: negative OSEM undershoot, background, tissue, lesions, a 60-SUV bladder.
torch::Tensor pet_values() {
  torch::manual_seed(4);
  return torch::cat({torch::tensor({-0.7, 0.0, 1e-6, 0.1, 1.0, 2.5, 20.0, 60.0, 300.0}, torch::kFloat64),
                     torch::rand({1000}, torch::kFloat64) * 80 - 5});
}

TEST(IntensityNormalization, LinearIsTheReferenceClipAndScale) {
  const IntensityNormalization n;  // SUV, [0, 20]
  const torch::Tensor x = pet_values();
  EXPECT_TRUE(torch::equal(n.normalize(x), x.clamp(0.0, 20.0) / 20.0));
  // What the clip removes comes back through clipped_part: the two together are the identity.
  EXPECT_TRUE(torch::allclose(n.denormalize(n.normalize(x)) + n.clipped_part(x), x, 0, 1e-12));
  EXPECT_DOUBLE_EQ(n.clipped_part(torch::tensor(60.0, torch::kFloat64)).item<double>(), 40.0);
}

TEST(IntensityNormalization, SqrtAndLogClipNothingAndInvertExactly) {
  for (IntensityMapping m : {IntensityMapping::Sqrt, IntensityMapping::Log}) {
    IntensityNormalization n;
    n.mapping = m;
    n.scale = m == IntensityMapping::Sqrt ? 20.0 : 1.0;
    const torch::Tensor x = pet_values();
    EXPECT_TRUE(torch::allclose(n.denormalize(n.normalize(x)), x, 1e-12, 1e-12)) << to_string(m);
    EXPECT_EQ(n.clipped_part(x).abs().max().item<double>(), 0.0);
    // Monotone, so hot voxels stay ordered (a max-pool commutes with the mapping).
    const torch::Tensor sorted = std::get<0>(x.sort());
    EXPECT_TRUE((n.normalize(sorted).diff() >= 0).all().item<bool>()) << to_string(m);
  }
  IntensityNormalization sqrt_map;
  sqrt_map.mapping = IntensityMapping::Sqrt;
  EXPECT_DOUBLE_EQ(sqrt_map.normalize_value(20.0), 1.0);  // SUV 20 still maps to 1
  EXPECT_DOUBLE_EQ(sqrt_map.normalize_value(80.0), 2.0);  // and a bladder is no longer flattened
  IntensityNormalization log_map;
  log_map.mapping = IntensityMapping::Log;
  log_map.scale = 1.0;
  EXPECT_NEAR(log_map.normalize_value(60.0), std::log(61.0), 1e-12);
}

TEST(IntensityNormalization, NamesAndBadValuesAreChecked) {
  for (IntensityMapping m : {IntensityMapping::Linear, IntensityMapping::Sqrt, IntensityMapping::Log})
    EXPECT_EQ(intensity_mapping_from_string(to_string(m), "intensity"), m);
  test::expect_error([] { intensity_mapping_from_string("cube", "--set intensity"); },
                     {"--set intensity", "'cube'", "linear, sqrt or log"});
  IntensityNormalization n;
  n.scale = 0;
  test::expect_error([&] { n.validate(); }, {"scale"});
}

TEST(IntensityNormalization, TheMappingTravelsInTheModelFileAndOldFilesStayLinear) {
  test::TempDir tmp;
  UniPET model(UniPETOptions().width(16).blocks(1).san_width(16).san_depth(1));
  IntensityNormalization sqrt_map;
  sqrt_map.mapping = IntensityMapping::Sqrt;
  sqrt_map.scale = 12.5;
  save_unipet(tmp / "sqrt.safetensors", model, sqrt_map);
  const LoadedUniPET loaded = load_unipet(tmp / "sqrt.safetensors");
  EXPECT_EQ(loaded.normalization.mapping, IntensityMapping::Sqrt);
  EXPECT_DOUBLE_EQ(loaded.normalization.scale, 12.5);
  EXPECT_NE(describe_model_file(tmp / "sqrt.safetensors").find("sqrt(SUV / 12.5), no clip"), std::string::npos);
  // A linear model writes exactly the keys it always did, so files of earlier versions and of
  // this one read the same.
  save_unipet(tmp / "linear.safetensors", model, IntensityNormalization());
  const LoadedUniPET linear = load_unipet(tmp / "linear.safetensors");
  EXPECT_EQ(linear.metadata.count("unipet.norm.mapping"), 0u);
  EXPECT_EQ(linear.normalization.mapping, IntensityMapping::Linear);
  EXPECT_DOUBLE_EQ(linear.normalization.clip_max, 20.0);
}

}  // namespace
}  // namespace unipet::nn
