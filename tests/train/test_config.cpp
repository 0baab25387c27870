#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/train/config.h"

namespace unipet::train {
namespace {

TEST(TrainConfig, PresetsAreValidAndSurviveAJsonRoundTrip) {
  for (const std::string& name : preset_names()) {
    const TrainConfig c = load_train_config(name);
    EXPECT_NO_THROW(c.validate()) << name;
    const TrainConfig back = train_config_from_json(to_json(c), name);
    EXPECT_EQ(to_json(back), to_json(c)) << name;
  }
  const TrainConfig paper = load_train_config("paper");
  // The reference's recipe (main_UniPET_RALS.py).
  EXPECT_EQ(paper.width, 64);
  EXPECT_EQ(paper.blocks, 8);
  EXPECT_EQ(paper.patch, 64);
  EXPECT_EQ(paper.batch, 2);
  EXPECT_DOUBLE_EQ(paper.lr, 1e-4);
  EXPECT_DOUBLE_EQ(paper.beta2, 0.999);
  EXPECT_DOUBLE_EQ(paper.beta2_critic, 0.99);
  EXPECT_DOUBLE_EQ(paper.lambda_align, 0.001);
  EXPECT_DOUBLE_EQ(paper.lambda_adv, 0.001);
  EXPECT_DOUBLE_EQ(paper.clip_max, 20);
  EXPECT_DOUBLE_EQ(paper.stylized_threshold, 0.001);
}

TEST(TrainConfig, SetTakesJsonValuesAndBareWords) {
  TrainConfig c;
  apply_setting(c, "drfs=[4, 20]");
  apply_setting(c, "rals=false");
  apply_setting(c, "val_split=test");
  apply_setting(c, "iterations=2000");
  apply_setting(c, "lr=3e-4");
  apply_setting(c, "stage=unipet");
  EXPECT_EQ(c.drfs, (std::vector<double>{4, 20}));
  EXPECT_FALSE(c.rals);
  EXPECT_EQ(c.val_split, "test");
  EXPECT_EQ(c.iterations, 2000);
  EXPECT_DOUBLE_EQ(c.lr, 3e-4);
  EXPECT_EQ(c.stage, Stage::UniPET);
}

TEST(TrainConfig, ErrorsNameTheKeyAndWhereItCameFrom) {
  TrainConfig c;
  test::expect_error([&] { apply_setting(c, "widht=32"); }, {"--set widht", "unknown key 'widht'"});
  test::expect_error([&] { apply_setting(c, "patch=2.5"); }, {"--set patch", "whole number"});
  test::expect_error([&] { apply_setting(c, "rals=maybe"); }, {"--set rals", "true or false"});
  test::expect_error([&] { apply_setting(c, "iterations"); }, {"--set iterations", "key=value"});
  test::expect_error([&] { train_config_from_json("{\"batch\": -1, \"blocks\": 4,}", "my.json"); },
                     {"my.json", "not valid JSON"});
  test::expect_error([&] { train_config_from_json("{\"stage\": \"gan\"}", "my.json"); },
                     {"my.json", "stage", "gan"});
  test::expect_error([] { load_train_config("/nonexistent/config.json"); },
                     {"/nonexistent/config.json", "presets"});
  const auto invalid = [](const std::string& setting) {
    TrainConfig t;
    apply_setting(t, setting);
    t.validate();
  };
  test::expect_error([&] { invalid("width=8"); }, {"width"});
  test::expect_error([&] { invalid("san_depth=9"); }, {"san_depth"});
  test::expect_error([&] { invalid("drfs=[1]"); }, {"drfs"});
  test::expect_error([&] { invalid("beta1=1"); }, {"beta1"});
  test::expect_error([&] { invalid("ema=1"); }, {"ema must be in [0, 1)", "got 1"});
  test::expect_error([&] { invalid("ema=-0.5"); }, {"ema must be in [0, 1)"});
  test::expect_error([&] { invalid("seed=9007199254740993"); }, {"seed"});
  // A critic of 3 layers needs patches of at least 32 voxels.
  test::expect_error(
      [] {
        TrainConfig t;
        t.stage = Stage::UniPET;
        t.patch = 16;
        t.validate();
      },
      {"patch", "32"});
}

}  // namespace
}  // namespace unipet::train
