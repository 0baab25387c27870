#pragma once
/// The noise level of a PET scan from the image alone: its *effective DRF*, the dose reduction
/// factor at which the calibration data's typical full-dose study would look this noisy.
///
///   auto est = unipet::infer::fit_drf_estimator(dataset, "train");
///   unipet::infer::DrfEstimate e = est.estimate(unipet::io::read_pet("scan.nii.gz").volume);
///   std::cout << e.summary();   // "effective DRF 9.6 (90% interval 5.1 to 18)"
///
/// Features (noise_features), with v the voxel size (geometric mean of the spacings): inside the
/// body outline (body_mask, core/body_mask.h), shrunk by 2 voxels so the skin edge does not count, the
/// median of b_k² / m over voxels for band-pass images b_k = G(s_k) x − G(s_{k+1}) x (G: Gaussian
/// of FWHM s_k = bands_voxels[k]·v, G(0) = identity) and m = G(mean_voxels·v) x, divided by the
/// image's total Σ max(x, 0), in log2; and log2 of the voxel volume. Why this is a noise level:
///  - PET noise variance is proportional to the local mean over the counts behind it, so b²/m
///    is ∝ 1 / (counts per voxel per unit of image value); dividing by the image's total turns
///    "per unit of image value" into "of the whole study": the feature is ∝ 1/N, N the study's
///    counts, whatever the units (Bq/ml, SUV, scaled) or the patient's weight. The estimate is
///    therefore exactly invariant to a scale factor on the image.
///  - the median ignores the few voxels at organ edges and lesions, where b² is structure;
///  - several bands let the fit separate the noise amplitude from its correlation length (a
///    5 mm post-filter moves noise energy from the finest band to the next; resolution and TOF
///    change it again), which one high-pass energy cannot;
///  - bands in voxels, not mm, keep the finest band meaningful on any grid (a 5 mm Gaussian on
///    10 mm voxels is the identity to float precision); how the energies then depend on the
///    voxel size is what the voxel-volume feature lets the fit learn.
/// The estimator is a linear regression of log2(effective DRF) on these features over the
/// calibration images; its residual SD gives the interval.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "unipet/core/volume.h"
#include "unipet/io/dataset.h"

namespace unipet::infer {

/// How the features are computed; saved with the estimator, so a fit and its use agree.
struct NoiseFeatureOptions {
  /// The defaults below. Out of line: GCC 12 reports a false -Wdangling-pointer where the default
  /// band list's initializer_list is inlined.
  NoiseFeatureOptions();
  /// Band edges, FWHM in voxels: band k lies between bands_voxels[k] and [k+1] (0: no smoothing).
  /// At the benchmark's 4 mm voxels: 0, 5, 10 and 20 mm.
  std::vector<double> bands_voxels;
  double mean_voxels = 5.0;     ///< FWHM (voxels) of the local mean the energies are normalised by
  double mean_floor = 0.2;      ///< voxels whose local mean is below this × the body's median are left out
  int64_t erode_voxels = 2;     ///< the body outline is shrunk by this many voxels
  void validate() const;        ///< throws unipet::Error naming the bad field
};

/// log2 of the normalised band energies of `image` (any units; [D, H, W] with its spacing), one
/// per band, then log2 of the voxel volume in ml. Throws unipet::Error naming `source` when the image has no body or no usable voxels.
std::vector<double> noise_features(const Volume& image, const NoiseFeatureOptions& options,
                                   const std::string& source = "image");

/// An estimate of the effective DRF, with a 90% prediction interval.
struct DrfEstimate {
  double log2_drf = 0;  ///< the regression's prediction
  double log2_sd = 0;   ///< its residual SD (log2 units)
  double drf() const;   ///< 2^log2_drf
  double low() const;   ///< 2^(log2_drf − 1.645 sd)
  double high() const;  ///< 2^(log2_drf + 1.645 sd)
  /// "effective DRF 9.6 (90% interval 5.1 to 18)".
  std::string summary() const;
  /// {"drf": .., "low": .., "high": .., "log2_drf": .., "log2_sd": ..} on one line.
  std::string to_json() const;
};

/// A fitted noise-level estimator, stored in model files (see calibration.h).
struct DrfEstimator {
  NoiseFeatureOptions features;
  std::vector<double> coefficients;  ///< intercept, then one per feature
  double residual_sd = 0;            ///< log2 units
  double reference_counts = 0;       ///< N_ref: median full-dose counts of the calibration subjects (0: unknown)
  int64_t images = 0;                ///< images the fit used
  std::string dataset;               ///< the calibration dataset's name

  /// Estimate for one image (any units, see the header comment).
  DrfEstimate estimate(const Volume& image, const std::string& source = "image") const;
  DrfEstimate estimate_from_features(const std::vector<double>& features) const;

  /// One-line JSON; from_json throws unipet::Error naming `source` on anything malformed.
  std::string to_json() const;
  static DrfEstimator from_json(const std::string& text, const std::string& source);
};

/// One calibration or validation image: what the estimator sees and what the truth is.
struct DrfSample {
  std::string subject;
  double drf = 1;            ///< nominal (1 for the full dose)
  double effective_drf = 1;  ///< drf × N_ref / N_subject (nominal when the counts are unknown)
  std::vector<double> features;
};

/// The median full-dose counts ("counts_full") of the split's subjects: the reference effective
/// DRFs are measured against. 0 when any subject lacks them (real data).
double median_full_counts(const io::Dataset& dataset, const std::string& split);

/// Features of every image (full dose as DRF 1, and each low dose) of the split's subjects.
/// `reference_counts` 0: the median "counts_full" of these subjects (nominal DRFs when a subject
/// lacks it). Progress lines go to `log` when given. Reads the images with io::read_image: in
/// unipet::core only, as is the fit on a dataset below.
std::vector<DrfSample> drf_samples(const io::Dataset& dataset, const std::string& split,
                                   const NoiseFeatureOptions& options, double reference_counts = 0,
                                   std::ostream* log = nullptr);

struct DrfFitOptions {
  NoiseFeatureOptions features;
  double ridge = 1e-3;  ///< penalty on the (centred) slopes, per image; keeps tiny fits solvable
};

/// Fits the estimator on every image of the split (see drf_samples). Throws unipet::Error naming
/// the dataset when the split has fewer images than the fit has coefficients + 2.
DrfEstimator fit_drf_estimator(const io::Dataset& dataset, const std::string& split,
                               const DrfFitOptions& options = {}, std::ostream* log = nullptr);
/// The regression itself, on samples already computed.
DrfEstimator fit_drf_estimator(const std::vector<DrfSample>& samples, const DrfFitOptions& options,
                               const std::string& source);

/// The estimator scored on held-out images: per nominal DRF, the median and 90th percentile of
/// |log2 estimate − log2 truth| against the effective and the nominal DRF, and the interval's
/// coverage of the effective DRF; as a markdown table with an "all" row.
std::string drf_validation_table(const DrfEstimator& estimator, const std::vector<DrfSample>& samples);

}  // namespace unipet::infer
