#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "train/steps.h"
#include "train_test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/safetensors.h"
#include "unipet/nn/losses.h"
#include "unipet/nn/model_file.h"
#include "unipet/train/checkpoint.h"
#include "unipet/train/trainer.h"

namespace unipet::train {
namespace {

namespace fs = std::filesystem;

// A fixed batch: a smooth full-dose patch with a hot spot, and a noisy copy.
Batch fixed_batch(int64_t patch) {
  torch::manual_seed(3);
  const auto grid = torch::linspace(-1, 1, patch);
  const auto zz = grid.view({-1, 1, 1}), yy = grid.view({1, -1, 1}), xx = grid.view({1, 1, -1});
  torch::Tensor full = 0.05 + 0.2 * torch::exp(-(zz * zz + yy * yy + xx * xx) * 4);
  full = full.expand({patch, patch, patch}).clone();
  full.narrow(0, patch / 4, 3).narrow(1, patch / 4, 3).narrow(2, patch / 4, 3).fill_(0.6);
  Batch b;
  b.full = torch::stack({full, full.flip({0})}).unsqueeze(1);
  b.low = (b.full + 0.05 * torch::randn_like(b.full)).clamp_min(0);
  b.drfs = {4, 20};
  b.subjects = {"a", "b"};
  return b;
}

TEST(TrainingSteps, OneStepOfEachStageLowersItsLossOnAFixedBatch) {
  const Batch b = fixed_batch(16);
  for (Stage stage : {Stage::BDN, Stage::UniPET}) {
    const TrainConfig c = test::tiny_config(stage);
    detail::Networks n = detail::build_networks(c, torch::kCPU, false);
    const double before = detail::generator_step(n, c, b).values.at("loss");
    const double after =
        detail::generator_step(n, c, b).values.at("loss");  // reports the loss before its update
    EXPECT_LT(after, before) << to_string(stage);
  }
  const TrainConfig c = test::tiny_config(Stage::Critic);
  detail::Networks n = detail::build_networks(c, torch::kCPU, false);
  EXPECT_FALSE(n.generator_optimizer);  // the generator is frozen while the critic learns
  const double before = detail::critic_step(n, c, b, 0).values.at("critic");
  const double after = detail::critic_step(n, c, b, 0).values.at("critic");
  EXPECT_LT(after, before);
}

TEST(TrainingSteps, BdnStageBypassesTheSanAndLeavesItsWeightsAlone) {
  const TrainConfig c = test::tiny_config(Stage::BDN);
  detail::Networks n = detail::build_networks(c, torch::kCPU, false);
  EXPECT_TRUE(n.generator->san_bypassed());
  const torch::Tensor san_weight = n.generator->style_parameters()[0].detach().clone();
  detail::generator_step(n, c, fixed_batch(16));
  EXPECT_TRUE(torch::equal(n.generator->style_parameters()[0], san_weight));  // no weight decay either
  TrainConfig without_san = test::tiny_config(Stage::UniPET);
  without_san.san = false;
  EXPECT_TRUE(detail::build_networks(without_san, torch::kCPU, false).generator->san_bypassed());
}

// Gradient of a loss with respect to the image the critic is shown, masked as the steps mask it.
torch::Tensor input_gradient(const TrainConfig& c, nn::Discriminator& critic, const torch::Tensor& full,
                             bool generator_side) {
  torch::Tensor image = (full + 0.01 * torch::randn_like(full)).requires_grad_(true);
  const torch::Tensor mask = detail::adversarial_mask(c, full);
  const torch::Tensor fake = image * mask;  // what the steps show the critic
  torch::Tensor loss;
  if (generator_side) {
    loss = nn::generator_adversarial_loss(critic(fake));
  } else {
    const torch::Tensor real = full * mask;
    const torch::Tensor alpha = torch::full({full.size(0), 1, 1, 1, 1}, 0.3);
    loss = nn::critic_loss(critic(real), critic(fake)) +
           nn::gradient_penalty(critic, real, fake, alpha, c.lambda_gp);
  }
  loss.backward();
  return image.grad();
}

TEST(TrainingSteps, AdversarialGradientsVanishOutsideTheStylizedRegionOnlyWithRals) {
  TrainConfig c = test::tiny_config(Stage::UniPET);
  c.stylized_threshold = 0.05;  // SUV²: the flat background (variance 0) and smooth tissue are out
  const Batch b = fixed_batch(16);
  const torch::Tensor mask = detail::adversarial_mask(c, b.full);
  const double stylized = mask.mean().item<double>();
  ASSERT_GT(stylized, 0.01);
  ASSERT_LT(stylized, 0.9);
  detail::Networks n = detail::build_networks(c, torch::kCPU, false);
  for (bool generator_side : {true, false}) {
    const torch::Tensor g = input_gradient(c, n.critic, b.full, generator_side);
    EXPECT_EQ(g.masked_select(mask == 0).abs().max().item<double>(), 0.0) << generator_side;
    EXPECT_GT(g.masked_select(mask == 1).abs().max().item<double>(), 0.0) << generator_side;
  }
  c.rals = false;
  EXPECT_EQ(detail::adversarial_mask(c, b.full).min().item<double>(), 1.0);
  for (bool generator_side : {true, false}) {
    const torch::Tensor g = input_gradient(c, n.critic, b.full, generator_side);
    EXPECT_GT(g.masked_select(mask == 0).abs().max().item<double>(), 0.0) << generator_side;
  }
}

TEST(TrainingSteps, StyleAlignmentTargetsTheFullDoseStyle) {
  TrainConfig c = test::tiny_config(Stage::UniPET);
  c.lambda_adv = 0;
  detail::Networks n = detail::build_networks(c, torch::kCPU, false);
  const Batch b = fixed_batch(16);
  double to_full = 0, to_low = 0;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor style = n.generator->forward_with_style(b.low).style;
    to_full = nn::style_alignment_loss(style, n.generator->style_target(b.full)).item<double>();
    to_low = nn::style_alignment_loss(style, n.generator->style_target(b.low)).item<double>();
  }
  const double reported = detail::generator_step(n, c, b).values.at("align");
  EXPECT_GT(reported, 0.0);
  EXPECT_NEAR(reported, to_full, 1e-6 * to_full);
  // The reference's target (a forward of the low-dose input) makes the loss identically zero.
  EXPECT_EQ(to_low, 0.0);
}

TEST(TrainingSteps, TheMovingAverageFollowsTheGeneratorByItsDecay) {
  TrainConfig c = test::tiny_config(Stage::BDN);
  c.ema = 0.75;
  detail::Networks n = detail::build_networks(c, torch::kCPU, false);
  ASSERT_TRUE(n.average);
  EXPECT_TRUE(n.average->san_bypassed());
  EXPECT_FALSE(n.average->parameters()[0].requires_grad());
  // Built equal to the generator; after a step, average = 0.75 average + 0.25 generator.
  for (size_t i = 0; i < n.average->parameters().size(); ++i)
    ASSERT_TRUE(torch::equal(n.average->parameters()[i], n.generator->parameters()[i]));
  std::vector<torch::Tensor> before;
  for (const auto& p : n.average->parameters()) before.push_back(p.detach().clone());
  detail::generator_step(n, c, fixed_batch(16));
  detail::update_average(n, c.ema);
  bool moved = false;
  for (size_t i = 0; i < before.size(); ++i) {
    const torch::Tensor expected = 0.75 * before[i] + 0.25 * n.generator->parameters()[i];
    EXPECT_TRUE(torch::allclose(n.average->parameters()[i], expected, 1e-6, 1e-7)) << i;
    moved = moved || !torch::equal(n.average->parameters()[i], before[i]);
  }
  EXPECT_TRUE(moved);
  EXPECT_EQ(&detail::model_of(n), &n.average);
  // ema 0 (the default) and the critic stage have none: the generator is the model.
  detail::Networks plain = detail::build_networks(test::tiny_config(Stage::BDN), torch::kCPU, false);
  EXPECT_FALSE(plain.average);
  EXPECT_EQ(&detail::model_of(plain), &plain.generator);
  TrainConfig critic = test::tiny_config(Stage::Critic);
  critic.ema = 0.75;
  EXPECT_FALSE(detail::build_networks(critic, torch::kCPU, false).average);
}

class Training : public test::TinyDatasetSuite {
 protected:
  TrainOptions options(Stage stage, const std::string& out) const {
    TrainOptions o;
    o.config = test::tiny_config(stage);
    o.dataset = dataset_path();
    o.out = (run_dir_.path() / out).string();
    return o;
  }

