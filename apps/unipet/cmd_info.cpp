#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "unipet/infer/calibration.h"
#include "unipet/io/pet_image.h"
#include "unipet/nn/model_file.h"

namespace unipet::cli {

namespace {

struct InfoOptions {
  std::string path;
  std::string series_uid;
  std::string model;  ///< whose noise-level estimator describes a scan ("" the default model)
  std::optional<double> suv_factor;  ///< absent: from the DICOM tags or sidecar
  std::optional<double> weight;      ///< absent: from the DICOM tags or sidecar
};

bool is_model_file(const std::string& path) {
  const std::string ext = ".safetensors";
  return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
}

void run_info(const InfoOptions& o) {
  if (is_model_file(o.path)) {
    std::cout << nn::describe_model_file(o.path) << infer::read_calibration(o.path).describe();
    return;
  }
  std::cout << io::describe_pet(o.path, o.series_uid, o.suv_factor, {}, o.weight);
  infer::ScanNoiseOptions noise;
  noise.series_uid = o.series_uid;
  std::cout << infer::describe_scan_noise(o.path, o.model, noise);
}

}  // namespace

void setup_info(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  auto* cmd = app.add_subcommand(
      "info", "Print geometry, units, value range, SUV factor and provenance of an image, DICOM folder or model");
  cmd->add_option("path", options->path,
                  "Image (.nii, .nii.gz, .mha, .mhd, .nrrd), DICOM folder or .safetensors")
      ->required();
  cmd->add_option("--series", options->series_uid, "SeriesInstanceUID, for a folder with several PET series");
  cmd->add_option("--suv-factor", options->suv_factor, "SUV factor to report instead of the DICOM tags' one");
  cmd->add_option("-m,--model", options->model,
                  "Calibrated model whose estimator gives a scan's noise level (default: the shipped model, when "
                  "it is calibrated)");
  cmd->add_option("--weight", options->weight, "Body weight in kg for the SUV factor, replacing the recorded one");
  cmd->callback([options] { run_info(*options); });
}

}  // namespace unipet::cli
