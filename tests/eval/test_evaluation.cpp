// `unipet evaluate` as a library call (eval/evaluation.h): on a tiny SUV dataset written here,
// the scores of the low-dose baseline and of prediction folders whose errors are known exactly,
// the prediction cache of a model method, and the errors that name the option at fault.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "infer/infer_test_util.h"
#include "train/train_test_util.h"
#include "unipet/core/body_mask.h"
#include "unipet/eval/evaluation.h"
#include "unipet/io/dataset.h"
#include "unipet/io/image_io.h"

namespace unipet::eval {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;

constexpr int64_t kSide = 16;
constexpr double kRange = 20;     // SUV, the PSNR data range
constexpr double kChecker = 0.2;  // SUV, the error of every voxel of the "Checker" method

// Noise of the low dose: Gaussian, σ = 0.5 SUV at DRF 4, growing as √DRF (counts fall as 1/DRF).
double noise_sigma(double drf) { return 0.5 * std::sqrt(drf / 4); }

// ±1 in a 3D checkerboard of [kSide]^3: an error whose square is 1 at every voxel.
torch::Tensor checkerboard() {
  const auto i = torch::arange(kSide);
  const auto parity = (i.view({-1, 1, 1}) + i.view({1, -1, 1}) + i.view({1, 1, -1})) % 2;
  return (parity * 2 - 1).to(torch::kFloat32);
}

// A dataset of `splits.size()` subjects at DRF 4 and 20 whose images are kept for the hand
// computations, and two prediction folders laid out as the dataset's low-dose images:
// "perfect" holds each full dose, "checker" each full dose ± kChecker.
struct SyntheticEvaluation {
  TempDir dir;
  std::string dataset;
  std::map<std::pair<int, double>, torch::Tensor> images;  // (subject, DRF; 0 = full dose) -> [D, H, W]

  explicit SyntheticEvaluation(const std::vector<std::string>& splits) {
    const io::Dataset d = test::write_synthetic_dataset(
        dir.path() / "data", splits, {4, 20}, {kSide, kSide, kSide}, [&](int subject, double drf) {
          const auto full = test::smooth_body(kSide, kSide, kSide, 11 + subject);
          torch::Tensor image = full;
          if (drf > 0) {
            auto gen =
                torch::make_generator<torch::CPUGeneratorImpl>(100 * subject + static_cast<uint64_t>(drf));
            image = full + noise_sigma(drf) * torch::randn(full.sizes(), gen);
          }
          images[{subject, drf}] = image;
          return image;
        });
    dataset = (dir.path() / "data" / "dataset.json").string();
    for (size_t s = 0; s < d.subjects.size(); ++s) {
      for (const auto& [drf, low] : d.subjects[s].low_dose) {
        const torch::Tensor full = images.at({static_cast<int>(s), 0.0});
        write_prediction("perfect", low, full);
        write_prediction("checker", low, full + kChecker * checkerboard());
      }
    }
  }

  void write_prediction(const std::string& folder, const std::string& relative,
                        const torch::Tensor& data) const {
    const fs::path path = dir.path() / folder / relative;
    fs::create_directories(path.parent_path());
    Volume v;
    v.data = data.contiguous();
    v.units = Units::SUV;
    io::write_image(v, path.string());
  }

  EvaluationOptions options(const std::string& out) const {
    EvaluationOptions o;
    o.dataset = dataset;
    o.out = dir / out;
    o.data_range = kRange;
    o.denoise.compute.device = "cpu";
    o.denoise.window.tile = 16;
    return o;
  }

