#pragma once
/// Per-lesion clinical numbers (SUVmax, SUVmean, SUVpeak) and the derived figures reports quote.
///
///   auto stats = unipet::eval::lesion_stats(denoised, labels);      // one entry per label > 0
///   auto truth = unipet::eval::lesion_stats(full_dose, labels);
///   double bias = unipet::eval::relative_bias(stats[0].suv_max, truth[0].suv_max);
///
/// Values are in the image's units (SUV when the image is in SUV); volumes in ml, distances in mm.
#include <array>
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "unipet/core/volume.h"

namespace unipet::eval {

struct LesionStats {
  int64_t label = 0;                        ///< value in the label volume
  int64_t voxels = 0;                       ///< voxels carrying the label
  double volume_ml = 0;                     ///< voxels × voxel volume
  double suv_max = 0;                       ///< maximum of the image in the lesion
  double suv_mean = 0;                      ///< mean of the image in the lesion
  double suv_peak = 0;                      ///< mean of the image in the peak sphere (see lesion_stats)
  std::array<int64_t, 3> peak_index_dhw{};  ///< the lesion's hottest voxel, the sphere's centre
};

/// Throws unipet::Error, one line starting with `what` (a file or option the user typed), when
/// `labels` is no lesion label image: an invalid volume, a negative value or one that is not a whole
/// number (a probability map or an intensity image given by mistake).
void check_lesion_labels(const Volume& labels, const std::string& what);

/// One LesionStats per distinct positive label, in increasing label order. `labels` holds 0 for
/// background and k for lesion k (whole numbers stored as float32, as the simulator writes them).
/// SUVpeak = mean of the image over every voxel (lesion or not) whose centre lies within
/// distance r = (3·peak_ml·1000 / 4π)^(1/3) mm (6.2 mm for 1 ml) of the centre of the lesion's
/// hottest voxel, distances measured with the physical spacing; sphere voxels outside the
/// volume are left out, so a lesion at the volume's border still has a peak. Of hottest voxels
/// with equal values, the first in [D, H, W] memory order is the centre.
/// Throws unipet::Error when the geometries differ (naming both), labels are negative or not
/// whole, peak_ml is not positive, or either volume is invalid. No positive label: empty result.
std::vector<LesionStats> lesion_stats(const Volume& image, const Volume& labels, double peak_ml = 1.0);

/// (value − reference) / reference. Throws when reference is 0 or either is not finite.
double relative_bias(double value, double reference);
/// The same, but NaN where relative_bias throws: for tables and means over lesions, where a
/// lesion without a usable reference is left out rather than failing the report.
double relative_bias_or_nan(double value, double reference);

/// Contrast recovery ((L/B) − 1) / ((Lt/Bt) − 1): measured lesion-to-background contrast over
/// the true one. Throws when a background is 0 or the true contrast Lt/Bt is 1.
double contrast_recovery(double lesion_mean, double background_mean, double true_lesion_mean,
                         double true_background_mean);

/// Coefficient of variation std / mean of the image in the mask (population std, float64), the
/// noise figure of a uniform region such as the liver. Mask: as in metrics.h (undefined = whole
/// volume). Throws when the mask is empty or the mean is 0.
double region_cov(const torch::Tensor& image, const torch::Tensor& mask);

}  // namespace unipet::eval
