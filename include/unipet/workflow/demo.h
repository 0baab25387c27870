#pragma once
/// The whole workflow on one simulated study, as `unipet demo` runs it: simulate one subject at a
/// few DRFs with the default scanner, denoise it with a model (the shipped one by default), score
/// it against the full dose and write an HTML report. It only calls the library (simulate_dataset,
/// run_evaluation), the way a user's own run would.
///
///   unipet::workflow::DemoOptions o;
///   o.out = "unipet-demo";
///   const auto summary = unipet::workflow::run_demo(o, std::cerr);
///   std::cout << summary.table();
///
/// The folder is new, or one an earlier demo made: then the study is not simulated twice and the
/// predictions are reused. Every option is checked before the simulation starts.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "unipet/core/compute.h"
#include "unipet/eval/evaluation.h"

namespace unipet::workflow {

struct DemoOptions {
  std::string out = "unipet-demo";
  std::string model;  ///< empty: the shipped model (infer::default_model_path)
  std::vector<double> drfs = {4, 20, 100};
  uint64_t seed = 1;
  int64_t matrix = 128, slices = 96;  ///< phantom size, voxels of 4 mm
  ComputeOptions compute;
};

/// One DRF: the low-dose input's scores and the model's, as `unipet denoise` runs it (blended
/// with its input when the model is calibrated).
struct DemoRow {
  double drf = 0;
  eval::Score low_dose, denoised;
};

struct DemoSummary {
  std::string model;   ///< the model file used
  std::string report;  ///< OUT/report/index.html
  double data_range = 0;
  std::vector<DemoRow> rows;
  double simulation_seconds = 0, denoise_seconds = 0, scoring_seconds = 0, total_seconds = 0;

  /// The table `unipet demo` prints: per DRF, PSNR, clipped PSNR, SSIM and the mean lesion SUVmax
  /// bias, each "low dose -> denoised", and the times.
  std::string table() const;
};

/// Runs the demo; `progress` receives the simulation's lines ("demo: ...") and the evaluation's
/// progress. Throws unipet::Error naming the option at fault
/// before any work, or the file at fault later.
DemoSummary run_demo(const DemoOptions& options, std::ostream& progress);

}  // namespace unipet::workflow
