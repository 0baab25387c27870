#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/infer/default_model.h"
#include "unipet/infer/studies.h"
#include "unipet/io/pet_image.h"

namespace unipet::cli {

namespace {

struct DenoiseCliOptions {
  std::string input, output, model, uncertainty, format;
  std::string blend = "on";
  infer::DenoiseOptions denoise;
  infer::StudyOptions study;
  std::optional<double> suv_factor;
  std::optional<double> weight;
  bool allow_external_data = false;
};

void run_collection(const DenoiseCliOptions& o, const infer::StudyOptions& study) {
  namespace fs = std::filesystem;
  UNIPET_CHECK(!fs::exists(o.output) || fs::is_directory(o.output),
               o.output << ": is not a folder (a folder of studies is denoised into a folder)");
  const auto jobs = infer::plan_studies(o.input, o.output, o.format, o.uncertainty, {o.model});
  const infer::Denoiser denoiser(o.model, o.denoise);
  const auto outcomes = infer::denoise_studies(denoiser, jobs, study, std::cerr);
  int64_t done = 0, skipped = 0;
  std::string failed;
  for (const auto& outcome : outcomes) {
    if (outcome.status == infer::StudyOutcome::Status::Done) ++done;
    if (outcome.status == infer::StudyOutcome::Status::Skipped) ++skipped;
    if (outcome.status == infer::StudyOutcome::Status::Failed) failed += (failed.empty() ? "" : ", ") + outcome.job.name;
  }
  std::cout << done << " denoised, " << skipped << " already done, "
            << outcomes.size() - static_cast<size_t>(done + skipped) << " failed, of " << outcomes.size()
            << " studies in " << o.input << "\n";
  UNIPET_CHECK(failed.empty(), "studies failed (see the lines above): " << failed);
}

void run_denoise(DenoiseCliOptions o) {
  // Which model ran is said once it ran: printed first, it made every error two lines.
  const bool default_model = o.model.empty();
  if (default_model) o.model = infer::default_model_path();
  struct SayModel {
    const std::string& model;
    bool say;
    ~SayModel() {
      if (say && std::uncaught_exceptions() == 0) std::cerr << "denoise: the default model " << model << "\n";
    }
  } say_model{o.model, default_model};
  apply_compute(o.denoise.compute);
  o.denoise.blend = o.blend == "on";
  o.denoise.window.uncertainty = false;  // per study, from --uncertainty
  infer::StudyOptions study = o.study;
  study.suv_factor = o.suv_factor;
  study.weight_kg = o.weight;
  study.read.allow_external_data = o.allow_external_data;
  UNIPET_CHECK(o.uncertainty.empty() || o.denoise.window.tta,
               "--uncertainty needs --tta (it is the spread over the 8 flips)");
  if (infer::is_study_collection(o.input)) return run_collection(o, study);

  UNIPET_CHECK(o.format.empty(), "--format applies to a folder or list of studies; name the output file instead");
  // Every check that needs no model comes first, so a bad path fails at once.
  io::check_pet_output(o.output, {o.input, o.model});
  if (!o.uncertainty.empty()) io::check_pet_output(o.uncertainty, {o.input, o.output, o.model});
  const infer::Denoiser denoiser(o.model, o.denoise);
  study.uncertainty = o.uncertainty;
  DeferredProgress progress(std::cerr, "denoise tiles");
  study.progress = [&](int64_t done, int64_t total) { progress(done, total); };
  const auto report = infer::denoise_study(denoiser, o.input, o.output, study);
  progress.finish();
  if (!report.warning.empty()) std::cerr << "denoise: warning: " << report.warning << "\n";
  std::cout << report.summary() << "\n";
}

}  // namespace

void setup_denoise(CLI::App& app, int argc, char** argv) {
  auto o = std::make_shared<DenoiseCliOptions>();
  o->study.dicom.provenance.command_line = command_line(argc, argv);
  o->study.dicom.series_description = "unipet denoised";
  auto* cmd = app.add_subcommand(
      "denoise",
      "Denoise whole PET volumes with a UniPET model (any dose level; the DRF is never needed).\n"
      "The network sees SUV clipped to the model's range (0..20 SUV for the reference recipe); the part "
      "of a voxel outside that range (negative values, hot spots above it) is added back to the "
      "network's output, so such voxels pass through. NaN or Inf voxels are refused.");
  cmd->add_option("-i,--input", o->input,
                  "Image file, DICOM folder, a folder of studies, or a .txt file listing studies (one per line)")
      ->required();
  cmd->add_option("-o,--out,--output", o->output,
                  "Image file (.nii.gz, .nii, .mha, .nrrd) or a new folder for a DICOM series; for several "
                  "studies, a folder (studies already there are skipped)")
      ->required();
  cmd->add_option("-m,--model", o->model, "UniPET model file (.safetensors; default: the shipped model, models/unipet-default.safetensors)");
  add_compute_options(cmd, o->denoise.compute);
  add_tiling_options(cmd, o->denoise.window);
  cmd->add_option("--background", o->denoise.window.background,
                  "Tiles whose voxels are all below this fraction of the volume's robust maximum (air) are "
                  "not run and keep their input; 0 runs every tile")
      ->capture_default_str();
  cmd->add_option("--blend", o->blend,
                  "on: a calibrated model (unipet calibrate) returns x + alpha(n) (f(x) - x), alpha chosen by the "
                  "scan's estimated noise level n; off: the network's output f(x). A model without calibration "
                  "gives f(x) either way")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_flag("--tta", o->denoise.window.tta, "Average over the 8 flips of each tile (8x the time)");
  cmd->add_option("--uncertainty", o->uncertainty,
                  "Also write the voxel-wise standard deviation over the 8 flips (needs --tta), same geometry "
                  "and units; a folder when denoising several studies");
  cmd->add_option("--suv-factor", o->suv_factor,
                  "SUV = Bq/ml x factor, for Bq/ml input without DICOM SUV tags or sidecar (overrides them)");
  cmd->add_option("--weight", o->weight,
                  "Body weight in kg for SUV, when the DICOM tags or the JSON sidecar lack it (overrides them)");
  cmd->add_option("--input-units", o->study.input_units, "Units of an image that records none: suv or bqml")
      ->check(CLI::IsMember({"suv", "bqml"}, CLI::ignore_case));
  cmd->add_option("--series", o->study.series_uid, "SeriesInstanceUID, for a DICOM folder with several PET series");
  cmd->add_option("--format", o->format,
                  "Output format for several studies: nii.gz, nii, mha, nrrd or dicom (default: each study's own)");
  cmd->add_option("--series-description", o->study.dicom.series_description, "SeriesDescription of DICOM outputs")
      ->capture_default_str();
  cmd->add_flag("--allow-external-data", o->allow_external_data,
                "Follow MetaImage/NRRD data files outside the header's folder");
  cmd->callback([o] { run_denoise(*o); });
}

}  // namespace unipet::cli
