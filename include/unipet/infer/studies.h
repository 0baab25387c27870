#pragma once
/// Many studies in one run, the way nnU-Net and MONAI users already work: a folder of studies (or
/// a text file listing them) in, a folder of results out. Each study is written as it finishes,
/// studies whose output already exists are skipped (so a killed run resumes), and one failing
/// study is reported while the others still run.
///
///   auto report = unipet::infer::denoise_study(denoiser, "patient01/", "patient01_unipet/");
///   auto jobs = unipet::infer::plan_studies("scans/", "denoised/");
///   auto outcomes = unipet::infer::denoise_studies(denoiser, jobs, {}, std::cerr);
#include <array>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "unipet/infer/denoiser.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"

namespace unipet::infer {

/// How one study is read and written.
struct StudyOptions {
  std::optional<double> suv_factor;  ///< SUV = Bq/ml × factor; overrides DICOM tags and sidecars
  std::optional<double> weight_kg;   ///< body weight (kg) replacing the one of the tags or sidecar
  std::string input_units;           ///< "", "suv" or "bqml": units of an image that records none
  std::string series_uid;            ///< picks a PET series in a DICOM folder with several
  std::string uncertainty;           ///< also write the TTA standard deviation here ("" none)
  io::ReadImageOptions read;
  io::DicomWriteOptions dicom;       ///< labels of a DICOM output; its provenance's command line is recorded
  /// Called with (tiles done, tiles to run) while the study runs.
  std::function<void(int64_t, int64_t)> progress;
};

struct StudyReport {
  std::string input, output;
  std::array<int64_t, 3> size_xyz{};
  Units units = Units::Unknown;  ///< of the input and the output
  double to_model_units = 1;     ///< factor that took the input to the model's units
  int64_t tiles_run = 0, tiles_skipped = 0;
  double seconds = 0;
  std::optional<DrfEstimate> noise;  ///< the scan's noise level, when the model has an estimator
  std::optional<double> blend_alpha;  ///< α applied (pooled over levels), when the model's blend was used
  bool blend_banded = false;          ///< α varied per voxel with the network's level
  /// The blend's step limit k (steps cut at ±k × the step scale; inf: none).
  double blend_step_limit = std::numeric_limits<double>::infinity();
  /// One line when the scan's noise lies outside the DRFs the model was trained on, else "".
  std::string warning;

  /// One line: "IN -> OUT: 192 x 192 x 400, Bq/ml (SUV factor 1.2e-4), 86 tiles (42 background), 2m03s"
  /// (and ", blend alpha 0.62 at effective DRF 4.1" for a calibrated model).
  std::string summary() const;
};

/// Reads `input` (image file or DICOM folder), denoises it and writes `output` in the input's
/// units, geometry and orientation (a DICOM input and a folder output give a DICOM series derived
/// from the input's). Every check (output path, units, SUV factor) happens before the network
/// runs; the uncertainty map is written before the output, so an existing output means a
/// complete study. With a blend, the output is x + α(f − x) and the uncertainty α × the
/// spread. Throws unipet::Error naming the file and the problem.
StudyReport denoise_study(const Denoiser& denoiser, const std::string& input, const std::string& output,
                          const StudyOptions& options = {});

struct StudyJob {
  std::string name;         ///< for messages: the input's file or folder name
  std::string input, output;
  std::string uncertainty;  ///< "" when no uncertainty map is wanted
};

/// True when `input` names several studies: a text file (.txt) listing them, or a folder that
/// holds image files, or several subfolders with PET series in more than one of them. A folder
/// with DICOM files of its own, or one PET series however deeply nested, is a single study.
bool is_study_collection(const std::string& input);

/// One job per study of the collection `input`, written to `output_dir` under the study's name:
/// an image file keeps its extension unless `format` says otherwise ("nii.gz", "nii", "mha",
/// "nrrd", "dicom"; "" keeps each study's own), a DICOM folder gives a DICOM folder. A list file
/// holds one path per line, relative to the list's folder; blank lines and lines starting with
/// '#' are skipped. Uncertainty maps go to `uncertainty_dir` as NAME_uncertainty. A BIDS-named
/// input (sub-01_ses-1_pet.nii.gz) gives BIDS derivative names: sub-01_ses-1_desc-denoised_pet
/// and sub-01_ses-1_desc-uncertainty_pet (an input's own desc entity is replaced). Throws
/// unipet::Error naming the list or folder when it is empty, unreadable, names a missing study,
/// or when two studies would be written to the same output; and naming the output folder when it
/// (or `uncertainty_dir`) is, holds or lies inside an input: `input`, a study, or one of
/// `other_inputs` (the model).
std::vector<StudyJob> plan_studies(const std::string& input, const std::string& output_dir,
                                   const std::string& format = "", const std::string& uncertainty_dir = "",
                                   const std::vector<std::string>& other_inputs = {});

struct StudyOutcome {
  enum class Status { Done, Skipped, Failed };
  StudyJob job;
  Status status = Status::Failed;
  std::string message;  ///< the report's summary, "exists, skipped", or the error
};

/// Runs the jobs in order, each with `options` (their uncertainty path replaced by the job's),
/// with one progress line per study on `log` and one result line per study after it. The output
/// folder is created when missing. A study whose output exists is skipped only when that output
/// reads back as a complete image of the study's size (a 0-byte file, a folder without the
/// series or another image's output is a failure naming it, never overwritten). Never throws for
/// a study's failure; the caller decides the exit code from the outcomes.
std::vector<StudyOutcome> denoise_studies(const Denoiser& denoiser, const std::vector<StudyJob>& jobs,
                                          const StudyOptions& options, std::ostream& log);

}  // namespace unipet::infer
