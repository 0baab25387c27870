#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "unipet/core/error.h"
#include "unipet/sim/simulate.h"

namespace unipet::cli {

namespace {

/// Command-line values that do not map one to one onto SimulationOptions fields.
struct SimulateArgs {
  sim::SimulationOptions options;
  int64_t matrix = 128;
  double val = 0.15, test = 0.15;
  // The older spellings, kept hidden for this release; each refused beside its new one.
  std::vector<double> split;  ///< train,val,test
  std::optional<int64_t> iterations, subsets;
  const CLI::Option *val_option = nullptr, *test_option = nullptr, *osem_iterations_option = nullptr,
                    *osem_subsets_option = nullptr;
  bool no_normalisation = false;
  bool inverse_crime = false;
  bool exact_randoms = false;
  std::optional<double> psf_axial;
};

void run_simulate(SimulateArgs& args) {
  sim::SimulationOptions& o = args.options;
  o.phantom.width = o.phantom.height = args.matrix;
  UNIPET_CHECK(args.split.empty() || (!args.val_option->count() && !args.test_option->count()),
               "--split is the older spelling of --val and --test; give one or the other");
  UNIPET_CHECK(!args.iterations || !args.osem_iterations_option->count(),
               "--iterations is the older spelling of --osem-iterations; give one or the other");
  UNIPET_CHECK(!args.subsets || !args.osem_subsets_option->count(),
               "--subsets is the older spelling of --osem-subsets; give one or the other");
  if (args.iterations) o.osem.iterations = *args.iterations;
  if (args.subsets) o.osem.subsets = *args.subsets;
  if (!args.split.empty()) {
    UNIPET_CHECK(args.split.size() == 3,
                 "--split needs three fractions (train,val,test), got " << args.split.size());
    o.split = {args.split[0], args.split[1], args.split[2]};  // checked with the other options
  } else {
    // Train is the rest; over 1 together would make it negative, a message about neither option.
    UNIPET_CHECK(!(args.val + args.test > 1 + 1e-9),
                 "--val " << args.val << " and --test " << args.test << " add up to more than 1");
    o.split = {std::max(0.0, 1 - args.val - args.test), args.val, args.test};
  }
  o.scanner.normalisation = !args.no_normalisation;
  // The axial resolution is the transaxial one unless given (--psf-axial).
  o.scanner.psf_axial_fwhm_mm = args.psf_axial.value_or(o.scanner.psf_fwhm_mm);
  if (args.exact_randoms) o.corrections.delayed_randoms = false;
  if (args.inverse_crime) o.use_inverse_crime();
  const io::Dataset ds = sim::simulate_dataset(o, [](const std::string& line) {
    std::cout << line << std::endl;
  });
  std::cout << "wrote " << ds.subjects.size() << " subjects to " << o.out_dir << "/dataset.json"
            << std::endl;
}

}  // namespace

void setup_simulate(CLI::App& app) {
  auto args = std::make_shared<SimulateArgs>();
  sim::SimulationOptions& o = args->options;
  auto* cmd = app.add_subcommand(
      "simulate", "Simulate paired full-/low-dose PET (Poisson counts, binomial thinning, OSEM)");
  cmd->add_option("-o,--out", o.out_dir, "Output dataset folder")->required();
  cmd->add_option("--subjects", o.subjects, "Number of phantoms")->capture_default_str();
  cmd->add_option("--drf", o.drfs, "Dose reduction factors, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Random seed (< 2^53)")->check(seed_check())->capture_default_str();
  // The split's words are import's: --val and --test fractions, the rest train. `--split` was
  // this command's own spelling (while evaluate's --split names a split); kept hidden this release.
  args->val_option = cmd->add_option("--val", args->val, "Fraction of subjects in the val split")->capture_default_str();
  args->test_option =
      cmd->add_option("--test", args->test, "Fraction of subjects in the test split")->capture_default_str();
  cmd->add_option("--split", args->split)->delimiter(',')->group("");
  cmd->add_option("--name", o.name, "Dataset name")->capture_default_str();
  cmd->add_option("--from-image", o.from_images,
                  "Full-dose image(s), Bq/ml (or SUV with --weight and --dose), as activity");
  cmd->add_option("--mumap", o.mumap, "Mu-map in 1/cm for a single --from-image");
  cmd->add_option("--body-threshold", o.body_threshold,
                  "Without --mumap: body = activity > this x 99th percentile")
      ->capture_default_str();
  cmd->add_option("--weight", o.weight_kg, "With --from-image: weight in kg, for SUV");
  cmd->add_option("--dose", o.dose_at_scan_bq,
                  "With --from-image: dose at scan time in Bq, for SUV");
  cmd->add_option("--matrix", args->matrix, "Phantom transaxial size (voxels)")->capture_default_str();
  cmd->add_option("--slices", o.phantom.slices, "Phantom axial size (voxels)")->capture_default_str();
  cmd->add_option("--voxel", o.phantom.voxel_mm, "Phantom transaxial voxel size (mm)")
      ->capture_default_str();
  cmd->add_option("--slice-thickness", o.phantom.slice_mm, "Phantom axial voxel size (mm)")
      ->capture_default_str();
  cmd->add_option("--lesions-min", o.phantom.min_lesions, "Fewest lesions per phantom")
      ->capture_default_str();
  cmd->add_option("--lesions-max", o.phantom.max_lesions, "Most lesions per phantom")
      ->capture_default_str();
  cmd->add_option("--arms-up-fraction", o.phantom.arms_up_fraction,
                  "Share of phantoms with the arms up (out of the field of view)")
      ->capture_default_str();
  cmd->add_option("--no-lesion-fraction", o.phantom.no_lesion_fraction,
                  "Share of phantoms without any lesion")
      ->capture_default_str();
  cmd->add_option("--counts", o.scanner.prompts, "Expected full-dose prompts per study")
      ->capture_default_str();
  cmd->add_option("--angles", o.scanner.angles, "Sinogram angles (0: image width)")
      ->capture_default_str();
  cmd->add_option("--psf", o.scanner.psf_fwhm_mm, "Scanner resolution FWHM (mm), transaxial, and axial unless --psf-axial")
      ->capture_default_str();
  cmd->add_option("--psf-axial", args->psf_axial, "Scanner axial resolution FWHM (mm; default: --psf)");
  cmd->add_option("--scatter-fraction", o.scanner.scatter_fraction, "Scatter / (trues + scatter)")
      ->capture_default_str();
  cmd->add_option("--randoms-fraction", o.scanner.randoms_fraction, "Randoms / prompts")
      ->capture_default_str();
  cmd->add_flag("--no-normalisation", args->no_normalisation,
                "Ideal detectors (no efficiency variations)");
  cmd->add_option("--tof", o.scanner.tof_fwhm_ps,
                  "Time-of-flight timing resolution FWHM (ps; 0: non-TOF; clinical 214-600)")
      ->capture_default_str();
  cmd->add_option("--tof-bin", o.scanner.tof_bin_mm, "TOF bin width (mm; 0: half the TOF FWHM)")
      ->capture_default_str();
  cmd->add_option("--oversampling", o.oversampling,
                  "Phantoms drawn and projected on a grid this many times finer (1: output grid)")
      ->capture_default_str();
  cmd->add_option("--scatter-error", o.corrections.scatter_scale_sd,
                  "Relative SD of the scatter estimate's scale")
      ->capture_default_str();
  cmd->add_option("--scatter-estimate-fwhm", o.corrections.scatter_estimate_fwhm_mm,
                  "Smoothness of the scatter estimate (mm)")
      ->capture_default_str();
  cmd->add_flag("--exact-randoms", args->exact_randoms,
                "Correct with the true randoms instead of a smoothed delayed-window estimate");
  cmd->add_option("--randoms-smoothing", o.corrections.randoms_smoothing_fwhm_mm,
                  "Smoothing of the delayed-window randoms estimate (mm)")
      ->capture_default_str();
  cmd->add_option("--norm-error", o.corrections.normalisation_error,
                  "Relative SD of the calibrated detector efficiencies")
      ->capture_default_str();
  cmd->add_option("--mumap-blur", o.corrections.mumap_fwhm_mm,
                  "Extra blur of the attenuation map (mm FWHM)")
      ->capture_default_str();
  cmd->add_option("--mumap-shift", o.corrections.mumap_shift_mm,
                  "PET/CT misregistration (mm, random direction)")
      ->capture_default_str();
  cmd->add_option("--psf-model", o.corrections.psf_model,
                  "Reconstruction PSF / scanner PSF (0: no resolution modelling)")
      ->capture_default_str();
  cmd->add_flag("--vary", o.vary.enabled,
                "Vary counts, resolution, voxel size, TOF, OSEM, post-filter, scatter and randoms "
                "per subject within clinical ranges (recorded per subject)");
  cmd->add_flag("--inverse-crime", args->inverse_crime,
                "Phantom on the output grid and every correction exact (for comparison)");
  // "osem-": train's --set iterations counts training steps. The bare spellings are kept, hidden.
  args->osem_iterations_option =
      cmd->add_option("--osem-iterations", o.osem.iterations, "OSEM iterations")->capture_default_str();
  args->osem_subsets_option =
      cmd->add_option("--osem-subsets", o.osem.subsets, "OSEM subsets")->capture_default_str();
  cmd->add_option("--iterations", args->iterations)->group("");
  cmd->add_option("--subsets", args->subsets)->group("");
  cmd->add_option("--post-filter", o.osem.post_filter_fwhm_mm,
                  "Gaussian post-filter FWHM (mm, 0: none)")
      ->capture_default_str();
  add_threads_option(cmd, o.threads);
  cmd->callback([args] { run_simulate(*args); });
}

}  // namespace unipet::cli
