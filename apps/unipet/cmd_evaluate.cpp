#include <iostream>
#include <memory>

#include "commands.h"
#include "unipet/eval/evaluate_request.h"

namespace unipet::cli {

namespace {

struct EvaluateCliOptions {
  eval::EvaluateRequest request;
  std::string blend = "on";
};

void run_evaluate(EvaluateCliOptions a) {
  a.request.options.blend_rows = a.blend == "on";
  std::cout << eval::run_evaluate_request(a.request, std::cerr).summary();
}

}  // namespace

void setup_evaluate(CLI::App& app, int argc, char** argv) {
  auto a = std::make_shared<EvaluateCliOptions>();
  eval::EvaluateRequest& r = a->request;
  r.options.command_line = command_line(argc, argv);
  auto* cmd = app.add_subcommand(
      "evaluate",
      "Score methods per DRF against the full dose (PSNR, SSIM, NRMSE, lesion SUVmax/mean/peak, contrast "
      "recovery) with bootstrap intervals, and write an HTML report; or score one pair (--pred, --ref)");
  cmd->add_option("--dataset", r.options.dataset, "dataset.json to evaluate on");
  cmd->add_option("--split", r.options.split, "Split to evaluate")->capture_default_str();
  cmd->add_option("--method", r.methods,
                  "NAME=MODEL_FILE (run, predictions cached in OUT/predictions/NAME/SUBJECT/drf_K.nii.gz) or "
                  "NAME=FOLDER (predictions at the dataset's relative paths, or FOLDER/SUBJECT/drf_K.nii.gz); "
                  "repeat with distinct names for several, the first is compared with every other");
  cmd->add_option("--baseline", r.baselines, "lowdose, gaussian (FWHM tuned per DRF on the val split), or none")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--blend", a->blend,
                  "on: a model calibrated with a blend (unipet calibrate) is scored twice, NAME (the network alone) "
                  "and NAME+blend (x + alpha(n) (f(x) - x)); off: NAME only")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_option("--drf", r.options.drfs, "DRFs to evaluate (default: all of the dataset)")->delimiter(',');
  cmd->add_option("--trained-drfs", r.options.trained_drfs,
                  "DRFs seen in training (each > 1), marked in the plots (default: from the model files)")
      ->delimiter(',');
  cmd->add_option("-o,--out", r.options.out, "Report folder (index.html, metrics.csv, summary.md, predictions/)");
  cmd->add_option("--range", r.options.data_range, "PSNR/SSIM data range in SUV")->capture_default_str();
  cmd->add_option("--show", r.options.show, "Subjects of the split to picture (default: the first)");
  cmd->add_option("--show-drf", r.options.show_drf, "An evaluated DRF for the pictures (default: the largest evaluated)");
  cmd->add_option("--pred", r.pred, "One prediction to score against --ref");
  cmd->add_option("--ref", r.ref, "The reference (full-dose) image for --pred");
  cmd->add_option("--mask", r.mask, "Score --pred inside this mask (non-zero voxels)");
  cmd->add_option("--lesions", r.lesions, "Lesion label image (0 background, k lesion k) for --pred");
  ComputeHelp help;
  help.scope = "model methods";
  add_compute_options(cmd, r.options.denoise.compute, help);
  add_tiling_options(cmd, r.options.denoise.window, "model methods");
  cmd->callback([a] { run_evaluate(*a); });
}

}  // namespace unipet::cli