  test::TempDir run_dir_;
};

std::vector<std::string> log_lines(const std::string& run) {
  std::ifstream in(run + "/log.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(Training, AResumedRunEndsBitForBitWhereAnUnbrokenOneDoes) {
  TrainOptions whole = options(Stage::UniPET, "whole");
  train(whole);
  TrainOptions half = options(Stage::UniPET, "half");
  half.config.iterations = 3;
  EXPECT_EQ(train(half).step, 3);
  half.config.iterations = 6;
  half.resume = true;
  EXPECT_EQ(train(half).step, 6);
  const auto a = io::read_safetensors(whole.out + "/model_final.safetensors").tensors;
  const auto b = io::read_safetensors(half.out + "/model_final.safetensors").tensors;
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, t] : a) EXPECT_TRUE(torch::equal(t, b.at(key))) << key;
  const auto ca = io::read_safetensors(whole.out + "/critic_final.safetensors").tensors;
  const auto cb = io::read_safetensors(half.out + "/critic_final.safetensors").tensors;
  for (const auto& [key, t] : ca) EXPECT_TRUE(torch::equal(t, cb.at(key))) << key;
  // The same log, line for line, except the timings.
  const auto strip = [](std::string line) {
    const auto cut = [&](const std::string& key) {
      const size_t at = line.find("\"" + key + "\":");
      if (at != std::string::npos) line.erase(at, line.find_first_of(",}", at) - at);
    };
    cut("seconds");
    cut("it_per_s");
    const size_t split = line.find("\"step_seconds\":");  // an object of timings
    if (split != std::string::npos) line.erase(split, line.find('}', split) + 1 - split);
    return line;
  };
  const auto la = log_lines(whole.out), lb = log_lines(half.out);
  ASSERT_EQ(la.size(), 6u);
  ASSERT_EQ(lb.size(), 6u);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_EQ(strip(la[i]), strip(lb[i]));
}

