#pragma once
/// The body outline of a PET volume, the region whole-image metrics are taken over (air around
/// the patient is noise-free in the full dose and would inflate PSNR and SSIM).
///
///   torch::Tensor body = unipet::eval::body_mask(full_dose.data);      // bool [D, H, W]
///   double p = unipet::eval::psnr_in(full_dose.data, denoised.data, body, 20.0);
#include <torch/torch.h>

namespace unipet::eval {

/// Bool mask [D, H, W] (on the input's device) of the voxels inside the body. Exactly:
///  1. the full-dose image is smoothed by a 3×3×3 box mean (borders average the voxels that
///     exist), so that isolated noise specks in the air fall below the threshold;
///  2. robust maximum = the smoothed image's 99.9th percentile (nearest rank), so a few hot
///     voxels (bladder, an artefact) do not set the scale;
///  3. body = smoothed > fraction × robust maximum;
///  4. holes are filled per axial slice (index D): every voxel of a slice that is not connected
///     (4-neighbourhood) to the slice's edge through non-body voxels joins the body, so cold
///     lungs or bowel inside the outline count as body.
/// `full_dose`: a [D, H, W] tensor (leading unit dimensions allowed), any number type.
/// Throws unipet::Error when `fraction` is not in (0, 1) or the robust maximum is not positive.
torch::Tensor body_mask(const torch::Tensor& full_dose, double fraction = 0.05);

}  // namespace unipet::eval
