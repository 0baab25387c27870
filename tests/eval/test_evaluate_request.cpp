// The library side of `unipet evaluate` (eval/evaluate_request.h): one pair or a dataset, never
// both; the options that belong to one mode refused in the other; "none" drops the baselines;
// and the summary the command prints.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "infer/infer_test_util.h"
#include "train/train_test_util.h"
#include "unipet/eval/evaluate_request.h"
#include "unipet/io/image_io.h"

namespace unipet::eval {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;

constexpr int64_t kSide = 16;

// A dataset of two test subjects and one val subject at DRF 4, whose low dose is the full dose
// plus 0.1 SUV, and a prediction folder "perfect" holding each full dose at the low dose's path.
struct Fixture {
  TempDir dir;
  std::string dataset;
  Fixture() {
    const io::Dataset d = test::write_synthetic_dataset(
        dir.path() / "data", {"test", "test", "val"}, {4}, {kSide, kSide, kSide},
        [](int subject, double drf) {
          const auto full = test::smooth_body(kSide, kSide, kSide, 21 + subject);
          return drf > 0 ? (full + 0.1).contiguous() : full;
        });
    dataset = (dir.path() / "data" / "dataset.json").string();
    for (size_t s = 0; s < d.subjects.size(); ++s)
      for (const auto& [drf, low] : d.subjects[s].low_dose) {
        (void)drf;
        const fs::path path = dir.path() / "perfect" / low;
        fs::create_directories(path.parent_path());
        fs::copy_file(dir.path() / "data" / d.subjects[s].full_dose, path);
      }
  }
  EvaluateRequest request(const std::string& out) const {
    EvaluateRequest r;
    r.options.dataset = dataset;
    r.options.out = (dir.path() / out).string();
    r.methods = {"perfect=" + (dir.path() / "perfect").string()};
    return r;
  }
};

std::set<std::string> methods_of(const EvaluationResult& result) {
  std::set<std::string> out;
  for (const Score& s : result.scores) out.insert(s.method);
  return out;
}

TEST(EvaluateRequest, ADatasetIsScoredWithItsBaselinesOrWithoutThem) {
  Fixture f;
  std::ostringstream log;
  const EvaluateOutcome with = run_evaluate_request(f.request("report"), log);
  EXPECT_FALSE(with.pair);
  EXPECT_EQ(methods_of(with.result), (std::set<std::string>{"perfect", "lowdose", "gaussian"}));
  EXPECT_EQ(with.result.subjects.size(), 2u);
  EXPECT_EQ(with.summary().rfind("scored 2 subject(s) x 1 DRF(s) x 3 method(s): " + f.request("report").options.out +
                                     "/index.html",
                                 0),
            0u)
      << with.summary();
  EXPECT_TRUE(fs::exists(fs::path(with.out) / "metrics.csv"));

  EvaluateRequest none = f.request("report-none");
  none.baselines = {"none"};
  const EvaluateOutcome without = run_evaluate_request(none, log);
  EXPECT_EQ(methods_of(without.result), (std::set<std::string>{"perfect"}));
  for (const Score& s : without.result.scores) EXPECT_TRUE(std::isinf(s.psnr)) << s.subject;  // exact prediction
}

TEST(EvaluateRequest, OnePairIsScoredAsText) {
  Fixture f;
  const std::string ref = (f.dir.path() / "ref.nii.gz").string();
  const std::string pred = (f.dir.path() / "pred.nii.gz").string();
  Volume v;
  v.data = test::smooth_body(kSide, kSide, kSide, 5);
  v.units = Units::SUV;
  io::write_image(v, ref);
  v.data = (v.data + 0.2).contiguous();
  io::write_image(v, pred);
  EvaluateRequest r;
  r.pred = pred;
  r.ref = ref;
  std::ostringstream log;
  const EvaluateOutcome outcome = run_evaluate_request(r, log);
  EXPECT_TRUE(outcome.pair);
  EXPECT_EQ(outcome.summary(), outcome.pair_scores);
  // A uniform error of 0.2 SUV over the data range of 20: PSNR 40 dB everywhere scored.
  EXPECT_NE(outcome.pair_scores.find("40.000"), std::string::npos) << outcome.pair_scores;
}

TEST(EvaluateRequest, OptionsOfOneModeAreRefusedInTheOtherBeforeAnyWork) {
  Fixture f;
  std::ostringstream log;
  EvaluateRequest r = f.request("report");
  r.pred = "p.nii.gz";
  expect_error([&] { run_evaluate_request(r, log); }, {"--pred and --ref go together"});
  r.ref = "r.nii.gz";
  expect_error([&] { run_evaluate_request(r, log); }, {"--pred/--ref score one pair", "give one or the other"});
  r = f.request("report");
  r.mask = "m.nii.gz";
  expect_error([&] { run_evaluate_request(r, log); }, {"--mask and --lesions apply to --pred/--ref"});
  r = EvaluateRequest();
  expect_error([&] { run_evaluate_request(r, log); }, {"give --dataset"});
  EXPECT_FALSE(fs::exists(f.dir.path() / "report"));
}

}  // namespace
}  // namespace unipet::eval
