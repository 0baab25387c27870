#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "unipet/io/pet_image.h"

namespace unipet::cli {

namespace {

struct ConvertCliOptions {
  std::string input;
  std::string output;
  io::ConvertOptions convert;
  std::optional<double> suv_factor;  ///< absent: from the DICOM tags or sidecar
  std::optional<double> weight;      ///< absent: from the DICOM tags or sidecar
};

void run_convert(ConvertCliOptions o) {
  o.convert.suv_factor = o.suv_factor;
  o.convert.weight_kg = o.weight;
  std::cout << io::convert_pet(o.input, o.output, o.convert);
}

}  // namespace

void setup_convert(CLI::App& app, int argc, char** argv) {
  auto options = std::make_shared<ConvertCliOptions>();
  options->convert.dicom.provenance.command_line = command_line(argc, argv);
  auto* cmd = app.add_subcommand("convert",
                                 "Convert between NIfTI, MetaImage, NRRD and DICOM series, keeping geometry; "
                                 "optionally to SUV or Bq/ml");
  cmd->add_option("input", options->input, "Image file or DICOM folder")->required();
  cmd->add_option("output", options->output,
                  "Image file (.nii, .nii.gz, .mha, .mhd, .nrrd) or a new folder for a DICOM series")
      ->required();
  cmd->add_option("--to", options->convert.to, "Output units: suv or bqml (default: unchanged)")
      ->check(CLI::IsMember({"suv", "bqml"}, CLI::ignore_case));
  cmd->add_option("--suv-factor", options->suv_factor,
                  "SUV = Bq/ml x factor; overrides the DICOM tags or JSON sidecar");
  cmd->add_option("--weight", options->weight, "Body weight in kg for SUV; overrides the DICOM tags or JSON sidecar");
  cmd->add_option("--series", options->convert.series_uid,
                  "SeriesInstanceUID, for a folder with several PET series");
  cmd->add_option("--series-description", options->convert.dicom.series_description,
                  "SeriesDescription of a DICOM output (always marked unipet)");
  cmd->add_option("--patient-name", options->convert.dicom.patient_name,
                  "PatientName of a standalone DICOM output (non-DICOM input)")
      ->capture_default_str();
  cmd->callback([options] { run_convert(*options); });
}

}  // namespace unipet::cli
