#pragma once
/// Image-quality metrics as the field computes them (scikit-image conventions), in float64.
///
///   double p = unipet::eval::psnr(full_dose, denoised, 20.0);     // dB, SUV range 0..20
///   double s = unipet::eval::ssim(full_dose, denoised, 20.0);
///   auto body = unipet::body_mask(full_dose);                // eval/body_mask.h
///   double pb = unipet::eval::psnr_in(full_dose, denoised, body, 20.0);
///
/// Inputs: tensors of the same shape whose last three dimensions are [D, H, W] (leading
/// dimensions of size 1 are allowed), any device.
///
/// Masks (the `_in` variants): bool, or a number tensor holding only 0 and 1, with the same
/// [D, H, W]; an undefined tensor (`torch::Tensor()`) means the whole volume. A mask with a
/// different shape, other values, or no voxel set throws unipet::Error.
#include <string>

#include <torch/torch.h>

namespace unipet::eval {

/// 10·log10(data_range² / MSE), as skimage.metrics.peak_signal_noise_ratio. +inf when identical.
double psnr(const torch::Tensor& reference, const torch::Tensor& test, double data_range);

/// ‖reference − test‖₂ / ‖reference‖₂, as skimage.metrics.normalized_root_mse's default
/// ('euclidean'). Throws when the reference is all zero.
double nrmse(const torch::Tensor& reference, const torch::Tensor& test);

struct SsimOptions {
  TORCH_ARG(double, sigma) = 1.5;     ///< Gaussian window sigma (voxels)
  TORCH_ARG(double, truncate) = 3.5;  ///< window radius = int(truncate·sigma + 0.5)
  TORCH_ARG(double, k1) = 0.01;
  TORCH_ARG(double, k2) = 0.03;

 public:  // TORCH_ARG leaves the access private
  /// Window radius in voxels; every side of an image must exceed the window, 2·radius + 1.
  int64_t radius() const { return static_cast<int64_t>(truncate_ * sigma_ + 0.5); }
};

/// Mean structural similarity with a Gaussian window, population covariances, C1 = (k1·R)²,
/// C2 = (k2·R)², averaged over the voxels whose window lies inside the image (the border of one
/// window radius is excluded), as skimage.metrics.structural_similarity(gaussian_weights=True,
/// sigma=1.5, use_sample_covariance=False, data_range=R). Every side must exceed the window.
double ssim(const torch::Tensor& reference, const torch::Tensor& test, double data_range,
            const SsimOptions& options = SsimOptions());

/// psnr with the MSE taken over the mask's voxels only.
double psnr_in(const torch::Tensor& reference, const torch::Tensor& test, const torch::Tensor& mask,
               double data_range);

/// nrmse with both norms taken over the mask's voxels only.
double nrmse_in(const torch::Tensor& reference, const torch::Tensor& test, const torch::Tensor& mask);

/// The SSIM map of `ssim` averaged over the mask voxels that lie in its valid region (one window
/// radius away from every face). Throws when no mask voxel lies there. With an undefined mask this
/// equals `ssim`.
double ssim_in(const torch::Tensor& reference, const torch::Tensor& test, const torch::Tensor& mask,
               double data_range, const SsimOptions& options = SsimOptions());

/// What every metric of one scoring (psnr_in, psnr_ref_max, ssim_in, nrmse_in) needs of a
/// reference and its region, checked once before any of them runs: a reference with a positive
/// maximum (the peak PSNR's range, NRMSE's norm) whose every side exceeds the SSIM window, and a
/// mask (undefined: the whole volume) as the `_in` metrics accept it, with a voxel in SSIM's
/// valid region and a non-zero reference there. Throws unipet::Error whose one line starts with
/// `reference_name` or `mask_name`: what the user typed (a file, an option), not a function.
void check_scorable(const torch::Tensor& reference, const std::string& reference_name, const torch::Tensor& mask,
                    const std::string& mask_name, const SsimOptions& options = SsimOptions());

/// psnr_in with data_range = the maximum of the whole reference volume (not of the masked part),
/// the "PSNR relative to the image peak" many PET papers report. Throws when that maximum is <= 0.
double psnr_ref_max(const torch::Tensor& reference, const torch::Tensor& test,
                    const torch::Tensor& mask = torch::Tensor());

}  // namespace unipet::eval
