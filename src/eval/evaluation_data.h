#pragma once
// Internal to src/eval: what the scoring (evaluation.cpp) and the report (evaluation_report.cpp)
// both need: a subject's images in SUV and each method's prediction for it.
#include <sstream>
#include <string>

#include "unipet/core/volume.h"
#include "unipet/eval/evaluation.h"
#include "unipet/io/dataset.h"

namespace unipet::eval::detail {

/// The evaluation's dataset, with where each method's predictions live.
struct EvaluationData {
  const EvaluationOptions& options;
  io::Dataset dataset;
  std::map<double, double> gaussian_fwhm_mm;  ///< filled before any Gaussian prediction

  /// Path of `method`'s cached prediction (Model) or given prediction (Folder).
  std::string prediction_path(const Method& method, const io::DatasetSubject& subject, double drf) const;
  /// An image of the subject in SUV, checked against the full-dose geometry when `like` is given.
  Volume read_suv(const std::string& path, const io::DatasetSubject& subject, const Volume* like) const;
  Volume full_dose(const io::DatasetSubject& subject) const;
  /// The low-dose image, checked against `full` (the subject's full dose).
  Volume low_dose(const io::DatasetSubject& subject, double drf, const Volume& full) const;
  /// The method's output for (subject, drf) in SUV, from `low` (the low-dose image) for the
  /// baselines, from files for the others; Model predictions must exist already.
  Volume prediction(const Method& method, const io::DatasetSubject& subject, double drf, const Volume& full,
                    const Volume& low) const;
};

using io::drf_text;

/// Methods in report order: the given ones, then the baselines.
std::vector<Method> all_methods(const EvaluationOptions& options);

/// Writes index.html, metrics.csv and summary.md into options.out.
void write_report(const EvaluationData& data, const EvaluationResult& result);

}  // namespace unipet::eval::detail
