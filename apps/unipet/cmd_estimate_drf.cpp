#include <iostream>
#include <memory>

#include "commands.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/infer/calibration.h"
#include "unipet/infer/default_model.h"

namespace unipet::cli {

namespace {

struct EstimateDrfOptions {
  std::string scan, model, dataset, split = "test";
  infer::ScanNoiseOptions read;
  bool json = false;
  bool allow_external_data = false;
};

void run_estimate_drf(EstimateDrfOptions o) {
  if (o.model.empty()) o.model = infer::default_model_path();
  if (!o.dataset.empty()) {
    UNIPET_CHECK(o.scan.empty(), "give a SCAN or --dataset, not both");
    std::cout << infer::validate_drf_estimator(o.model, o.dataset, o.split, std::cerr);
    return;
  }
  UNIPET_CHECK(!o.scan.empty(), "give a SCAN (image file or DICOM folder), or --dataset to score the estimator");
  o.read.read.allow_external_data = o.allow_external_data;
  const auto noise = infer::estimate_scan_noise(o.scan, o.model, o.read);
  if (o.json) {
    std::cout << noise.to_json(o.scan, o.model, infer::read_calibration(o.model)) << "\n";
  } else {
    std::cout << noise.summary(o.scan) << "\n";
  }
}

}  // namespace

void setup_estimate_drf(CLI::App& app) {
  auto o = std::make_shared<EstimateDrfOptions>();
  auto* cmd = app.add_subcommand(
      "estimate-drf",
      "Estimate a scan's noise level as an effective DRF (the dose reduction at which the calibration data's "
      "typical full-dose study looks this noisy), with a 90% interval, from the image alone. Needs a calibrated "
      "model (unipet calibrate). The estimate does not depend on the image's units, so no SUV factor is needed");
  cmd->add_option("scan", o->scan, "Image file (.nii, .nii.gz, .mha, .mhd, .nrrd) or DICOM folder");
  cmd->add_option("-m,--model", o->model, "Calibrated model file (default: the shipped model)");
  cmd->add_flag("--json", o->json, "Print one JSON object instead of a line");
  cmd->add_option("--series", o->read.series_uid, "SeriesInstanceUID, for a DICOM folder with several PET series");
  cmd->add_flag("--allow-external-data", o->allow_external_data,
                "Follow MetaImage/NRRD data files outside the header's folder");
  cmd->add_option("--dataset", o->dataset,
                  "Instead of a scan: score the estimator on every image of this dataset.json's --split "
                  "(markdown table of errors per DRF)");
  cmd->add_option("--split", o->split, "Split scored with --dataset")->capture_default_str();
  cmd->callback([o] { run_estimate_drf(*o); });
}

}  // namespace unipet::cli