TEST_F(Training, WithEmaTheAverageIsSavedAndAResumedRunEndsBitForBitAsAnUnbrokenOne) {
  TrainOptions whole = options(Stage::BDN, "ema-whole");
  whole.config.ema = 0.5;
  train(whole);
  TrainOptions half = options(Stage::BDN, "ema-half");
  half.config.ema = 0.5;
  half.config.iterations = 3;
  train(half);
  half.config.iterations = 6;
  half.resume = true;
  train(half);
  const auto a = io::read_safetensors(whole.out + "/model_final.safetensors").tensors;
  const auto b = io::read_safetensors(half.out + "/model_final.safetensors").tensors;
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, t] : a) EXPECT_TRUE(torch::equal(t, b.at(key))) << key;
  // The saved model is the average, not the raw generator of the checkpoint.
  TrainConfig c = whole.config;
  detail::Networks n = detail::build_networks(c, torch::kCPU, false);
  CheckpointParts parts;
  parts.generator = n.generator;
  parts.average = n.average;
  const CheckpointState state = load_checkpoint(whole.out + "/checkpoint_latest.pt", parts, torch::kCPU);
  EXPECT_TRUE(state.average_loaded);
  const auto average = nn::state_dict(*n.average), raw = nn::state_dict(*n.generator);
  int64_t differ = 0;
  for (const auto& [key, t] : a) {
    EXPECT_TRUE(torch::equal(t, average.at(key).to(t.scalar_type()))) << key;
    differ += !torch::equal(t, raw.at(key).to(t.scalar_type()));
  }
  EXPECT_GT(differ, 0);
  // A run without an average continued with ema set starts its average at the raw weights.
  TrainOptions later = options(Stage::BDN, "ema-later");
  later.config.iterations = 3;
  train(later);
  later.config.iterations = 4;
  later.config.ema = 0.5;
  later.resume = true;
  EXPECT_EQ(train(later).step, 4);
  detail::Networks m = detail::build_networks(later.config, torch::kCPU, false);
  CheckpointParts later_parts;
  later_parts.generator = m.generator;
  later_parts.average = m.average;
  EXPECT_TRUE(load_checkpoint(later.out + "/checkpoint_latest.pt", later_parts, torch::kCPU).average_loaded);
}

TEST_F(Training, AStopRequestWritesACheckpointThatContinues) {
  TrainOptions o = options(Stage::BDN, "stopped");
  o.config.checkpoint_every = 100;
  int polls = 0;
  o.should_stop = [&] { return ++polls == 2; };
  const TrainResult r = train(o);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.step, 2);
  EXPECT_FALSE(fs::exists(o.out + "/model_final.safetensors"));
  nn::UniPET g(nn::UniPETOptions().width(16).blocks(2).san_width(16).san_depth(1));
  CheckpointParts parts;
  parts.generator = g;
  EXPECT_EQ(load_checkpoint(o.out + "/checkpoint_latest.pt", parts, torch::kCPU).step, 2);
  o.resume = true;
  o.should_stop = nullptr;
  EXPECT_EQ(train(o).step, 6);
  EXPECT_TRUE(fs::exists(o.out + "/model_final.safetensors"));
}

