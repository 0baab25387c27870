#pragma once
/// A denoiser that is never worse than its input: out = x + α·(f(x) − x), x the input, f(x) the
/// network's output. α depends on the input's estimated noise level n (noise_level.h) and, for a
/// blend fitted with intensity bands, on each voxel's level f(x): a clean scan keeps more of
/// itself, a noisy one takes more of the network, and where the network is least trustworthy
/// (at DRF 2, the hottest voxels: a bladder or a lesion whose few-percent error outweighs the
/// input's noise) the input is kept. α is piecewise linear in log2 n between knots and in
/// log2 f between band centres, constant beyond the ends, non-decreasing in n and in [0, 1].
///
///   std::vector<unipet::infer::BlendObservation> obs;      // one per validation image
///   obs.push_back(unipet::infer::blend_observation(x, f, full_dose, body, drf, log2_n));
///   unipet::infer::Blend b = unipet::infer::fit_blend(obs);
///   torch::Tensor out = b.apply(x, f, log2_n);
///
/// The fit minimises the squared error against the full dose y inside the body, per DRF d over
/// that DRF's images pooled: α_d = Σ<f−x, y−x> / Σ<f−x, f−x> (the least-squares step along
/// f − x), clipped to [0, 1], placed at the median estimated log2 n of d's images; then made
/// non-decreasing by pooling adjacent violators (weights Σ<f−x, f−x>), which is the
/// least-squares monotone fit to the same criterion. With bands the same is done per band of
/// f: the bands split the validation voxels at the 50, 90, 99 and 99.9% quantiles of f, so
/// their edges follow the model's units and the data, not a fixed SUV scale.
///
/// A step limit goes further: the network's change to a voxel is cut at k(n)·s on the
/// square-root scale r(v) = sign(v)·√|v|, where Poisson-like noise has about one SD at every
/// level: out = x + α·(r⁻¹(r(x) + clamp(r(f) − r(x), ±k·s)) − x), s the image's step scale (the
/// robust SD of r(f) − r(x), blend_step_scale). A network that removes noise changes a voxel by
/// about the noise; a change of many times that is more often structure lost (a hot organ's edge,
/// a lesion's peak) than noise removed, and at DRF 2 those few voxels outweigh all the noise
/// removed. k is chosen per DRF from kBlendStepLimits (or none) to minimise the same squared
/// error, in the image's units, with α refitted for each candidate, non-decreasing in n (a dynamic
/// programme over the knots), and 1/k is linear in log2 n between knots (none is 1/k = 0).
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace unipet::infer {

/// The fine grid of log2 f on which observations are binned before the fit chooses its bands:
/// 2^-12 to 2^24 in half steps, which covers SUV and Bq/ml alike; values outside go to the end bins.
constexpr double kBlendGridLog2Low = -12, kBlendGridLog2Step = 0.5;
constexpr int kBlendGridBins = 72;

/// The step limits a fit chooses from, in units of the image's step scale; none is the last choice.
constexpr std::array<double, 13> kBlendStepLimits{0.25, 0.35, 0.5, 0.7, 1, 1.4, 2, 2.8, 4, 5.6, 8, 11, 16};
constexpr double kNoStepLimit = std::numeric_limits<double>::infinity();

/// The sums of one step d (f − x, or it limited) against the target t = y − x.
struct BlendSums {
  double numerator = 0;    ///< <d, t>
  double denominator = 0;  ///< <d, d>
  std::vector<double> bin_numerator, bin_denominator;  ///< per bin of log2 f (empty: no bands)
};

/// What one validation image contributes to its DRF's α (sums inside the mask, float64): the
/// totals, and the same sums per bin of log2 f on the fine grid (empty: no bands).
struct BlendObservation {
  double drf = 0;
  double log2_n = 0;       ///< the image's estimated log2 effective DRF
  double numerator = 0;    ///< <f − x, y − x>
  double denominator = 0;  ///< <f − x, f − x>
  std::vector<double> bin_numerator, bin_denominator, bin_count, bin_log2_sum;  ///< kBlendGridBins each
  /// The input's own squared error Σ(y − x)², and the sums of the step limited to each of
  /// kBlendStepLimits × the step scale (empty: the fit has no limit to choose).
  double input_error = 0;
  std::vector<BlendSums> limited;
};

/// The sums of one image: `input` x, `network` f, `full_dose` y, `mask` (bool, or undefined for
/// every voxel), all the same shape. Throws unipet::Error when the shapes differ.
BlendObservation blend_observation(const torch::Tensor& input, const torch::Tensor& network,
                                   const torch::Tensor& full_dose, const torch::Tensor& mask, double drf,
                                   double log2_n);

/// One row of the fitted table.
struct BlendKnot {
  double drf = 0;
  int64_t images = 0;
  double log2_n = 0;     ///< median estimated log2 n of the DRF's images
  double alpha_ls = 0;   ///< Σ<f−x, y−x> / Σ<f−x, f−x>, clipped to [0, 1]
  double alpha = 0;      ///< after the monotone fit: the value used (without bands, or to report)
  std::vector<double> band_alpha_ls, band_alpha;  ///< the same per band (empty: no bands)
  double step_limit = kNoStepLimit;  ///< k: steps beyond ±k × the step scale are cut (inf: none)
};

struct Blend {
  std::vector<BlendKnot> knots;  ///< by increasing log2_n (strictly), alpha non-decreasing
  /// Bands of log2 f: each band's voxel-weighted mean log2 f and upper edge (the last is +inf).
  /// Empty: α depends on n alone (blends calibrated before bands existed, or one band).
  std::vector<double> band_centre_log2, band_upper_log2;

  bool banded() const { return !band_centre_log2.empty(); }
  /// Whether any knot limits the step.
  bool limited() const;
  /// k at a noise level: 1/k linear in log2 n between knots, clamped beyond them (inf: none).
  double step_limit_at(double log2_n) const;
  /// α at a noise level over the whole image (the pooled fit), linear between knots and clamped
  /// beyond them: what a summary line reports.
  double alpha_at(double log2_n) const;
  /// Each band's α at a noise level (empty without bands).
  std::vector<double> band_alpha_at(double log2_n) const;
  /// The α of every voxel of `network` at a noise level: a 0-d tensor without bands.
  torch::Tensor alpha_map(double log2_n, const torch::Tensor& network) const;
  /// x + α(n, f)·(limit_step(x, f, k(n)·s) − x) in float32; without bands or limit exactly
  /// apply_blend(x, f, alpha_at(n)).
  torch::Tensor apply(const torch::Tensor& input, const torch::Tensor& network, double log2_n) const;
  /// "DRF  median n  alpha" table, one knot a line (what `unipet calibrate` and `info` print).
  std::string table() const;
  /// One-line JSON; from_json throws unipet::Error naming `source` on malformed text or knots
  /// that are not increasing, not monotone or outside [0, 1].
  std::string to_json() const;
  static Blend from_json(const std::string& text, const std::string& source);
};

/// Whether fit_blend may choose a step limit (observations without limited sums never get one).
enum class StepLimit { None, Fit };

/// Fits α (and the step limit) per DRF and makes them monotone (see the header comment). Throws
/// unipet::Error when there are no observations.
Blend fit_blend(const std::vector<BlendObservation>& observations, StepLimit limit = StepLimit::Fit);

/// The step scale s of an image: 1.4826 × the median of |r(f) − r(x)| over the voxels where |f|
/// is above 5% of its 99.9th percentile (the body, without a mask: denoise has none), the SD of
/// the step were it Gaussian. 0 when no voxel qualifies.
double blend_step_scale(const torch::Tensor& input, const torch::Tensor& network);
/// r⁻¹(r(x) + clamp(r(f) − r(x), ±bound)) in float32 (float64 for a float64 input); an infinite
/// bound returns `network` itself in that type.
torch::Tensor limit_step(const torch::Tensor& input, const torch::Tensor& network, double bound);

/// x + α·(f − x) in float32; α = 0 returns `input` itself (bit for bit), α = 1 `network`.
torch::Tensor apply_blend(const torch::Tensor& input, const torch::Tensor& network, double alpha);
/// The same with a per-voxel α (broadcast against `input`, values in [0, 1]).
torch::Tensor apply_blend(const torch::Tensor& input, const torch::Tensor& network, const torch::Tensor& alpha);

}  // namespace unipet::infer
