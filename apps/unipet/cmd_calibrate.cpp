#include <iostream>
#include <memory>

#include "commands.h"
#include "unipet/infer/calibration.h"

namespace unipet::cli {

namespace {

struct CalibrateCliOptions {
  infer::CalibrateOptions calibrate;
  std::string blend = "on";
  std::string step_limit = "on";
  std::string blend_identity = "off";
};

void run_calibrate(CalibrateCliOptions o) {
  apply_compute(o.calibrate.denoise.compute);
  o.calibrate.fit_blend = o.blend == "on";
  o.calibrate.fit_step_limit = o.step_limit == "on";
  o.calibrate.blend_identity = o.blend_identity == "on";
  const auto result = infer::calibrate_model(o.calibrate, std::cerr);
  std::cout << result.table() << "wrote " << o.calibrate.out << "\n";
}

}  // namespace

void setup_calibrate(CLI::App& app) {
  auto o = std::make_shared<CalibrateCliOptions>();
  auto* cmd = app.add_subcommand(
      "calibrate",
      "Fit a model's noise-level estimator (on the dataset's train split) and its blend out = x + alpha(n) "
      "(f(x) - x) (on the val split, whole volumes through the network), and write a copy of the model with "
      "both in its metadata");
  cmd->add_option("--dataset", o->calibrate.dataset, "dataset.json with train and val subjects")->required();
  cmd->add_option("-m,--model", o->calibrate.model, "UniPET model file to calibrate (only read)")->required();
  cmd->add_option("-o,--out,--output", o->calibrate.out, "The calibrated copy (.safetensors; never the input)")->required();
  cmd->add_option("--blend", o->blend, "on: fit the blend too; off: the noise-level estimator only (no network runs)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_option("--step-limit", o->step_limit,
                  "on: the blend may also cut the network's change to a voxel at k times its robust SD, k fitted "
                  "per dose; off: alpha alone")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_option("--blend-identity", o->blend_identity,
                  "on: the val subjects' full doses are blend inputs too (DRF 1, best alpha 0), so alpha falls to "
                  "0 at the full dose's noise level instead of staying at the cleanest DRF's")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  auto* split = cmd->add_option("--estimator-split", o->calibrate.estimator_split,
                                "Split the noise-level estimator is fitted on, or 'keep': the model's own estimator "
                                "(refit the blend alone)")
                    ->capture_default_str();
  cmd->add_option("--estimator-from", o->calibrate.estimator_from,
                  "A calibrated model whose noise-level estimator is taken (one fitted on the same training data; "
                  "the estimator reads the image, not the network); the blend is refitted")
      ->excludes(split);
  cmd->add_option("--blend-split", o->calibrate.blend_split, "Split the blend is fitted on (never the test split)")
      ->capture_default_str();
  add_compute_options(cmd, o->calibrate.denoise.compute);
  add_tiling_options(cmd, o->calibrate.denoise.window);
  cmd->callback([o] { run_calibrate(*o); });
}

}  // namespace unipet::cli
