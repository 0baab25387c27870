#pragma once
/// Image-quality metrics as the field computes them (scikit-image conventions), in float64.
///
///   double p = unipet::eval::psnr(full_dose, denoised, 20.0);     // dB, SUV range 0..20
///   double s = unipet::eval::ssim(full_dose, denoised, 20.0);
///
/// Inputs: tensors of the same shape whose last three dimensions are [D, H, W] (leading
/// dimensions of size 1 are allowed), any device.
#include <torch/torch.h>

namespace unipet::eval {

/// 10·log10(data_range² / MSE), as skimage.metrics.peak_signal_noise_ratio. +inf when identical.
double psnr(const torch::Tensor& reference, const torch::Tensor& test, double data_range);

struct SsimOptions {
  TORCH_ARG(double, sigma) = 1.5;      ///< Gaussian window sigma (voxels)
  TORCH_ARG(double, truncate) = 3.5;   ///< window radius = int(truncate·sigma + 0.5)
  TORCH_ARG(double, k1) = 0.01;
  TORCH_ARG(double, k2) = 0.03;
};

/// Mean structural similarity with a Gaussian window, population covariances, C1 = (k1·R)²,
/// C2 = (k2·R)², averaged over the voxels whose window lies inside the image (the border of one
/// window radius is excluded), as skimage.metrics.structural_similarity(gaussian_weights=True,
/// sigma=1.5, use_sample_covariance=False, data_range=R). Every side must exceed the window.
double ssim(const torch::Tensor& reference, const torch::Tensor& test, double data_range,
            const SsimOptions& options = SsimOptions());

}  // namespace unipet::eval
