#pragma once
/// A denoiser that is never worse than its input: out = x + α(n)·(f(x) − x), x the input, f(x)
/// the network's output and n the input's estimated noise level (noise_level.h). α is piecewise
/// linear in log2 n between knots, constant beyond the end knots, non-decreasing and in [0, 1]:
/// a clean scan keeps more of itself, a noisy one takes more of the network.
///
///   std::vector<unipet::infer::BlendObservation> obs;      // one per validation image
///   obs.push_back(unipet::infer::blend_observation(x, f, full_dose, body, drf, log2_n));
///   unipet::infer::Blend b = unipet::infer::fit_blend(obs);
///   torch::Tensor out = unipet::infer::apply_blend(x, f, b.alpha_at(log2_n));
///
/// The fit minimises the squared error against the full dose y inside the body, per DRF d over
/// that DRF's images pooled: α_d = Σ<f−x, y−x> / Σ<f−x, f−x> (the least-squares step along
/// f − x), clipped to [0, 1], placed at the median estimated log2 n of d's images; then made
/// non-decreasing by pooling adjacent violators (weights Σ<f−x, f−x>), which is the
/// least-squares monotone fit to the same criterion.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace unipet::infer {

/// What one validation image contributes to its DRF's α (sums inside the mask, float64).
struct BlendObservation {
  double drf = 0;
  double log2_n = 0;       ///< the image's estimated log2 effective DRF
  double numerator = 0;    ///< <f − x, y − x>
  double denominator = 0;  ///< <f − x, f − x>
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
  double alpha = 0;      ///< after the monotone fit: the value used
};

struct Blend {
  std::vector<BlendKnot> knots;  ///< by increasing log2_n (strictly), alpha non-decreasing

  /// α at a noise level, linear between knots and clamped beyond them.
  double alpha_at(double log2_n) const;
  /// "DRF  median n  alpha" table, one knot a line (what `unipet calibrate` and `info` print).
  std::string table() const;
  /// One-line JSON; from_json throws unipet::Error naming `source` on malformed text or knots
  /// that are not increasing, not monotone or outside [0, 1].
  std::string to_json() const;
  static Blend from_json(const std::string& text, const std::string& source);
};

/// Fits α per DRF and makes it monotone (see the header comment). Throws unipet::Error when
/// there are no observations.
Blend fit_blend(const std::vector<BlendObservation>& observations);

/// x + α·(f − x) in float32; α = 0 returns `input` itself (bit for bit), α = 1 `network`.
torch::Tensor apply_blend(const torch::Tensor& input, const torch::Tensor& network, double alpha);

}  // namespace unipet::infer
