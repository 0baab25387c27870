// Parity of the RALS critic, its losses and the gradient penalty with the reference
// (../shared/reference/disc_*.safetensors), and the generalisation to other patch sizes.
#include <gtest/gtest.h>

#include "reference.h"
#include "unipet/core/error.h"
#include "unipet/nn/discriminator.h"
#include "unipet/nn/losses.h"
#include "unipet/nn/model_file.h"

namespace unipet::nn {
namespace {

using unipet::test::reference_path;
using unipet::test::relative_error;

torch::Tensor vec(const std::string& key) { return unipet::test::reference_tensor("disc_vectors.safetensors", key); }

Discriminator reference_critic() { return load_discriminator(reference_path("disc_weights.safetensors")); }

TEST(Discriminator, ReferenceWeightsRebuildNdf16) {
  auto critic = reference_critic();
  EXPECT_EQ(critic->options.ndf(), 16);
  EXPECT_EQ(critic->min_patch_size(), 32);
}

TEST(Discriminator, ScoresMatchTheReferenceAt64) {
  auto critic = reference_critic();
  torch::NoGradGuard no_grad;
  EXPECT_LT(relative_error(critic(vec("real")), vec("d_real")), 1e-4);
  EXPECT_LT(relative_error(critic(vec("fake")), vec("d_fake")), 1e-4);
}

TEST(Discriminator, GradientPenaltyAndCriticLossMatchTheReference) {
  auto critic = reference_critic();
  auto gp = gradient_penalty(critic, vec("real"), vec("fake"), vec("alpha"), 10.0);
  // The scores' own tolerance: the penalty is built from their gradients, and float32 kernels sum
  // in another order on another CPU (7e-5 on an AMD EPYC without AVX-512, under 1e-5 with it).
  EXPECT_LT(relative_error(gp, vec("gradient_penalty")), 1e-4);
  auto loss = critic_loss(critic(vec("real")), critic(vec("fake"))) + gp;
  EXPECT_LT(relative_error(loss, vec("loss_d")), 1e-4);
  // The penalty must be differentiable with respect to the critic's weights.
  loss.backward();
  EXPECT_GT(critic->linear->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(critic->model[0]->as<torch::nn::Conv3d>()->weight.grad().abs().sum().item<double>(), 0.0);
}

TEST(Discriminator, AcceptsOtherPatchSizesFrom32) {
  torch::manual_seed(6);
  Discriminator critic(DiscriminatorOptions().ndf(4));
  EXPECT_EQ(critic(torch::randn({2, 1, 32, 32, 32})).sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(critic(torch::randn({1, 1, 48, 96, 40})).sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_THROW(critic(torch::randn({1, 1, 16, 64, 64})), Error);
  EXPECT_THROW(critic(torch::randn({1, 2, 64, 64, 64})), Error);
}

TEST(Discriminator, GeneratorLossIsTheNegatedMeanScore) {
  auto d_fake = torch::tensor({{1.0f}, {3.0f}});
  EXPECT_FLOAT_EQ(generator_adversarial_loss(d_fake).item<float>(), -2.0f);
  EXPECT_FLOAT_EQ(critic_loss(torch::tensor({{4.0f}}), d_fake).item<float>(), -2.0f);
}

TEST(Discriminator, PenaltyWithRandomAlphaIsDeterministicForASeededGenerator) {
  torch::manual_seed(7);
  Discriminator critic(DiscriminatorOptions().ndf(4));
  auto real = torch::randn({2, 1, 32, 32, 32}), fake = torch::randn({2, 1, 32, 32, 32});
  auto g1 = torch::make_generator<torch::CPUGeneratorImpl>(42);
  auto g2 = torch::make_generator<torch::CPUGeneratorImpl>(42);
  auto a = gradient_penalty(critic, real, fake, 10.0, g1);
  auto b = gradient_penalty(critic, real, fake, 10.0, g2);
  EXPECT_EQ(a.item<float>(), b.item<float>());
  EXPECT_GT(a.item<float>(), 0.0f);
}

}  // namespace
}  // namespace unipet::nn