  Method folder_method(const std::string& name, const std::string& folder) const {
    return parse_method(name + "=" + (dir / folder));
  }
};

// The score of one subject, DRF and method.
const Score& score_of(const EvaluationResult& r, const std::string& subject, double drf,
                      const std::string& method) {
  for (const Score& s : r.scores)
    if (s.subject == subject && s.drf == drf && s.method == method) return s;
  throw std::runtime_error("no score for " + subject + " " + std::to_string(drf) + " " + method);
}

TEST(Evaluation, ScoresTheLowDoseAndPredictionFoldersAsComputedByHand) {
  SyntheticEvaluation f({"test", "test"});
  EvaluationOptions o = f.options("report");
  o.methods = {f.folder_method("Perfect", "perfect"), f.folder_method("Checker", "checker")};
  o.baselines = {"lowdose"};
  std::ostringstream log;
  const EvaluationResult r = run_evaluation(o, log);

  EXPECT_EQ(r.subjects, (std::vector<std::string>{"s0", "s1"}));
  EXPECT_EQ(r.drfs, (std::vector<double>{4, 20}));
  // One row per subject, DRF and method, the methods in report order (baselines last).
  ASSERT_EQ(r.scores.size(), 2u * 2u * 3u);
  EXPECT_EQ(r.scores[0].method, "Perfect");
  EXPECT_EQ(r.scores[1].method, "Checker");
  EXPECT_EQ(r.scores[2].method, "lowdose");
  EXPECT_EQ(r.scores[3].drf, 20);
  EXPECT_EQ(r.scores[6].subject, "s1");
  EXPECT_EQ(r.predictions_run, 0);  // folders and baselines run nothing
  EXPECT_EQ(r.predictions_cached, 0);

  for (int subject = 0; subject < 2; ++subject) {
    const std::string id = "s" + std::to_string(subject);
    // The body outline of the float32 image, as the evaluation finds it.
    const torch::Tensor body = body_mask(f.images.at({subject, 0.0}));
    const torch::Tensor full = f.images.at({subject, 0.0}).to(torch::kFloat64);
    const double voxels = body.sum().item<double>();
    const double full_norm = full.masked_select(body).norm().item<double>();
    for (double drf : {4.0, 20.0}) {
      const std::string at = id + " DRF " + std::to_string(drf);
      // PSNR = 10·log10(range² / MSE), the MSE over the body of the full dose.
      const torch::Tensor low = f.images.at({subject, drf}).to(torch::kFloat64);
      const double mse = (full - low).masked_select(body).pow(2).mean().item<double>();
      const Score& lowdose = score_of(r, id, drf, "lowdose");
      EXPECT_NEAR(lowdose.psnr, 10 * std::log10(kRange * kRange / mse), 1e-9) << at;
      // ... which is about what the noise's σ says (the MSE of a few thousand voxels is within 10%).
      EXPECT_NEAR(lowdose.psnr, 10 * std::log10(kRange * kRange / std::pow(noise_sigma(drf), 2)), 0.4) << at;

      // Every voxel of "Checker" is 0.2 SUV off: MSE 0.04 exactly, 40 dB.
      const Score& checker = score_of(r, id, drf, "Checker");
      EXPECT_NEAR(checker.psnr, 10 * std::log10(kRange * kRange / (kChecker * kChecker)), 1e-3) << at;
      EXPECT_NEAR(checker.psnr, 40.0, 1e-3) << at;
      const double peak = full.max().item<double>();
      EXPECT_NEAR(checker.psnr_ref_max, 10 * std::log10(peak * peak / (kChecker * kChecker)), 1e-3) << at;
      EXPECT_NEAR(checker.nrmse, kChecker * std::sqrt(voxels) / full_norm, 1e-6) << at;

      const Score& perfect = score_of(r, id, drf, "Perfect");
      EXPECT_TRUE(std::isinf(perfect.psnr) && perfect.psnr > 0) << at;
      EXPECT_NEAR(perfect.ssim, 1.0, 1e-9) << at;
      EXPECT_EQ(perfect.nrmse, 0.0) << at;

      // The order every report shows.
      EXPECT_GT(perfect.psnr, checker.psnr) << at;
      EXPECT_GT(checker.psnr, lowdose.psnr) << at;
      EXPECT_GT(perfect.ssim, checker.ssim) << at;
      EXPECT_GT(checker.ssim, lowdose.ssim) << at;
      EXPECT_LT(checker.nrmse, lowdose.nrmse) << at;
      // No lesion or liver image in this dataset: no such numbers.
      EXPECT_TRUE(lowdose.lesions.empty()) << at;
      EXPECT_TRUE(std::isnan(lowdose.liver_cov)) << at;
    }
    // Five times the dose reduction, five times the noise variance: 10·log10(5) dB less.
    EXPECT_NEAR(score_of(r, id, 4, "lowdose").psnr - score_of(r, id, 20, "lowdose").psnr,
                10 * std::log10(5.0), 0.5);
  }
  for (const char* file : {"index.html", "metrics.csv", "summary.md"})
    EXPECT_TRUE(fs::is_regular_file(fs::path(o.out) / file)) << file;
}

TEST(Evaluation, ModelPredictionsAreCachedAndASecondRunComputesNone) {
  SyntheticEvaluation f({"test"});
  test::save_identity_model(f.dir / "identity.safetensors");
  EvaluationOptions o = f.options("report");
  o.methods = {parse_method("Identity=" + (f.dir / "identity.safetensors"))};
  o.baselines = {"lowdose"};
  std::ostringstream log;
  const EvaluationResult first = run_evaluation(o, log);
  EXPECT_EQ(first.predictions_run, 2);  // 1 subject x 2 DRFs
  EXPECT_EQ(first.predictions_cached, 0);
  const fs::path cache = fs::path(o.out) / "predictions" / "Identity" / "s0";
  EXPECT_TRUE(fs::is_regular_file(cache / "drf_4.nii.gz"));
  EXPECT_TRUE(fs::is_regular_file(cache / "drf_20.nii.gz"));
  // The identity network returns its input: the low-dose baseline's scores.
  for (double drf : {4.0, 20.0}) {
    EXPECT_NEAR(score_of(first, "s0", drf, "Identity").psnr, score_of(first, "s0", drf, "lowdose").psnr,
                1e-3);
    EXPECT_NEAR(score_of(first, "s0", drf, "Identity").ssim, score_of(first, "s0", drf, "lowdose").ssim,
                1e-5);
  }

  const EvaluationResult second = run_evaluation(o, log);
  EXPECT_EQ(second.predictions_run, 0);
  EXPECT_EQ(second.predictions_cached, 2);
  ASSERT_EQ(second.scores.size(), first.scores.size());
  for (size_t i = 0; i < first.scores.size(); ++i)
    EXPECT_EQ(second.scores[i].psnr, first.scores[i].psnr) << i;

  // A missing prediction is the only one made again.
  fs::remove(cache / "drf_20.nii.gz");
  const EvaluationResult third = run_evaluation(o, log);
  EXPECT_EQ(third.predictions_run, 1);
  EXPECT_EQ(third.predictions_cached, 1);

  // Other tile settings make other predictions: none of the cached ones is used.
  o.denoise.window.overlap = 0.5;
  std::ostringstream remade_log;
  const EvaluationResult fourth = run_evaluation(o, remade_log);
  EXPECT_EQ(fourth.predictions_run, 2);
  EXPECT_EQ(fourth.predictions_cached, 0);
  EXPECT_NE(remade_log.str().find("evaluate: Identity: made 2 prediction(s) again"), std::string::npos)
      << remade_log.str();
}

TEST(Evaluation, BadOptionsAreRefusedNamingTheOptionBeforeAnythingIsWritten) {
  SyntheticEvaluation f({"test", "test"});
  const EvaluationOptions good = [&] {
    EvaluationOptions o = f.options("report");
    o.methods = {f.folder_method("Perfect", "perfect")};
    o.baselines = {"lowdose"};
    return o;
  }();
  const auto refused = [&](const std::function<void(EvaluationOptions&)>& change,
                           std::initializer_list<std::string> parts) {
    EvaluationOptions o = good;
    change(o);
    std::ostringstream log;
    expect_error([&] { run_evaluation(o, log); }, parts);
    EXPECT_FALSE(fs::exists(good.out)) << "the report folder was left behind";
  };
  refused([&](auto& o) { o.methods.push_back(f.folder_method("perfect", "checker")); },
          {"--method perfect is given twice (as Perfect)"});
  refused([&](auto& o) { o.methods.push_back(f.folder_method("Perfect", "checker")); },
          {"--method Perfect is given twice: each --method needs a name of its own"});
  refused([](auto& o) { o.baselines.push_back("lowdose"); }, {"--baseline lowdose is given twice"});
  refused([](auto& o) { o.baselines = {"median"}; },
          {"--baseline must be lowdose or gaussian, got 'median'"});
  refused([](auto& o) { o.drfs = {8}; }, {"--drf 8: not in " + good.dataset});
  refused([](auto& o) { o.drfs = {4, 4}; }, {"--drf 4 is given twice"});
  refused([](auto& o) { o.trained_drfs = {4, 1}; }, {"--trained-drfs: each DRF must be > 1, got 1"});
  refused([](auto& o) { o.show = {"s9"}; },
          {"--show s9: no such subject in split 'test' of " + good.dataset});
  refused([](auto& o) { o.show_drf = 8; }, {"--show-drf 8: not an evaluated DRF (4, 20)"});
  refused([](auto& o) { o.show_drf = 0.5; }, {"--show-drf must be a DRF > 1, got 0.5"});
  refused([](auto& o) { o.data_range = 0; }, {"--range must be positive, got 0"});
  refused([](auto& o) { o.methods.clear(), o.baselines.clear(); }, {"nothing to evaluate"});
  refused([](auto& o) { o.split = "train"; }, {good.dataset + ": no subjects in split 'train'"});
  EvaluationOptions no_out = good;
  no_out.out = "";
  std::ostringstream log;
  expect_error([&] { run_evaluation(no_out, log); }, {"--out is required"});

  // A subject without an image at an evaluated DRF.
  io::Dataset d = io::read_dataset(f.dataset);
  d.subjects[1].low_dose.erase(20.0);
  const std::string partial = f.dir / "data/partial.json";
  io::write_dataset(d, partial);
  refused([&](auto& o) { o.dataset = partial; }, {partial + ": subject s1 has no image at DRF 20"});
}

TEST(Evaluation, AMissingOrMisshapenPredictionIsRefusedNamingTheFile) {
  SyntheticEvaluation f({"test"});
  EvaluationOptions o = f.options("report");
  fs::create_directories(f.dir / "empty");
  o.methods = {f.folder_method("Empty", "empty")};
  std::ostringstream log;
  expect_error([&] { run_evaluation(o, log); },
               {(f.dir / "empty") + "/s0_drf4.nii: missing prediction of Empty for subject s0 at DRF 4"});
  EXPECT_FALSE(fs::exists(o.out));

  f.write_prediction("small", "s0_drf4.nii", torch::ones({8, kSide, kSide}));
  f.write_prediction("small", "s0_drf20.nii", torch::ones({8, kSide, kSide}));
  o.methods = {f.folder_method("Small", "small")};
  expect_error([&] { run_evaluation(o, log); }, {(f.dir / "small") + "/s0_drf4.nii and " + (f.dir / "data") +
                                                 "/s0_full.nii: different geometry"});
}

TEST(Evaluation, MethodSpecsAreParsedAndBadOnesRefusedNamingTheSpec) {
  TempDir dir;
  fs::create_directories(dir / "preds");
  test::write_bytes(dir / "model.safetensors", "not read here");
  const Method model = parse_method("Net-2.a_b=" + (dir / "model.safetensors"));
  EXPECT_EQ(model.name, "Net-2.a_b");
  EXPECT_EQ(model.path, dir / "model.safetensors");
  EXPECT_EQ(model.kind, Method::Kind::Model);
  const Method folder = parse_method("Theirs=" + (dir / "preds"));
  EXPECT_EQ(folder.kind, Method::Kind::Folder);
  EXPECT_EQ(folder.path, dir / "preds");

  const std::string preds = dir / "preds";
  for (const std::string& spec : {std::string("noequals"), "=" + preds, std::string("A=")})
    expect_error([&] { parse_method(spec); },
                 {"--method '" + spec + "': expected NAME=MODEL_FILE or NAME=PREDICTIONS_FOLDER"});
  for (const std::string name : {"a b", "A/B", "A+blend", "x:y"})
    expect_error(
        [&] { parse_method(name + "=" + preds); },
        {"--method '" + name + "=" + preds + "': a name may hold letters, digits, '.', '_' and '-' only"});
  expect_error([&] { parse_method(".." + std::string("=") + preds); }, {"a name may not start with '.'"});
  expect_error([&] { parse_method("lowdose=" + preds); }, {"lowdose is a baseline's name"});
  expect_error([&] { parse_method("gaussian=" + preds); }, {"gaussian is a baseline's name"});
  expect_error([&] { parse_method("A=" + (dir / "absent")); },
               {"--method 'A=" + (dir / "absent") + "': " + (dir / "absent") + " does not exist"});
}

}  // namespace
}  // namespace unipet::eval