TEST_F(Training, ARunStoppedBeforeItsFirstCheckpointStartsAgainFromItsInit) {
  TrainOptions bdn = options(Stage::BDN, "bdn");
  bdn.config.iterations = 2;
  train(bdn);
  TrainOptions whole = options(Stage::UniPET, "whole");
  whole.config.init = bdn.out + "/model_final.safetensors";
  train(whole);
  TrainOptions killed = options(Stage::UniPET, "killed");
  killed.config.init = whole.config.init;
  killed.should_stop = [] { return true; };
  train(killed);
  fs::remove(killed.out + "/checkpoint_latest.pt");  // as if killed before writing it
  killed.should_stop = nullptr;
  killed.resume = true;
  EXPECT_EQ(train(killed).step, 6);
  const auto a = io::read_safetensors(whole.out + "/model_final.safetensors").tensors;
  const auto b = io::read_safetensors(killed.out + "/model_final.safetensors").tensors;
  for (const auto& [key, t] : a) EXPECT_TRUE(torch::equal(t, b.at(key))) << key;
}

TEST_F(Training, ATinyBdnBeatsTheLowDoseInputWithinAFewHundredSteps) {
  TrainOptions o = options(Stage::BDN, "bdn");
  o.config.iterations = 300;
  o.config.lr = 2e-3;
  o.config.log_every = 50;
  o.config.checkpoint_every = 300;
  o.config.validate_every = 150;
  o.config.val_crops = 2;
  o.config.val_crop = 16;
  const TrainResult r = train(o);
  EXPECT_GT(r.last_score, r.input_score + 0.5)
      << "validation PSNR " << r.last_score << " dB vs low dose " << r.input_score;
  EXPECT_EQ(r.best_score, std::max(r.best_score, r.last_score));
  const nn::LoadedUniPET best = nn::load_unipet(o.out + "/model_best.safetensors");
  EXPECT_TRUE(best.model->san_bypassed());
  EXPECT_EQ(best.metadata.at("unipet.train.stage"), "bdn");

  // The BDN starts the critic and the UniPET stage; the critic file starts UniPET's critic.
  TrainOptions disc = options(Stage::Critic, "disc");
  disc.config.iterations = 2;
  disc.config.init = o.out + "/model_final.safetensors";
  train(disc);
  TrainOptions uni = options(Stage::UniPET, "unipet");
  uni.config.iterations = 2;
  uni.config.init = disc.config.init;
  uni.config.init_critic = disc.out + "/critic_final.safetensors";
  train(uni);
  EXPECT_FALSE(nn::load_unipet(uni.out + "/model_final.safetensors").model->san_bypassed());
}

TEST_F(Training, BadInputsNameTheFieldOrFileAndWriteNothing) {
  const auto fails = [&](TrainOptions o, std::initializer_list<std::string> parts) {
    test::expect_error([&] { train(o); }, parts);
    EXPECT_FALSE(fs::exists(o.out)) << o.out;
  };
  TrainOptions o = options(Stage::BDN, "run");
  o.config.batch = 0;
  fails(o, {"batch"});
  o = options(Stage::BDN, "run");
  o.config.drfs = {10};
  fails(o, {"dataset.json", "no DRF 10"});
  o = options(Stage::BDN, "run");
  o.config.train_split = "none";
  fails(o, {"dataset.json", "'none'"});
  o = options(Stage::BDN, "run");
  o.config.validate_every = 5;
  o.config.val_split = "test";
  fails(o, {"validation split 'test'"});
  o = options(Stage::Critic, "run");
  fails(o, {"--init"});
  o = options(Stage::UniPET, "run");
  nn::UniPET wide(nn::UniPETOptions().width(32).blocks(2).san_width(16).san_depth(1));
  const std::string other = (run_dir_.path() / "wide.safetensors").string();
  nn::save_unipet(other, wide, nn::IntensityNormalization{});
  o.config.init = other;
  fails(o, {"wide.safetensors", "width 32", "width 16"});
  o = options(Stage::BDN, "run");
  o.dataset = (run_dir_.path() / "missing.json").string();
  fails(o, {"missing.json"});
  // An existing folder with someone's files in it is never written into.
  o = options(Stage::BDN, "taken");
  fs::create_directories(o.out);
  test::write_bytes(o.out + "/notes.txt", "mine");
  test::expect_error([&] { train(o); }, {"taken", "not empty"});
  EXPECT_EQ(fs::directory_iterator(o.out)->path().filename(), "notes.txt");
  o.resume = true;
  test::expect_error([&] { train(o); }, {"taken", "no config.json"});
}

}  // namespace
}  // namespace unipet::train
