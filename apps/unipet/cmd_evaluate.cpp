#include <iostream>
#include <memory>

#include "commands.h"
#include "unipet/core/error.h"
#include "unipet/eval/evaluation.h"

namespace unipet::cli {

namespace {

struct EvaluateCliOptions {
  eval::EvaluationOptions o;
  std::vector<std::string> methods;
  std::vector<std::string> baselines{"lowdose", "gaussian"};
  std::string pred, ref, mask, lesions;
  std::string blend = "on";
  std::string command_line;
};

void run_evaluate(EvaluateCliOptions a) {
  apply_compute(a.o.denoise.compute);
  if (!a.pred.empty() || !a.ref.empty()) {
    UNIPET_CHECK(!a.pred.empty() && !a.ref.empty(), "--pred and --ref go together");
    UNIPET_CHECK(a.o.dataset.empty() && a.methods.empty(), "--pred/--ref score one pair; --dataset and --method "
                                                           "evaluate a dataset: give one or the other");
    std::cout << eval::score_pair(a.pred, a.ref, a.mask, a.lesions, a.o.data_range);
    return;
  }
  UNIPET_CHECK(!a.o.dataset.empty(), "give --dataset DIR/dataset.json (or --pred and --ref for one pair)");
  UNIPET_CHECK(a.mask.empty() && a.lesions.empty(), "--mask and --lesions apply to --pred/--ref; a dataset's "
                                                    "lesion labels come from its dataset.json");
  for (const std::string& m : a.methods) a.o.methods.push_back(eval::parse_method(m));
  a.o.baselines.clear();
  for (const std::string& b : a.baselines)
    if (b != "none") a.o.baselines.push_back(b);
  a.o.command_line = a.command_line;
  a.o.blend_rows = a.blend == "on";
  const auto result = eval::run_evaluation(a.o, std::cerr);
  std::cout << "scored " << result.subjects.size() << " subject(s) x " << result.drfs.size() << " DRF(s) x "
            << result.scores.size() / std::max<size_t>(1, result.subjects.size() * result.drfs.size())
            << " method(s): " << a.o.out << "/index.html, metrics.csv, summary.md (denoising "
            << static_cast<int>(result.denoise_seconds) << " s, scoring " << static_cast<int>(result.scoring_seconds)
            << " s)\n";
}

}  // namespace

void setup_evaluate(CLI::App& app, int argc, char** argv) {
  auto a = std::make_shared<EvaluateCliOptions>();
  a->command_line = command_line(argc, argv);
  auto* cmd = app.add_subcommand(
      "evaluate",
      "Score methods per DRF against the full dose (PSNR, SSIM, NRMSE, lesion SUVmax/mean/peak, contrast "
      "recovery) with bootstrap intervals, and write an HTML report; or score one pair (--pred, --ref)");
  cmd->add_option("--dataset", a->o.dataset, "dataset.json to evaluate on");
  cmd->add_option("--split", a->o.split, "Split to evaluate")->capture_default_str();
  cmd->add_option("--method", a->methods,
                  "NAME=MODEL_FILE (run, predictions cached in OUT/predictions/NAME/SUBJECT/drf_K.nii.gz) or "
                  "NAME=FOLDER (predictions at the dataset's relative paths, or FOLDER/SUBJECT/drf_K.nii.gz); "
                  "repeat with distinct names for several, the first is compared with every other");
  cmd->add_option("--baseline", a->baselines, "lowdose, gaussian (FWHM tuned per DRF on the val split), or none")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--blend", a->blend,
                  "on: a model calibrated with a blend (unipet calibrate) is scored twice, NAME (the network alone) "
                  "and NAME+blend (x + alpha(n) (f(x) - x)); off: NAME only")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_option("--drf", a->o.drfs, "DRFs to evaluate (default: all of the dataset)")->delimiter(',');
  cmd->add_option("--trained-drfs", a->o.trained_drfs,
                  "DRFs seen in training (each > 1), marked in the plots (default: from the model files)")
      ->delimiter(',');
  cmd->add_option("-o,--out", a->o.out, "Report folder (index.html, metrics.csv, summary.md, predictions/)");
  cmd->add_option("--range", a->o.data_range, "PSNR/SSIM data range in SUV")->capture_default_str();
  cmd->add_option("--show", a->o.show, "Subjects of the split to picture (default: the first)");
  cmd->add_option("--show-drf", a->o.show_drf, "An evaluated DRF for the pictures (default: the largest evaluated)");
  cmd->add_option("--pred", a->pred, "One prediction to score against --ref");
  cmd->add_option("--ref", a->ref, "The reference (full-dose) image for --pred");
  cmd->add_option("--mask", a->mask, "Score --pred inside this mask (non-zero voxels)");
  cmd->add_option("--lesions", a->lesions, "Lesion label image (0 background, k lesion k) for --pred");
  ComputeHelp help;
  help.scope = "model methods";
  add_compute_options(cmd, a->o.denoise.compute, help);
  add_tiling_options(cmd, a->o.denoise.window, "model methods");
  cmd->callback([a] { run_evaluate(*a); });
}

}  // namespace unipet::cli
