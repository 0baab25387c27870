#include "unipet/workflow/demo.h"

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/eval/metrics.h"
#include "unipet/infer/default_model.h"
#include "unipet/infer/denoiser.h"
#include "unipet/io/dataset.h"
#include "unipet/sim/simulate.h"

namespace unipet::workflow {

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string low_to_denoised(double low, double net, int decimals) {
  std::ostringstream cell;
  cell << std::fixed << std::setprecision(decimals) << low << " -> " << net;
  return cell.str();
}

std::string gain(double low, double net) {
  std::ostringstream cell;
  cell << std::fixed << std::setprecision(2) << std::showpos << " (" << net - low << ")";
  return cell.str();
}

}  // namespace

std::string DemoSummary::table() const {
  std::ostringstream clipped;
  clipped << "PSNR, clipped to [0, " << data_range << "]";
  std::ostringstream table;
  table << "unipet demo: one simulated study, denoised with " << model << "\n"
        << "(each cell: low dose -> UniPET; body of the full-dose image, SUV, data range " << data_range << ")\n\n"
        << std::left << std::setw(6) << "DRF" << std::setw(26) << "PSNR (dB)" << std::setw(26) << clipped.str()
        << std::setw(20) << "SSIM" << "lesion SUVmax bias vs full\n";
  for (const DemoRow& r : rows) {
    const eval::Score &low = r.low_dose, &net = r.denoised;
    std::ostringstream bias;
    bias << std::fixed << std::setprecision(1) << std::showpos << 100 * eval::mean_lesion_suvmax_bias(low)
         << "% -> " << 100 * eval::mean_lesion_suvmax_bias(net) << "%";
    table << std::setw(6) << io::drf_text(r.drf) << std::setw(26)
          << low_to_denoised(low.psnr, net.psnr, 2) + gain(low.psnr, net.psnr) << std::setw(26)
          << low_to_denoised(low.psnr_clipped, net.psnr_clipped, 2) + gain(low.psnr_clipped, net.psnr_clipped)
          << std::setw(20) << low_to_denoised(low.ssim, net.ssim, 3) << bias.str() << "\n";
  }
  table << std::right << std::fixed << std::setprecision(0) << "\nsimulation " << simulation_seconds
        << " s, denoising " << denoise_seconds << " s, scoring and report " << scoring_seconds << " s, total "
        << total_seconds << " s\nreport: " << report << "\n";
  return table.str();
}

DemoSummary run_demo(const DemoOptions& a, std::ostream& progress) {
  const auto log = [&progress](const std::string& line) { progress << "demo: " << line << "\n"; };
  const auto start = std::chrono::steady_clock::now();
  apply_compute(a.compute);
  DemoSummary summary;
  summary.model = a.model.empty() ? infer::default_model_path() : a.model;
  UNIPET_CHECK(fs::is_regular_file(summary.model), "--model " << summary.model << ": no such model file");
  infer::DenoiseOptions denoise;
  denoise.compute = a.compute;
  // The model, device and precision are checked before a minute of simulation, not after it.
  { const infer::Denoiser check(summary.model, denoise); }
  // The folder is new, or one an earlier demo made (it resumes: the study is not simulated twice).
  const fs::path out(a.out);
  const bool ours = fs::exists(out / "data") || fs::exists(out / "report");
  check_output_path(out, {OutputKind::Folder, {fs::absolute(summary.model)}, ours});
  CreatedFolder created(out);

  sim::SimulationOptions so;
  so.out_dir = (out / "data").string();
  so.name = "unipet-demo";
  so.subjects = 1;
  so.drfs = a.drfs;
  so.seed = a.seed;
  so.split = {0, 0, 1};
  so.phantom.width = so.phantom.height = a.matrix;
  so.phantom.slices = a.slices;
  so.threads = a.compute.threads;
  so.validate();
  // The evaluation's SSIM fails on a smaller phantom: say so before the simulation, not after it.
  const int64_t window = 2 * eval::SsimOptions().radius() + 1;
  UNIPET_CHECK(a.matrix > window && a.slices > window, "--matrix / --slices: the evaluation needs more than "
                                                           << window << " voxels a side, got " << a.matrix << " x "
                                                           << a.matrix << " x " << a.slices);
  const auto sim_start = std::chrono::steady_clock::now();
  std::ostringstream what;
  what << "simulating one study (seed " << a.seed << ", the default scanner) at DRF";
  for (double drf : a.drfs) what << " " << drf;
  log(what.str());
  sim::simulate_dataset(so, log);
  summary.simulation_seconds = seconds_since(sim_start);

  eval::EvaluationOptions eo;
  eo.dataset = (out / "data" / "dataset.json").string();
  eo.split = "test";
  eo.methods = {eval::parse_method("UniPET=" + summary.model)};
  eo.baselines = {"lowdose"};
  eo.out = (out / "report").string();
  eo.denoise = denoise;
  eo.command_line = "unipet demo --out " + a.out;
  const eval::EvaluationResult result = eval::run_evaluation(eo, progress);
  created.keep();

  std::map<std::pair<std::string, double>, const eval::Score*> score;
  for (const auto& s : result.scores) score[{s.method, s.drf}] = &s;
  for (double drf : result.drfs) {
    // A calibrated model is shown as `unipet denoise` runs it: blended with its input.
    const eval::Score* net =
        score.count({"UniPET+blend", drf}) ? score.at({"UniPET+blend", drf}) : score.at({"UniPET", drf});
    summary.rows.push_back({drf, *score.at({"lowdose", drf}), *net});
  }
  summary.data_range = eo.data_range;
  summary.report = (out / "report" / "index.html").string();
  summary.denoise_seconds = result.denoise_seconds;
  summary.scoring_seconds = result.scoring_seconds;
  summary.total_seconds = seconds_since(start);
  return summary;
}

}  // namespace unipet::workflow
