#pragma once
/// A separable 3D Gaussian filter in physical units: the Gaussian baseline's filter
/// (eval/gaussian_baseline.h) and the noise-level estimator's local mean (infer/noise_level.h).
///
///   unipet::Volume smooth = unipet::gaussian_filter(image, 5.0);   // FWHM 5 mm
#include "unipet/core/volume.h"

namespace unipet {

/// Separable 3D Gaussian of full width at half maximum `fwhm_mm` in physical units: per axis
/// sigma = fwhm / (2·√(2·ln 2)) / spacing (voxels), kernel radius round(3·sigma) voxels, weights
/// normalised to sum 1, borders extended by reflection (a b c | c b a, scipy's 'reflect'), so a
/// constant image stays constant. fwhm 0 returns a copy. Same geometry, float32, same device.
/// Throws unipet::Error on a negative or non-finite fwhm or an invalid image.
Volume gaussian_filter(const Volume& image, double fwhm_mm);

}  // namespace unipet
