#include <gtest/gtest.h>

#include "reference.h"
#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/safetensors.h"
#include "unipet/nn/model_file.h"

namespace unipet::nn {
namespace {

class ModelFile : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return tmp_ / name; }

  std::string load_error(const io::SafetensorsFile& file) {
    io::write_safetensors(path("bad.safetensors"), file);
    try {
      load_unipet(path("bad.safetensors"));
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  test::TempDir tmp_;
};

UniPETOptions small() { return UniPETOptions().width(16).blocks(3).san_width(32).san_depth(2); }

TEST_F(ModelFile, SaveThenLoadRebuildsTheSameNetwork) {
  torch::manual_seed(10);
  UniPET model(small());
  model->set_san_bypassed(true);
  IntensityNormalization norm{Units::BqPerMl, 25000.0};
  save_unipet(path("m.safetensors"), model, norm, {{"trained_on", "sim-v1"}});
  auto loaded = load_unipet(path("m.safetensors"));
  EXPECT_EQ(loaded.model->options.width(), 16);
  EXPECT_EQ(loaded.model->options.blocks(), 3);
  EXPECT_EQ(loaded.model->options.san_width(), 32);
  EXPECT_EQ(loaded.model->options.san_depth(), 2);
  EXPECT_TRUE(loaded.model->san_bypassed());
  EXPECT_EQ(loaded.normalization.units, Units::BqPerMl);
  EXPECT_DOUBLE_EQ(loaded.normalization.clip_max, 25000.0);
  EXPECT_EQ(loaded.metadata.at("trained_on"), "sim-v1");
  auto x = torch::rand({1, 1, 8, 8, 8});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(model(x), loaded.model(x)));
}

TEST_F(ModelFile, MissingExtraAndMisshapedKeysAreNamed) {
  UniPET model(small());
  io::SafetensorsFile file;
  for (const auto& [k, v] : state_dict(*model)) file.tensors[k] = v.detach().clone();
  file.metadata = {{"unipet.width", "16"}, {"unipet.blocks", "3"}, {"unipet.san_width", "32"},
                   {"unipet.san_depth", "2"}};
  auto missing = file;
  missing.tensors.erase("blocks.1.sw2.bias");
  EXPECT_NE(load_error(missing).find("missing keys: blocks.1.sw2.bias"), std::string::npos);
  auto extra = file;
  extra.tensors["blocks.9.act.weight"] = torch::ones({1});
  EXPECT_NE(load_error(extra).find("unexpected keys: blocks.9.act.weight"), std::string::npos);
  auto misshaped = file;
  misshaped.tensors["conv0.weight"] = torch::ones({16, 1, 3, 3, 2});
  EXPECT_NE(load_error(misshaped).find("wrongly shaped keys: conv0.weight (file [16, 1, 3, 3, 2], model [16, 1, 3, 3, 3])"),
            std::string::npos);
  auto bad_meta = file;
  bad_meta.metadata["unipet.blocks"] = "three";
  EXPECT_NE(load_error(bad_meta).find("metadata 'unipet.blocks' = 'three' is not a number"),
            std::string::npos);
  bad_meta.metadata["unipet.blocks"] = "2.5";
  EXPECT_NE(load_error(bad_meta).find("metadata 'unipet.blocks' = '2.5' is not a positive integer"),
            std::string::npos);
  EXPECT_TRUE(load_error(file).empty());
}

TEST_F(ModelFile, KindMismatchIsAnError) {
  Discriminator critic(DiscriminatorOptions().ndf(4));
  save_discriminator(path("d.safetensors"), critic);
  EXPECT_THROW(load_unipet(path("d.safetensors")), Error);
  auto back = load_discriminator(path("d.safetensors"));
  EXPECT_EQ(back->options.ndf(), 4);
}

TEST_F(ModelFile, DescribeNamesConfigurationAndParameterCount) {
  UniPET model(small());
  save_unipet(path("m.safetensors"), model, IntensityNormalization{});
  const std::string text = describe_model_file(path("m.safetensors"));
  EXPECT_NE(text.find("width:       16"), std::string::npos) << text;
  EXPECT_NE(text.find("blocks:      3"), std::string::npos) << text;
  EXPECT_NE(text.find("width 32, depth 2"), std::string::npos) << text;
  EXPECT_NE(text.find("parameters:  " + std::to_string(parameter_count(*model))), std::string::npos) << text;
  EXPECT_NE(text.find("SUV clipped to [0, 20]"), std::string::npos) << text;
}

TEST_F(ModelFile, TheReferenceExportLoadsAsIs) {
  const std::string text = describe_model_file(unipet::test::reference_path("unipet_weights.safetensors"));
  EXPECT_NE(text.find("inferred from the keys"), std::string::npos);
  EXPECT_NE(text.find("width:       64"), std::string::npos);
  EXPECT_NE(text.find("metadata:    res_num = 8"), std::string::npos);
}

}  // namespace
}  // namespace unipet::nn
