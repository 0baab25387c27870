#include <iostream>
#include <memory>

#include "commands.h"
#include "unipet/core/error.h"
#include "unipet/infer/denoise_request.h"

namespace unipet::cli {

namespace {

struct DenoiseCliOptions {
  infer::DenoiseRequest request;
  std::string blend = "on";
};

void run_denoise(DenoiseCliOptions o) {
  infer::DenoiseRequest& r = o.request;
  r.denoise.blend = o.blend == "on";
  const infer::DenoiseOutcome outcome = infer::run_denoise_request(r, std::cerr);
  if (!outcome.report.warning.empty()) std::cerr << "denoise: warning: " << outcome.report.warning << "\n";
  std::cout << outcome.summary(r.input);
  UNIPET_CHECK(outcome.failed_studies().empty(), "studies failed (see the lines above): " << outcome.failed_studies());
  // Which model ran is said once it ran: printed first, it made every error two lines.
  if (outcome.default_model) std::cerr << "denoise: the default model " << outcome.model << "\n";
}

}  // namespace

void setup_denoise(CLI::App& app, int argc, char** argv) {
  auto o = std::make_shared<DenoiseCliOptions>();
  infer::DenoiseRequest& r = o->request;
  r.study.dicom.provenance.command_line = command_line(argc, argv);
  r.study.dicom.series_description = "unipet denoised";
  auto* cmd = app.add_subcommand(
      "denoise",
      "Denoise whole PET volumes with a UniPET model (any dose level; the DRF is never needed).\n"
      "The network sees SUV clipped to the model's range (0..20 SUV for the reference recipe); the part "
      "of a voxel outside that range (negative values, hot spots above it) is added back to the "
      "network's output, so such voxels pass through. NaN or Inf voxels are refused.");
  cmd->add_option("-i,--input", r.input,
                  "Image file, DICOM folder, a folder of studies, or a .txt file listing studies (one per line)")
      ->required();
  cmd->add_option("-o,--out,--output", r.output,
                  "Image file (.nii.gz, .nii, .mha, .nrrd) or a new folder for a DICOM series; for several "
                  "studies, a folder (studies already there are skipped)")
      ->required();
  cmd->add_option("-m,--model", r.model, "UniPET model file (.safetensors; default: the shipped model, models/unipet-default.safetensors)");
  add_compute_options(cmd, r.denoise.compute);
  add_tiling_options(cmd, r.denoise.window);
  cmd->add_option("--background", r.denoise.window.background,
                  "Tiles whose voxels are all below this fraction of the volume's robust maximum (air) are "
                  "not run and keep their input; 0 runs every tile")
      ->capture_default_str();
  cmd->add_option("--blend", o->blend,
                  "on: a calibrated model (unipet calibrate) returns x + alpha(n) (f(x) - x), alpha chosen by the "
                  "scan's estimated noise level n; off: the network's output f(x). A model without calibration "
                  "gives f(x) either way")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_flag("--tta", r.denoise.window.tta, "Average over the 8 flips of each tile (8x the time)");
  cmd->add_option("--uncertainty", r.uncertainty,
                  "Also write the voxel-wise standard deviation over the 8 flips (needs --tta), same geometry "
                  "and units; a folder when denoising several studies");
  cmd->add_option("--suv-factor", r.study.suv_factor,
                  "SUV = Bq/ml x factor, for Bq/ml input without DICOM SUV tags or sidecar (overrides them)");
  cmd->add_option("--weight", r.study.weight_kg,
                  "Body weight in kg for SUV, when the DICOM tags or the JSON sidecar lack it (overrides them)");
  cmd->add_option("--input-units", r.study.input_units, "Units of an image that records none: suv or bqml")
      ->check(CLI::IsMember({"suv", "bqml"}, CLI::ignore_case));
  cmd->add_option("--series", r.study.series_uid, "SeriesInstanceUID, for a DICOM folder with several PET series");
  cmd->add_option("--format", r.format,
                  "Output format for several studies: nii.gz, nii, mha, nrrd or dicom (default: each study's own)");
  cmd->add_option("--series-description", r.study.dicom.series_description, "SeriesDescription of DICOM outputs")
      ->capture_default_str();
  cmd->add_flag("--allow-external-data", r.study.read.allow_external_data,
                "Follow MetaImage/NRRD data files outside the header's folder");
  cmd->callback([o] { run_denoise(*o); });
}

}  // namespace unipet::cli
