#pragma once
/// `unipet evaluate`: every method scored the same way, per subject and DRF, on whole volumes in
/// SUV inside the body, with per-lesion clinical numbers; then a report (index.html, metrics.csv,
/// summary.md) in one folder.
///
///   unipet::eval::EvaluationOptions o;
///   o.dataset = "data/dataset.json";
///   o.methods = {unipet::eval::parse_method("UniPET=model.safetensors")};
///   o.baselines = {"lowdose", "gaussian"};
///   o.out = "report";
///   auto result = unipet::eval::run_evaluation(o, std::cerr);
///
/// Model methods are run over every low-dose image of the split with unipet::infer (predictions
/// cached at OUT/predictions/NAME/SUBJECT/drf_K.nii.gz, keyed by method, subject id and DRF and
/// never by the dataset's paths, each component a safe file name, so a re-run computes only
/// what is missing; a ledger there, .unipet-cache.json, records the network's SHA-256 (the file
/// without its calibration keys) and the tile settings with the files made under them and the
/// input of each, and any other file is made again); a folder method holds predictions at the same relative paths as the dataset's
/// low-dose images, or, where such a path climbs out of the folder ("../"), at
/// FOLDER/SUBJECT/drf_K.nii.gz. A calibrated model's NAME row is the network alone and its
/// NAME+blend row the blended output (EvaluationOptions::blend_rows).
#include <cmath>
#include <iosfwd>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "unipet/infer/denoiser.h"

namespace unipet::eval {

struct Method {
  /// Blend: a calibrated model's output blended with its input, out = x + α(n)·(f(x) − x)
  /// (infer/blend.h), made from the Model method `base`'s cached predictions.
  enum class Kind { Model, Folder, LowDose, Gaussian, Blend };
  std::string name;
  std::string path;  ///< model file or predictions folder ("" for the baselines)
  Kind kind = Kind::Model;
  std::string base;  ///< Blend: the name of the Model method it blends
  std::optional<infer::ModelCalibration> calibration;  ///< Blend: the model file's calibration
};

/// "NAME=PATH": a file is a model, a folder holds predictions. Names are letters, digits, '.',
/// '_' and '-', not starting with '.' (they name folders). Throws unipet::Error naming the spec.
Method parse_method(const std::string& spec);

struct EvaluationOptions {
  std::string dataset;                  ///< dataset.json
  std::string split = "test";
  std::vector<Method> methods;          ///< models and prediction folders, in report order
  std::vector<std::string> baselines;   ///< "lowdose", "gaussian" (FWHM tuned per DRF on "val")
  /// A model method whose file has a calibrated blend (unipet calibrate) also gets a row
  /// "NAME+blend" right after its own, which scores the network's output alone.
  bool blend_rows = true;
  std::vector<double> drfs;             ///< empty: every DRF of the dataset
  std::vector<double> trained_drfs;     ///< DRFs seen in training (marked in plots), each > 1; empty: from the models
  std::string out;                      ///< report folder
  double data_range = 20;               ///< PSNR/SSIM data range, SUV
  infer::DenoiseOptions denoise;
  std::vector<std::string> show;        ///< subjects of the split with pictures; empty: the first one
  double show_drf = 0;                  ///< an evaluated DRF for the pictures; 0: the largest evaluated
  std::string command_line;             ///< recorded in the report
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct LesionScore {
  int64_t label = 0;
  double volume_ml = 0;
  double suv_max = kNaN, suv_mean = kNaN, suv_peak = kNaN;     ///< in the method's image
  double full_max = kNaN, full_mean = kNaN, full_peak = kNaN;  ///< in the full-dose image
  double true_max = kNaN, true_mean = kNaN, true_peak = kNaN;  ///< in the true activity (simulated)
  double contrast_recovery = kNaN;  ///< against the truth when known, else against the full dose
};

/// One subject × DRF × method.
struct Score {
  std::string subject;
  double drf = 0;
  std::string method;
  double psnr = kNaN, psnr_ref_max = kNaN, ssim = kNaN, nrmse = kNaN;  ///< in the body mask
  /// PSNR in the body mask with both images clipped to [0, data range], as a network that sees
  /// SUV clipped to that range is scored on its own scale: hot organs above it (a bladder at 60
  /// SUV), which such a network passes through, no longer dominate the error.
  double psnr_clipped = kNaN;
  double liver_cov = kNaN;  ///< when the dataset has a "liver" mask for the subject
  std::vector<LesionScore> lesions;
};

/// The key lesion number of every table: the mean over the score's lesions of the SUVmax's
/// relative bias against the full dose (a fraction; lesions without a usable reference left out,
/// NaN without any).
double mean_lesion_suvmax_bias(const Score& s);

struct EvaluationResult {
  std::vector<Score> scores;
  std::vector<double> drfs;
  std::vector<std::string> subjects;
  std::map<double, double> gaussian_fwhm_mm;  ///< DRF -> chosen FWHM
  std::string gaussian_split;                 ///< split the FWHM was tuned on
  int64_t predictions_run = 0, predictions_cached = 0;
  double denoise_seconds = 0, scoring_seconds = 0;
};

/// Runs the methods, scores everything and writes OUT/index.html, OUT/metrics.csv and
/// OUT/summary.md. Before any prediction runs, throws unipet::Error naming the option at fault
/// for a method name given twice (names differing only in case count as one), a baseline given
/// twice, a DRF of `trained_drfs` not > 1, a `show` subject not in the split, a `show_drf` not
/// evaluated, or a prediction path that would leave OUT/predictions (a symbolic link out) or be
/// shared by two predictions. Later, throws naming the file at fault (a missing prediction, a
/// prediction whose geometry differs from its full-dose image, a blank full dose, a lesion image
/// that holds no labels, ...).
EvaluationResult run_evaluation(const EvaluationOptions& options, std::ostream& log);

/// `unipet evaluate --pred P --ref F`: the scores of one pair as text (PSNR to 3 decimals, SSIM
/// to 4), inside `mask` when given (else the whole volume, and it says so), with per-lesion
/// SUVmax/SUVmean/SUVpeak and their bias when `lesions` is given. Both images must share geometry
/// and units. Every input is checked before any score, each error one line naming the option and
/// file as the user typed them ("--mask m.nii.gz: selects no voxel", "--lesions l.nii.gz: lesion
/// labels must be whole numbers", "--ref f.nii.gz: no voxel is above 0"); throws unipet::Error
/// naming both files when they differ.
std::string score_pair(const std::string& pred, const std::string& ref, const std::string& mask,
                       const std::string& lesions, double data_range);

}  // namespace unipet::eval
