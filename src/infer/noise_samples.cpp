#include "unipet/infer/noise_level.h"

#include <ostream>

#include "unipet/core/error.h"
#include "unipet/io/image_io.h"

// The estimator's fit on a dataset's image files (io::read_image), apart from noise_level.cpp so
// that the estimator itself needs no image I/O (unipet::compute).
namespace unipet::infer {

std::vector<DrfSample> drf_samples(const io::Dataset& dataset, const std::string& split,
                                   const NoiseFeatureOptions& options, double reference_counts, std::ostream* log) {
  const auto subjects = dataset.subjects_in_split(split);
  UNIPET_CHECK(!subjects.empty(), dataset.resolve("dataset.json") << ": no subjects in split '" << split << "'");
  if (reference_counts <= 0) reference_counts = median_full_counts(dataset, split);
  std::vector<DrfSample> samples;
  for (const auto* s : subjects) {
    // The effective DRF rescales the nominal one by this subject's counts against the reference.
    const auto counts = s->numbers.find("counts_full");
    const double scale = reference_counts > 0 && counts != s->numbers.end() && counts->second > 0
                             ? reference_counts / counts->second : 1.0;
    std::vector<std::pair<double, std::string>> images{{1.0, s->full_dose}};
    for (const auto& [drf, path] : s->low_dose) images.emplace_back(drf, path);
    for (const auto& [drf, path] : images) {
      const std::string file = dataset.resolve(path);
      samples.push_back({s->id, drf, drf * scale, noise_features(io::read_image(file), options, file)});
    }
    if (log) *log << "noise features: " << s->id << " (" << images.size() << " images)\n";
  }
  return samples;
}

DrfEstimator fit_drf_estimator(const io::Dataset& dataset, const std::string& split, const DrfFitOptions& options,
                               std::ostream* log) {
  const auto samples = drf_samples(dataset, split, options.features, 0, log);
  DrfEstimator e = fit_drf_estimator(samples, options, dataset.resolve("dataset.json"));
  e.reference_counts = median_full_counts(dataset, split);
  e.dataset = dataset.name;
  return e;
}

}  // namespace unipet::infer
