// `unipet demo`: the whole workflow on one simulated study, with the shipped model. It only calls
// the library (sim::simulate_dataset, eval::run_evaluation), the way a user's own run would.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "commands.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/eval/evaluation.h"
#include "unipet/eval/lesions.h"
#include "unipet/eval/metrics.h"
#include "unipet/infer/default_model.h"
#include "unipet/infer/denoiser.h"
#include "unipet/io/dataset.h"
#include "unipet/sim/simulate.h"

namespace unipet::cli {

namespace {

namespace fs = std::filesystem;

struct DemoCliOptions {
  std::string out = "unipet-demo";
  std::string model;
  std::vector<double> drfs = {4, 20, 100};
  uint64_t seed = 1;
  int64_t matrix = 128, slices = 96;
  std::string device = "auto";
  std::string precision = "fp32";
  int threads = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The key numbers per DRF: the mean over lesions of a method's SUVmax bias against the full dose.
double mean_lesion_suvmax_bias(const eval::Score& s) {
  double sum = 0;
  int n = 0;
  for (const auto& l : s.lesions) {
    const double bias = eval::relative_bias_or_nan(l.suv_max, l.full_max);
    if (std::isfinite(bias)) sum += bias, ++n;
  }
  return n ? 100 * sum / n : eval::kNaN;
}

void run_demo(DemoCliOptions a) {
  const auto start = std::chrono::steady_clock::now();
  set_threads(resolve_threads(a.threads));
  if (a.model.empty()) a.model = infer::default_model_path();
  UNIPET_CHECK(fs::is_regular_file(a.model), "--model " << a.model << ": no such model file");
  infer::DenoiseOptions denoise;
  denoise.device = a.device;
  denoise.precision = a.precision;
  // The model, device and precision are checked before a minute of simulation, not after it.
  { const infer::Denoiser check(a.model, denoise); }
  // The folder is new, or one an earlier demo made (it resumes: the study is not simulated twice).
  const fs::path out(a.out);
  const bool ours = fs::exists(out / "data") || fs::exists(out / "report");
  check_output_path(out, {OutputKind::Folder, {fs::absolute(a.model)}, ours});
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
  so.threads = a.threads;
  so.validate();
  // The evaluation's SSIM fails on a smaller phantom: say so before the simulation, not after it.
  const int64_t window = 2 * eval::SsimOptions().radius() + 1;
  UNIPET_CHECK(a.matrix > window && a.slices > window, "--matrix / --slices: the evaluation needs more than "
                                                           << window << " voxels a side, got " << a.matrix << " x "
                                                           << a.matrix << " x " << a.slices);
  const auto sim_start = std::chrono::steady_clock::now();
  std::cerr << "demo: simulating one study (seed " << a.seed << ", the default scanner) at DRF";
  for (double drf : a.drfs) std::cerr << " " << drf;
  std::cerr << "\n";
  sim::simulate_dataset(so, [](const std::string& line) { std::cerr << "demo: " << line << "\n"; });
  const double sim_seconds = seconds_since(sim_start);

  eval::EvaluationOptions eo;
  eo.dataset = (out / "data" / "dataset.json").string();
  eo.split = "test";
  eo.methods = {eval::parse_method("UniPET=" + a.model)};
  eo.baselines = {"lowdose"};
  eo.out = (out / "report").string();
  eo.denoise = denoise;
  eo.command_line = "unipet demo --out " + a.out;
  const eval::EvaluationResult result = eval::run_evaluation(eo, std::cerr);
  created.keep();

  std::map<std::pair<std::string, double>, const eval::Score*> score;
  for (const auto& s : result.scores) score[{s.method, s.drf}] = &s;
  // One row per DRF: low dose -> UniPET for each number.
  const auto pair = [](double low, double net, int decimals, const char* unit) {
    std::ostringstream cell;
    cell << std::fixed << std::setprecision(decimals) << low << " -> " << net << unit;
    return cell.str();
  };
  std::ostringstream clipped;
  clipped << "PSNR, clipped to [0, " << eo.data_range << "]";
  std::ostringstream table;
  table << "unipet demo: one simulated study, denoised with " << a.model << "\n"
        << "(each cell: low dose -> UniPET; body of the full-dose image, SUV, data range " << eo.data_range << ")\n\n"
        << std::left << std::setw(6) << "DRF" << std::setw(26) << "PSNR (dB)" << std::setw(26)
        << clipped.str() << std::setw(20) << "SSIM" << "lesion SUVmax bias vs full\n";
  for (double drf : result.drfs) {
    const eval::Score* low = score.at({"lowdose", drf});
    // A calibrated model is shown as `unipet denoise` runs it: blended with its input.
    const eval::Score* net = score.count({"UniPET+blend", drf}) ? score.at({"UniPET+blend", drf}) : score.at({"UniPET", drf});
    std::ostringstream gain, gain_clipped;
    gain << std::fixed << std::setprecision(2) << std::showpos << " (" << net->psnr - low->psnr << ")";
    gain_clipped << std::fixed << std::setprecision(2) << std::showpos << " (" << net->psnr_clipped - low->psnr_clipped << ")";
    std::ostringstream bias;
    bias << std::fixed << std::setprecision(1) << std::showpos << mean_lesion_suvmax_bias(*low) << "% -> "
         << mean_lesion_suvmax_bias(*net) << "%";
    table << std::setw(6) << io::drf_text(drf) << std::setw(26) << pair(low->psnr, net->psnr, 2, "") + gain.str()
          << std::setw(26) << pair(low->psnr_clipped, net->psnr_clipped, 2, "") + gain_clipped.str() << std::setw(20)
          << pair(low->ssim, net->ssim, 3, "") << bias.str() << "\n";
  }
  table << std::right << std::fixed << std::setprecision(0) << "\nsimulation " << sim_seconds << " s, denoising "
        << result.denoise_seconds << " s, scoring and report " << result.scoring_seconds << " s, total "
        << seconds_since(start) << " s\nreport: " << (out / "report" / "index.html").string() << "\n";
  std::cout << table.str();
}

}  // namespace

void setup_demo(CLI::App& app) {
  auto a = std::make_shared<DemoCliOptions>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Simulate one low-dose study at a few DRFs, denoise it with the shipped model, score it against the full "
      "dose and write an HTML report; prints PSNR and SSIM of low dose and denoised per DRF");
  cmd->add_option("-o,--out", a->out, "Demo folder (new, or an earlier demo's, which is reused)")->capture_default_str();
  cmd->add_option("-m,--model", a->model, "UniPET model file (default: the shipped model)");
  cmd->add_option("--drf", a->drfs, "Dose reduction factors, comma separated")->delimiter(',')->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the simulated study")->check(seed_check())->capture_default_str();
  cmd->add_option("--matrix", a->matrix, "Phantom transaxial size (voxels of 4 mm; smaller is faster)")->capture_default_str();
  cmd->add_option("--slices", a->slices, "Phantom axial size (voxels of 4 mm)")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32, bf16 or fp16 (CUDA)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0: all)")->capture_default_str();
  cmd->callback([a] { run_demo(*a); });
}

}  // namespace unipet::cli
