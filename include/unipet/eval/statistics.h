#pragma once
/// Confidence intervals over subjects for the numbers a report compares (PSNR per subject,
/// SUVmax bias per lesion, ...): percentile bootstrap, deterministic for a seed.
///
///   auto psnr = unipet::eval::bootstrap_mean(psnr_per_subject);          // {mean, low, high, n}
///   auto gain = unipet::eval::paired_difference(psnr_denoised, psnr_low_dose);
///
/// Non-finite values (NaN, ±inf — e.g. the +inf PSNR of two identical volumes) have no place in
/// a mean: they are left out (for paired samples, the whole pair), and `n` says how many values
/// were used. Nothing finite left throws unipet::Error.
#include <cstdint>
#include <vector>

namespace unipet::eval {

struct Interval {
  double mean = 0;  ///< mean of the finite values
  double low = 0;   ///< lower bound of the interval
  double high = 0;  ///< upper bound of the interval
  int64_t n = 0;    ///< values (or pairs) used
};

/// Mean of the finite values (NaN, ±Inf left out); NaN when there is none. The tables' mean over
/// a subject's lesions, where a lesion without a usable reference counts as absent.
double mean_of_finite(const std::vector<double>& values);

/// Mean and percentile-bootstrap interval: `resamples` resamples of the n finite values, drawn
/// with replacement by std::mt19937_64(seed); low/high are the (1 − level)/2 and (1 + level)/2
/// quantiles (linear interpolation, as numpy.quantile) of the resampled means. n = 1 gives
/// low = high = mean. Throws on no finite value, resamples < 1 or level outside (0, 1).
Interval bootstrap_mean(const std::vector<double>& values, uint64_t seed = 1, int64_t resamples = 2000,
                        double level = 0.95);

/// Mean of a − b over pairs (a[i], b[i]) with the bootstrap_mean interval of the differences.
/// Throws unipet::Error when the lengths differ, and as bootstrap_mean.
Interval paired_difference(const std::vector<double>& a, const std::vector<double>& b, uint64_t seed = 1,
                           int64_t resamples = 2000, double level = 0.95);

}  // namespace unipet::eval
