#pragma once
/// Many studies in one run, the way nnU-Net and MONAI users already work: a folder of studies (or
/// a text file listing them) in, a folder of results out. Each study is written as it finishes,
/// studies whose output already exists are skipped (so a killed run resumes), and one failing
/// study is reported while the others still run.
///
///   auto jobs = unipet::infer::plan_studies("scans/", "denoised/");
///   auto outcomes = unipet::infer::denoise_studies(denoiser, jobs, {}, std::cerr);
#include <iosfwd>
#include <string>
#include <vector>

#include "unipet/infer/denoiser.h"

namespace unipet::infer {

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
