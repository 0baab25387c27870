#pragma once
/// What `unipet denoise` is asked, as typed, and the rules that make a run of it: the library side
/// of the command, so the CLI only parses and prints.
///
///   unipet::infer::DenoiseRequest r;
///   r.input = "scan.nii.gz"; r.output = "denoised.nii.gz";   // r.model "": the shipped model
///   auto outcome = unipet::infer::run_denoise_request(r, std::cerr);
///   std::cout << outcome.summary();
///
/// The rules: `uncertainty` needs `denoise.window.tta` (it is the spread over the 8 flips); an
/// input that names several studies (is_study_collection) is denoised into the folder `output`,
/// with `format` choosing the outputs' format; one study takes no `format`. Every check that
/// needs no model (options, output paths apart from every input) is made before the model loads.
#include <iosfwd>
#include <string>
#include <vector>

#include "unipet/infer/denoiser.h"
#include "unipet/infer/studies.h"

namespace unipet::infer {

struct DenoiseRequest {
  std::string input;        ///< image file, DICOM folder, folder of studies or .txt list
  std::string output;       ///< image file or DICOM folder; a folder for several studies
  std::string model;        ///< "": the shipped model (default_model_path)
  std::string uncertainty;  ///< "": none; else the TTA standard deviation's file (or folder)
  std::string format;       ///< several studies: nii.gz, nii, mha, nrrd or dicom ("" each study's own)
  DenoiseOptions denoise;   ///< device, precision, window, blend
  StudyOptions study;       ///< SUV, units, series, read and DICOM options (uncertainty and progress are set here)
};

struct DenoiseOutcome {
  std::string model;             ///< the model file that ran
  bool default_model = false;    ///< `model` was the shipped model (the request named none)
  bool collection = false;       ///< several studies: `studies`; one: `report`
  StudyReport report;
  std::vector<StudyOutcome> studies;

  /// What the command prints on stdout: the study's summary line, or "N denoised, M already
  /// done, K failed, of T studies in INPUT".
  std::string summary(const std::string& input) const;
  /// The names of the failed studies, comma separated ("" when none failed).
  std::string failed_studies() const;
};

/// Checks and runs the request, with progress lines on `log`. Throws unipet::Error naming the
/// option or file at fault; a failing study among several is an outcome, not an exception.
DenoiseOutcome run_denoise_request(DenoiseRequest request, std::ostream& log);

}  // namespace unipet::infer
