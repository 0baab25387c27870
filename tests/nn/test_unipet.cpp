// Parity of UniPET with the authors' PyTorch model (../shared/reference/unipet_*.safetensors).
#include <set>

#include <gtest/gtest.h>

#include "reference.h"
#include "unipet/core/error.h"
#include "unipet/nn/losses.h"
#include "unipet/nn/model_file.h"
#include "unipet/nn/unipet.h"

namespace unipet::nn {
namespace {

using unipet::test::reference_path;
using unipet::test::reference_tensor;
using unipet::test::relative_error;

constexpr double kOutputTolerance = 1e-4;
constexpr double kLossTolerance = 1e-5;
constexpr double kGradientTolerance = 1e-3;

torch::Tensor vec(const std::string& key) { return reference_tensor("unipet_vectors.safetensors", key); }

UniPET reference_model() {
  static LoadedUniPET loaded = load_unipet(reference_path("unipet_weights.safetensors"));
  loaded.model->set_san_bypassed(false);
  loaded.model->zero_grad();
  return loaded.model;
}

TEST(UniPET, ReferenceFileRebuildsTheDefaultConfiguration) {
  auto model = reference_model();
  EXPECT_EQ(model->options.width(), 64);
  EXPECT_EQ(model->options.blocks(), 8);
  EXPECT_EQ(model->options.san_width(), 256);
  EXPECT_EQ(model->options.san_depth(), 4);
}

TEST(UniPET, ForwardMatchesTheReference) {
  auto model = reference_model();
  torch::NoGradGuard no_grad;
  auto out = model->forward_with_style(vec("input_lq"));
  EXPECT_LT(relative_error(out.shallow_features, vec("shallow_features")), kOutputTolerance);
  ASSERT_EQ(out.latents.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    EXPECT_LT(relative_error(out.latents[k], vec("san_latent_" + std::to_string(k))), kOutputTolerance)
        << "latent " << k;
  }
  EXPECT_LT(relative_error(out.image, vec("output")), kOutputTolerance);
  EXPECT_LT(relative_error(out.style, vec("style")), kOutputTolerance);
  EXPECT_EQ(out.image.sizes(), vec("input_lq").sizes());
}

TEST(UniPET, ResidualIsTheReferenceOutputMinusTheInput) {
  auto model = reference_model();
  torch::NoGradGuard no_grad;
  const auto x = vec("input_lq");
  EXPECT_LT(relative_error(model->residual(x) + x, vec("output")), kOutputTolerance);
  EXPECT_LT(relative_error(model->residual(x), vec("output") - x), 1e-3);
}

TEST(UniPET, BatchOfTwoModulatesEachSampleWithItsOwnStyle) {
  auto model = reference_model();
  torch::NoGradGuard no_grad;
  auto out = model->forward_with_style(vec("input_lq_batch2"));
  EXPECT_LT(relative_error(out.image, vec("output_batch2")), kOutputTolerance);
  EXPECT_LT(relative_error(out.style, vec("style_batch2")), kOutputTolerance);
}

TEST(UniPET, BypassedSanIsThePlainBaseDenoisingNetwork) {
  auto model = reference_model();
  torch::NoGradGuard no_grad;
  model->set_san_bypassed(true);
  auto out = model->forward_with_style(vec("input_lq"));
  model->set_san_bypassed(false);
  EXPECT_TRUE(out.latents.empty());
  EXPECT_LT(relative_error(out.image, vec("output_san_bypassed")), kOutputTolerance);
  EXPECT_GT(relative_error(out.image, vec("output")), 1e-3) << "bypass must change the output";
}

TEST(UniPET, LossesAndGradientsMatchTheReference) {
  auto model = reference_model();
  auto out = model->forward_with_style(vec("input_lq"));
  auto hq_style = model->style_target(vec("input_hq"));
  EXPECT_FALSE(hq_style.requires_grad());
  EXPECT_LT(relative_error(hq_style, vec("hq_style")), kOutputTolerance);
  auto loss_recon = reconstruction_loss(out.image, vec("input_hq"));
  auto loss_style = style_alignment_loss(out.style, hq_style);
  auto loss_total = loss_recon + 0.001 * loss_style;
  EXPECT_LT(relative_error(loss_recon, vec("loss_recon")), kLossTolerance);
  EXPECT_LT(relative_error(loss_style, vec("loss_style")), kLossTolerance);
  EXPECT_LT(relative_error(loss_total, vec("loss_total")), kLossTolerance);
  loss_total.backward();
  auto params = model->named_parameters(true);
  int compared = 0;
  for (const auto& [key, expected] : unipet::test::reference("unipet_vectors.safetensors").tensors) {
    if (key.rfind("grad.", 0) != 0) continue;
    const std::string name = key.substr(5);
    ASSERT_TRUE(params.contains(name)) << name;
    ASSERT_TRUE(params[name].grad().defined()) << name;
    EXPECT_LT(relative_error(params[name].grad(), expected), kGradientTolerance) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 11);
  model->zero_grad();
}

TEST(UniPET, LatentsAreSpreadEvenlyWithTheRemainderFirst) {
  EXPECT_EQ(blocks_per_latent(8, 4), (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(blocks_per_latent(10, 4), (std::vector<int64_t>{3, 3, 2, 2}));
  EXPECT_EQ(blocks_per_latent(5, 5), (std::vector<int64_t>{1, 1, 1, 1, 1}));
  EXPECT_THROW(blocks_per_latent(3, 4), Error);
}

TEST(UniPET, EveryActivationHasItsOwnSlope) {
  UniPET model(UniPETOptions().width(16).blocks(2).san_width(16).san_depth(2));
  std::set<const void*> slopes;
  int prelus = 0;
  for (const auto& item : model->named_parameters(true)) {
    if (item.value().numel() == 1 && item.key().find("weight") != std::string::npos) {
      slopes.insert(item.value().data_ptr());
      ++prelus;
    }
  }
  // 2 blocks × 1 + 2 encoders × 4.
  EXPECT_EQ(prelus, 10);
  EXPECT_EQ(slopes.size(), 10u);
}

TEST(UniPET, SmallConfigurationsRunOnOddShapes) {
  torch::manual_seed(5);
  UniPET model(UniPETOptions().width(16).blocks(3).san_width(16).san_depth(2));
  auto x = torch::rand({2, 1, 7, 9, 5});
  auto out = model->forward_with_style(x);
  EXPECT_EQ(out.image.sizes(), x.sizes());
  EXPECT_EQ(out.style.sizes(), (std::vector<int64_t>{2, 2 * 16 * 3}));
  EXPECT_EQ(out.latents.size(), 2u);
}

TEST(UniPET, SanWidthDefaultsToFourTimesTheWidth) {
  EXPECT_EQ(UniPET(UniPETOptions())->options.san_width(), 256);
  UniPET model(UniPETOptions().width(16).blocks(2).san_depth(2));
  EXPECT_EQ(model->options.san_width(), 64);
  EXPECT_EQ(model->blocks[0]->as<ResModBlock>()->sw1->weight.size(1), 64);
}

TEST(UniPET, RejectsInconsistentOptionsAndInputs) {
  EXPECT_THROW(UniPET(UniPETOptions().blocks(2).san_depth(3)), Error);
  EXPECT_THROW(UniPET(UniPETOptions().width(0)), Error);
  UniPET model(UniPETOptions().width(16).blocks(2).san_width(16).san_depth(2));
  EXPECT_THROW(model(torch::rand({1, 2, 8, 8, 8})), Error);
  EXPECT_THROW(model(torch::rand({1, 8, 8, 8})), Error);
}

}  // namespace
}  // namespace unipet::nn
