// The dose-balanced training options (issue 20): per-sample weights, the lesion term, identity
// pairs, the intensity mapping in training, and the step's time split.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "train/steps.h"
#include "train_test_util.h"
#include "unipet/core/error.h"
#include "unipet/nn/losses.h"
#include "unipet/nn/model_file.h"
#include "unipet/train/sampler.h"
#include "unipet/train/trainer.h"

namespace unipet::train {
namespace {

namespace fs = std::filesystem;

// A smooth patch with a hot 3³ lesion, [1, 1, P, P, P].
torch::Tensor patch_with_lesion(int64_t p) {
  const auto grid = torch::linspace(-1, 1, p);
  const auto zz = grid.view({-1, 1, 1}), yy = grid.view({1, -1, 1}), xx = grid.view({1, 1, -1});
  torch::Tensor full = (0.1 + 0.1 * torch::exp(-(zz * zz + yy * yy + xx * xx) * 2)).expand({p, p, p}).clone();
  full.narrow(0, 5, 3).narrow(1, 6, 3).narrow(2, 7, 3).fill_(0.8);
  return full.view({1, 1, p, p, p});
}

TEST(DoseBalancing, NoisierInputsWeighLessAndAnIdentityPairWeighsMostButFinitely) {
  TrainConfig c = test::tiny_config(Stage::BDN);
  c.dose_weighting = "input_error";
  torch::manual_seed(1);
  const torch::Tensor full = patch_with_lesion(16).repeat({3, 1, 1, 1, 1});
  torch::Tensor low = full.clone();
  low[0] += 0.01 * torch::randn_like(low[0]);  // DRF-2-like
  low[1] += 0.10 * torch::randn_like(low[1]);  // DRF-100-like
  // low[2] is the full dose itself: an identity pair
  const torch::Tensor w = detail::sample_weights(c, low, full);
  EXPECT_GT(w[0].item<double>(), 5 * w[1].item<double>());
  EXPECT_GT(w[2].item<double>(), w[0].item<double>());
  EXPECT_TRUE(std::isfinite(w[2].item<double>()));
  // Relative to the input's error: a weighted L1 of 1 is "no better than the input".
  const double input_term = (w * nn::per_sample_l1(low, full)).narrow(0, 0, 2).mean().item<double>();
  EXPECT_GT(input_term, 0.8);
  EXPECT_LT(input_term, 1.0);
  c.dose_weighting = "none";
  EXPECT_TRUE(torch::equal(detail::sample_weights(c, low, full), torch::ones({3})));
}

TEST(DoseBalancing, PlainConfigurationKeepsTheReferenceLossExactly) {
  const TrainConfig c = test::tiny_config(Stage::BDN);
  torch::manual_seed(2);
  const torch::Tensor full = patch_with_lesion(16).repeat({2, 1, 1, 1, 1});
  const torch::Tensor image = full + 0.05 * torch::randn_like(full), low = full + 0.1 * torch::randn_like(full);
  std::map<std::string, double> logged;
  const torch::Tensor loss = detail::reconstruction_terms(c, image, low, full, logged);
  EXPECT_TRUE(torch::equal(loss, nn::reconstruction_loss(image, full)));
  EXPECT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged.at("l1"), loss.item<double>());
}

TEST(LesionLoss, ALostLesionCostsMoreThanTheSameErrorSpreadEvenly) {
  const torch::Tensor full = patch_with_lesion(16);
  EXPECT_EQ(nn::lesion_loss(full, full, 3).item<double>(), 0.0);
  torch::Tensor flattened = full.clone();
  flattened.narrow(2, 5, 3).narrow(3, 6, 3).narrow(4, 7, 3).fill_(0.2);
  const double l1 = nn::per_sample_l1(flattened, full).item<double>();
  const torch::Tensor offset = full + l1;  // the same mean absolute error, everywhere
  EXPECT_NEAR(nn::per_sample_l1(offset, full).item<double>(), l1, 1e-6);
  const double lost = nn::lesion_loss(flattened, full, 3).item<double>();
  const double even = nn::lesion_loss(offset, full, 3).item<double>();
  EXPECT_NEAR(even, 2 * l1, 1e-6);  // max and mean pools both off by the offset
  EXPECT_GT(lost, 3 * even);
  test::expect_error([&] { nn::lesion_loss(full, full, 5); }, {"at least 32"});
}

TEST(IdentityPairs, AreTheFullDoseAsInputAtTheirShareAndLeaveOtherStreamsAlone) {
  test::TempDir dir;
  const io::Dataset d =
      test::write_synthetic_dataset(dir.path(), {"train", "train"}, {4, 20}, {20, 20, 20}, [](int s, double drf) {
        return torch::rand({20, 20, 20}, torch::kFloat64) * (2 + s) + drf;
      });
  TrainConfig c;
  c.patch = 12;
  c.batch = 4;
  c.prefetch = 0;
  c.identity_fraction = 0.5;
  PatchSampler sampler(d, c);
  int identity = 0, total = 0;
  for (int64_t step = 0; step < 20; ++step) {
    const Batch b = sampler.batch(step);
    for (int64_t k = 0; k < c.batch; ++k, ++total) {
      if (b.drfs[static_cast<size_t>(k)] != 1) continue;
      ++identity;
      EXPECT_TRUE(torch::equal(b.low[k], b.full[k]));
    }
  }
  EXPECT_GT(identity, total / 4);
  EXPECT_LT(identity, 3 * total / 4);
  // identity_fraction 0 draws nothing extra: the patch stream of a run without the key.
  TrainConfig off = c, absent;
  off.identity_fraction = 0;
  absent.patch = c.patch;
  absent.batch = c.batch;
  absent.prefetch = 0;
  PatchSampler a(d, off), b(d, absent);
  EXPECT_TRUE(torch::equal(a.batch(7).low, b.batch(7).low));
}

TEST(IntensityInTraining, SamplerAndValidationUseTheRunsMapping) {
  test::TempDir dir;
  const io::Dataset d = test::write_synthetic_dataset(
      dir.path(), {"train", "val"}, {4}, {16, 16, 16},
      [](int, double drf) { return torch::full({16, 16, 16}, drf == 0 ? 45.0 : 47.0, torch::kFloat64); });
  TrainConfig c;
  c.patch = 16;
  c.batch = 1;
  c.prefetch = 0;
  c.intensity = "sqrt";
  c.intensity_scale = 5;
  PatchSampler sampler(d, c);
  // sqrt(45 / 5) = 3: a 45-SUV organ is no longer clipped to 20.
  EXPECT_NEAR(sampler.batch(0).full.mean().item<double>(), 3.0, 1e-6);
  c.val_crop = 16;
  c.val_crops = 1;
  const auto crops = validation_crops(d, c, sampler.cache());
  detail::Networks n = detail::build_networks(test::tiny_config(Stage::BDN), torch::kCPU, false);
  const detail::ValidationScores input = detail::validate(n, c, crops, true);
  // 2 SUV of error everywhere, on the evaluation's 20-SUV range: 20 log10(20 / 2) = 20 dB (the
  // crops are float32 square roots, squared back).
  EXPECT_NEAR(input.psnr.at(4), 20.0, 1e-4);
}

class BalancedTraining : public test::TinyDatasetSuite {
 protected:
  TrainOptions options(const std::string& out) const {
    TrainOptions o;
    o.config = test::tiny_config(Stage::UniPET);
    o.config.intensity = "sqrt";
    o.config.dose_weighting = "input_error";
    o.config.identity_fraction = 0.25;
    o.config.lambda_lesion = 0.5;
    o.config.lesion_scales = 2;
    o.dataset = dataset_path();
    o.out = (run_dir_.path() / out).string();
    return o;
  }
  test::TempDir run_dir_;
};

TEST_F(BalancedTraining, RunsLogsEveryTermAndTheTimeSplitAndRecordsItsMapping) {
  TrainOptions o = options("balanced");
  train(o);
  std::ifstream log(o.out + "/log.jsonl");
  std::string line;
  std::getline(log, line);
  const auto entry = nlohmann::json::parse(line);
  for (const char* key : {"l1", "l1_weighted", "lesion", "align", "adv"}) EXPECT_TRUE(entry.contains(key)) << key;
  for (const char* phase : {"data", "forward", "critic", "losses", "backward", "optimizer"})
    EXPECT_GE(entry.at("step_seconds").at(phase).get<double>(), 0.0) << phase;
  const nn::LoadedUniPET model = nn::load_unipet(o.out + "/model_final.safetensors");
  EXPECT_EQ(model.normalization.mapping, nn::IntensityMapping::Sqrt);
  EXPECT_DOUBLE_EQ(model.normalization.scale, 20.0);
}

TEST_F(BalancedTraining, AnInitOfAnotherMappingIsRefusedUnlessAskedFor) {
  TrainOptions linear = options("linear");
  linear.config = test::tiny_config(Stage::BDN);
  linear.config.iterations = 1;
  train(linear);
  TrainOptions o = options("from-linear");
  o.config.stage = Stage::BDN;
  o.config.iterations = 1;
  o.config.init = linear.out + "/model_final.safetensors";
  test::expect_error([&] { train(o); }, {"model_final.safetensors", "SUV clipped to [0, 20]", "sqrt(SUV / 20)",
                                         "init_any_mapping"});
  EXPECT_FALSE(fs::exists(o.out));
  o.config.init_any_mapping = true;
  EXPECT_EQ(train(o).step, 1);
}

TEST_F(BalancedTraining, AContinuedRunRefusesKeysThatChangeItsNetworkBeforeWritingAnything) {
  TrainOptions o = options("finished");
  o.config.stage = Stage::BDN;
  o.config.iterations = 2;
  train(o);
  const std::string model = o.out + "/model_final.safetensors";
  const auto before = fs::last_write_time(model);
  const std::string config_before = test::read_bytes(o.out + "/config.json");
  o.resume = true;
  o.config.iterations = 4;
  for (auto [key, change] : std::vector<std::pair<std::string, std::function<void(TrainConfig&)>>>{
           {"--set width", [](TrainConfig& c) { c.width = 32; }},
           {"--set intensity", [](TrainConfig& c) { c.intensity = "linear"; }},
           {"--set intensity", [](TrainConfig& c) { c.intensity_scale = 5; }},
           {"--set stage", [](TrainConfig& c) { c.stage = Stage::UniPET; }}}) {
    TrainOptions changed = o;
    change(changed.config);
    test::expect_error([&] { train(changed); }, {key, "start a new run"});
    EXPECT_EQ(fs::last_write_time(model), before) << key;
    EXPECT_EQ(test::read_bytes(o.out + "/config.json"), config_before) << key;
  }
  EXPECT_EQ(train(o).step, 4);  // more iterations are fine
}

}  // namespace
}  // namespace unipet::train
